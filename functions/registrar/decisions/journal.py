"""The DynamoDB adapter for staged decisions: a write's ``Registrar Decision`` kept until it is published.

A decision is staged (PutItem) just before its UpdateModelPackage and cleared (DeleteItem) once its
event is published, so a failure between the write and the publish leaves a record that the next
handling of the same version finds and publishes (:class:`registrar.decisions.announce.Announcer`).

The table is the one Powertools Idempotency uses (partition key ``id``, a string); an item has the id
``decision#<model package ARN>``, so it never collides with an idempotency record or the watermark,
and an ``expiration`` (epoch seconds) the table's TTL removes it by, long after any retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from registrar import aws
from registrar.decisions.contract import DecisionDetail

if TYPE_CHECKING:
    pass

ID_PREFIX = "decision#"
KEY_ATTRIBUTE = "id"
RETENTION_SECONDS = 14 * 24 * 3600  # past SQS's longest retention: a record outlives every redelivery


@dataclass(frozen=True)
class StagedDecision:
    """A decision whose write was about to be made, and whose event is not known to be published.

    Attributes
    ----------
    detail
        The event to publish once the write is known to have landed.
    request
        The UpdateModelPackage request (API member names): planned again against the version, it is
        empty once the write has landed.
    deadline
        Until when the invocation that staged it may still be running (and publish it itself).
    """

    detail: DecisionDetail
    request: dict[str, Any]
    deadline: datetime


class Journal(Protocol):
    """Where staged decisions are kept (:class:`DecisionJournal`, or :class:`MemoryJournal` in tests)."""

    def stage(self, staged: StagedDecision, *, now: datetime) -> bool:
        """Keep ``staged`` for its version unless another decision's claim on it lasts past ``now``.

        Returns ``False`` (nothing kept) while another writer may still be writing the version: the
        staged item is also the version's lock, so two of registrar's writers never write it at once.
        """
        ...

    def pending(self, model_package_arn: str) -> StagedDecision | None:
        """The version's staged decision, if any."""
        ...

    def clear(self, model_package_arn: str, decision_id: str) -> None:
        """Forget the version's staged decision if it is still ``decision_id`` (a newer one stays)."""
        ...

    def release(self, model_package_arn: str, decision_id: str, at: datetime) -> None:
        """Move the staged decision's deadline to ``at``: its writer gave up, the next handler may take it over."""
        ...


class MemoryJournal:
    """A journal in memory: for tests and for a process that stages and publishes in one go."""

    def __init__(self) -> None:
        self.items: dict[str, StagedDecision] = {}

    def stage(self, staged: StagedDecision, *, now: datetime) -> bool:
        held = self.items.get(staged.detail.model_package_arn)
        if held is not None and held.deadline > now:
            return False
        self.items[staged.detail.model_package_arn] = staged
        return True

    def pending(self, model_package_arn: str) -> StagedDecision | None:
        return self.items.get(model_package_arn)

    def clear(self, model_package_arn: str, decision_id: str) -> None:
        staged = self.items.get(model_package_arn)
        if staged is not None and staged.detail.decision_id == decision_id:
            del self.items[model_package_arn]

    def release(self, model_package_arn: str, decision_id: str, at: datetime) -> None:
        staged = self.items.get(model_package_arn)
        if staged is not None and staged.detail.decision_id == decision_id:
            self.items[model_package_arn] = StagedDecision(detail=staged.detail, request=staged.request, deadline=at)


class DecisionJournal(aws.DynamoDBTable):
    """Staged decisions in the idempotency table.

    Parameters
    ----------
    table_name
        The table (partition key ``id``, string).
    client
        A botocore ``dynamodb`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    """

    def stage(self, staged: StagedDecision, *, now: datetime) -> bool:
        try:
            self._put(staged, now)
        except Exception as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _put(self, staged: StagedDecision, now: datetime) -> None:
        detail = staged.detail
        self.client.put_item(
            TableName=self.table_name,
            ConditionExpression="attribute_not_exists(id) OR deadline <= :now",
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            Item={
                KEY_ATTRIBUTE: {"S": ID_PREFIX + detail.model_package_arn},
                "decision_id": {"S": detail.decision_id},
                "detail": {"S": json.dumps(detail.to_json(), separators=(",", ":"))},
                "request": {"S": json.dumps(staged.request, separators=(",", ":"), default=str)},
                "deadline": {"N": str(int(staged.deadline.timestamp()) + 1)},
                "expiration": {"N": str(int(staged.deadline.timestamp()) + RETENTION_SECONDS)},
            },
        )

    def pending(self, model_package_arn: str) -> StagedDecision | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={KEY_ATTRIBUTE: {"S": ID_PREFIX + model_package_arn}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return StagedDecision(
            detail=DecisionDetail.model_validate_json(item["detail"]["S"]),
            request=json.loads(item["request"]["S"]),
            deadline=datetime.fromtimestamp(int(item["deadline"]["N"]), tz=UTC),
        )

    def release(self, model_package_arn: str, decision_id: str, at: datetime) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": ID_PREFIX + model_package_arn}},
                UpdateExpression="SET deadline = :at",
                ConditionExpression="decision_id = :decision",
                ExpressionAttributeValues={":at": {"N": str(int(at.timestamp()))}, ":decision": {"S": decision_id}},
            )
        except Exception as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise

    def clear(self, model_package_arn: str, decision_id: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": ID_PREFIX + model_package_arn}},
                ConditionExpression="decision_id = :decision",
                ExpressionAttributeValues={":decision": {"S": decision_id}},
            )
        except Exception as error:
            # Another decision was staged for the version since: it is that one's to clear.
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
