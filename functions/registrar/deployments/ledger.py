"""The endpoint's last served set: which versions registrar recorded as live on it, kept in the state table.

An endpoint update that replaces a version leaves nothing on SageMaker's side that names the version it
replaced (DescribeEndpoint names the new configuration only, and the old one may be deleted), and finding
the versions whose metadata names the endpoint would take a ListModelPackages and a DescribeModelPackage
per version of every managed group. So the flow keeps, per endpoint, the versions it last recorded as
live: after an update, those no longer served are the ones to retire (docs/decisions.md).

The item lives in the table Powertools Idempotency uses (partition key ``id``, a string), under the id
``deployment#<endpoint ARN>``, so it never collides with an idempotency record, a staged decision or the
sweeper's watermark. It has no ``expiration``: an endpoint may serve for years. It is written after the
records, so a failure in between leaves the previous set, and the next handling retires from it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from registrar import aws

if TYPE_CHECKING:
    pass

ID_PREFIX = "deployment#"
KEY_ATTRIBUTE = "id"


@dataclass(frozen=True)
class ServedSet:
    """What an endpoint served when registrar last recorded it.

    Attributes
    ----------
    versions
        The model package version ARNs recorded as live on it.
    modified
        The endpoint's ``LastModifiedTime`` (ISO-8601 UTC) when that was read.
    endpoint_config
        The endpoint configuration it served them from.
    """

    versions: frozenset[str] = field(default_factory=frozenset)
    modified: str = ""
    endpoint_config: str = ""


class Ledger(Protocol):
    """Where each endpoint's last served set is kept (:class:`DeploymentLedger`, or :class:`MemoryLedger`)."""

    def served(self, endpoint_arn: str) -> ServedSet | None:
        """The endpoint's last served set, or ``None`` when registrar never recorded it."""
        ...

    def remember(self, endpoint_arn: str, served: ServedSet) -> None:
        """Keep ``served`` for the endpoint, unless a set read at a later ``modified`` time is kept already."""
        ...


class MemoryLedger:
    """A ledger in memory: for tests and for a process that handles every event of an endpoint itself."""

    def __init__(self) -> None:
        self.items: dict[str, ServedSet] = {}

    def served(self, endpoint_arn: str) -> ServedSet | None:
        return self.items.get(endpoint_arn)

    def remember(self, endpoint_arn: str, served: ServedSet) -> None:
        kept = self.items.get(endpoint_arn)
        if kept is None or kept.modified <= served.modified:
            self.items[endpoint_arn] = served


class DeploymentLedger(aws.DynamoDBTable):
    """Served sets in the state table.

    Parameters
    ----------
    table_name
        The table (partition key ``id``, string).
    client
        A botocore ``dynamodb`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    """

    def served(self, endpoint_arn: str) -> ServedSet | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={KEY_ATTRIBUTE: {"S": ID_PREFIX + endpoint_arn}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return ServedSet(
            versions=frozenset(json.loads(item["versions"]["S"])),
            modified=item.get("modified", {}).get("S", ""),
            endpoint_config=item.get("endpoint_config", {}).get("S", ""),
        )

    def remember(self, endpoint_arn: str, served: ServedSet) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    KEY_ATTRIBUTE: {"S": ID_PREFIX + endpoint_arn},
                    "versions": {"S": json.dumps(sorted(served.versions), separators=(",", ":"))},
                    "modified": {"S": served.modified},
                    "endpoint_config": {"S": served.endpoint_config},
                },
                # ISO-8601 UTC times of one format compare as text: a slower handler of an older state never
                # overwrites what a newer one kept.
                ConditionExpression="attribute_not_exists(#id) OR #modified <= :modified",
                ExpressionAttributeNames={"#id": KEY_ATTRIBUTE, "#modified": "modified"},
                ExpressionAttributeValues={":modified": {"S": served.modified}},
            )
        except Exception as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise


def stamp(moment: datetime | None) -> str:
    """A served set's ``modified``: ISO-8601 UTC to the microsecond, ``""`` when unknown."""
    from registrar.events import utc

    instant = utc(moment)
    return instant.isoformat(timespec="microseconds") if instant is not None else ""
