"""The DynamoDB adapter for the sweeper's watermark: where the last sweep of compilation jobs ended.

The table is the one Powertools Idempotency uses (partition key ``id``, a string); the watermark's
item has the id ``watermark#<key>`` so it can never collide with an idempotency record, and has no
``expiration`` attribute, so the table's TTL never removes it. The time is stored as whole epoch
microseconds (a number, compared numerically) and as ISO-8601 text for people reading the table.

The watermark only moves forward: the write is conditional (``attribute_not_exists(id) OR
#watermark < :new``), so two overlapping sweeps cannot move it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registrar import aws

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_KEY = "sweeper#compilation-jobs"
ID_PREFIX = "watermark#"
KEY_ATTRIBUTE = "id"
TIME_ATTRIBUTE = "watermark"
TEXT_ATTRIBUTE = "watermark_iso"


def _utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC: every time registrar handles comes from AWS, in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _micros(moment: datetime) -> int:
    delta = _utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(micros: int) -> datetime:
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest)


class Watermark:
    """The sweeper's watermark, kept in DynamoDB.

    Parameters
    ----------
    table_name
        The table (partition key ``id``, string), shared with Powertools Idempotency.
    client
        A botocore ``dynamodb`` client; by default the process-wide one, created on first use.
    key
        Which watermark (one per sweeper); stored under the id ``watermark#<key>``.
    endpoint_url, region
        Used only to build the default client.
    """

    def __init__(
        self,
        table_name: str,
        client: BaseClient | None = None,
        *,
        key: str = DEFAULT_KEY,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.item_id = ID_PREFIX + key
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("dynamodb", self._endpoint_url, self._region)
        return self._client

    def get(self) -> datetime | None:
        """The watermark (UTC), or ``None`` before the first sweep stored one. Read consistently."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": self.item_id}},
            ConsistentRead=True,
            ProjectionExpression="#t",
            ExpressionAttributeNames={"#t": TIME_ATTRIBUTE},
        )
        value = (response.get("Item") or {}).get(TIME_ATTRIBUTE, {}).get("N")
        return _from_micros(int(value)) if value is not None else None

    def advance(self, to: datetime) -> None:
        """Move the watermark forward to ``to``; a value not after the stored one changes nothing.

        Parameters
        ----------
        to
            The new watermark (a naive time is taken as UTC).
        """
        micros = _micros(to)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    KEY_ATTRIBUTE: {"S": self.item_id},
                    TIME_ATTRIBUTE: {"N": str(micros)},
                    TEXT_ATTRIBUTE: {"S": _from_micros(micros).isoformat()},
                },
                ConditionExpression=f"attribute_not_exists({KEY_ATTRIBUTE}) OR #t < :new",
                ExpressionAttributeNames={"#t": TIME_ATTRIBUTE},
                ExpressionAttributeValues={":new": {"N": str(micros)}},
            )
        except Exception as error:
            code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
            if code != "ConditionalCheckFailedException":  # already at or past ``to``: nothing to do
                raise


class MemoryWatermark:
    """A watermark held in memory: the CLI without a table, and tests.

    Parameters
    ----------
    initial
        The starting watermark, or ``None``.
    """

    def __init__(self, initial: datetime | None = None) -> None:
        self._value = _utc(initial) if initial is not None else None

    def get(self) -> datetime | None:
        """The watermark, or ``None``."""
        return self._value

    def advance(self, to: datetime) -> None:
        """Move the watermark forward to ``to``; an earlier or equal value changes nothing."""
        moment = _utc(to)
        if self._value is None or moment > self._value:
            self._value = moment
