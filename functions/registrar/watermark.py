"""The DynamoDB adapter for the sweeper's watermark: where the last sweep of compilation jobs ended.

The table is the one Powertools Idempotency uses (partition key ``id``, a string); the watermark's
item has the id ``watermark#<key>`` so it can never collide with an idempotency record, and has no
``expiration`` attribute, so the table's TTL never removes it. The time is stored as whole epoch
microseconds (a number, compared numerically) and as ISO-8601 text for people reading the table.

Next to the time, the item keeps ``announced``: a map of compilation job name -> ``LastModifiedTime``
(epoch microseconds) of the jobs already announced inside the sweeper's overlap window, so the next
sweep does not announce them again. The sweeper prunes it on every write; the stores also keep at
most :data:`MAX_ANNOUNCED` entries (the newest), which bounds the item far below DynamoDB's 400 KB
(a job name is at most 63 characters: about 75 bytes an entry, 75 KB at the bound).

The time only moves forward: the write is conditional (``attribute_not_exists(id) OR #watermark <=
:new``), so two overlapping sweeps cannot move it back; an equal time may still replace ``announced``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
ANNOUNCED_ATTRIBUTE = "announced"
MAX_ANNOUNCED = 1_000


def _utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC: every time registrar handles comes from AWS, in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_micros(moment: datetime) -> int:
    """Whole epoch microseconds of ``moment`` (a naive time is taken as UTC)."""
    delta = _utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC time of whole epoch microseconds."""
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest)


def newest(announced: Mapping[str, int], limit: int = MAX_ANNOUNCED) -> dict[str, int]:
    """At most ``limit`` entries of ``announced``: the latest ``LastModifiedTime`` first (then by name)."""
    if len(announced) <= limit:
        return dict(announced)
    kept = sorted(announced.items(), key=lambda entry: (-entry[1], entry[0]))[: max(limit, 0)]
    return dict(kept)


@dataclass(frozen=True)
class WatermarkState:
    """What a watermark store holds.

    Attributes
    ----------
    time
        Where the last sweep ended (UTC).
    announced
        Compilation job name -> ``LastModifiedTime`` (epoch microseconds) of the jobs already
        announced inside the overlap window before ``time``.
    """

    time: datetime
    announced: Mapping[str, int] = field(default_factory=dict)


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

    def get(self) -> WatermarkState | None:
        """The watermark (UTC) and the jobs announced, or ``None`` before the first sweep stored one.

        Read consistently. An entry of ``announced`` that is not a number is ignored (that job may be
        announced once more).
        """
        response = self.client.get_item(
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": self.item_id}},
            ConsistentRead=True,
            ProjectionExpression="#t, #a",
            ExpressionAttributeNames={"#t": TIME_ATTRIBUTE, "#a": ANNOUNCED_ATTRIBUTE},
        )
        item = response.get("Item") or {}
        value = item.get(TIME_ATTRIBUTE, {}).get("N")
        if value is None:
            return None
        stored = item.get(ANNOUNCED_ATTRIBUTE, {}).get("M", {})
        announced = {name: int(entry["N"]) for name, entry in stored.items() if "N" in entry}
        return WatermarkState(time=from_micros(int(value)), announced=announced)

    def advance(self, to: datetime, announced: Mapping[str, int] | None = None) -> None:
        """Move the watermark forward to ``to`` and replace the jobs announced.

        A time before the stored one changes nothing; an equal time replaces ``announced`` only.

        Parameters
        ----------
        to
            The new watermark (a naive time is taken as UTC).
        announced
            Job name -> ``LastModifiedTime`` (epoch microseconds); replaces the stored map. At most
            :data:`MAX_ANNOUNCED` entries are kept, the newest. ``None`` stores none.
        """
        micros = to_micros(to)
        item: dict[str, Any] = {
            KEY_ATTRIBUTE: {"S": self.item_id},
            TIME_ATTRIBUTE: {"N": str(micros)},
            TEXT_ATTRIBUTE: {"S": from_micros(micros).isoformat()},
        }
        kept = newest(announced or {})
        if kept:
            item[ANNOUNCED_ATTRIBUTE] = {"M": {name: {"N": str(value)} for name, value in sorted(kept.items())}}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=f"attribute_not_exists({KEY_ATTRIBUTE}) OR #t <= :new",
                ExpressionAttributeNames={"#t": TIME_ATTRIBUTE},
                ExpressionAttributeValues={":new": {"N": str(micros)}},
            )
        except Exception as error:
            code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
            if code != "ConditionalCheckFailedException":  # already past ``to``: nothing to do
                raise


class MemoryWatermark:
    """A watermark held in memory: the CLI without a table, and tests.

    Parameters
    ----------
    initial
        The starting watermark, or ``None``.
    announced
        The jobs already announced (job name -> ``LastModifiedTime`` in epoch microseconds); only
        kept with an ``initial`` time.
    """

    def __init__(self, initial: datetime | None = None, announced: Mapping[str, int] | None = None) -> None:
        self._value = _utc(initial) if initial is not None else None
        self._announced = newest(announced or {}) if initial is not None else {}

    def get(self) -> WatermarkState | None:
        """The watermark and the jobs announced (a copy), or ``None``."""
        if self._value is None:
            return None
        return WatermarkState(time=self._value, announced=dict(self._announced))

    def advance(self, to: datetime, announced: Mapping[str, int] | None = None) -> None:
        """As :meth:`Watermark.advance`: forward only; an equal time replaces ``announced`` only."""
        moment = _utc(to)
        if self._value is None or moment >= self._value:
            self._value = moment
            self._announced = newest(announced or {})
