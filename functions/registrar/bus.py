"""The EventBridge adapter: the only module that calls ``events:PutEvents``.

It publishes registrar's own ``Compilation Job State Change`` events (source ``registrar``; see
docs/events.md). PutEvents takes at most 10 entries per call and can accept some entries of a call
while failing others (``FailedEntryCount``); the failed entries alone are sent again, and an entry
that still fails is an error, never dropped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from registrar import aws
from registrar.errors import RegistrarError
from registrar.events import COMPILATION_JOB_STATE_CHANGE, REGISTRAR_SOURCE, CompilationJobStateChange

if TYPE_CHECKING:
    from botocore.client import BaseClient

MAX_ENTRIES_PER_CALL = 10
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = 0.2
# Entry errors a retry cannot fix: the request itself is wrong or not allowed.
PERMANENT_ERRORS = frozenset(
    {"NotAuthorizedForSourceException", "AccessDeniedException", "MalformedDetail", "InvalidArgument"}
)


class PublishError(RegistrarError):
    """PutEvents refused some entries after every retry; the sweep stops before moving its watermark.

    Parameters
    ----------
    failures
        ``(job name, error code, error message)`` of each entry that was not published.
    """

    def __init__(self, failures: list[tuple[str, str, str]]) -> None:
        self.failures = failures
        shown = "; ".join(f"{name}: {code} {message}".strip() for name, code, message in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"EventBridge refused {len(failures)} event(s): {shown}{more}")


def entry(detail: CompilationJobStateChange, bus_name: str = "default") -> dict[str, Any]:
    """The PutEvents entry of one ``Compilation Job State Change`` (as ``aws events put-events`` takes it)."""
    result: dict[str, Any] = {
        "Source": REGISTRAR_SOURCE,
        "DetailType": COMPILATION_JOB_STATE_CHANGE,
        "Detail": json.dumps(detail.model_dump(mode="json", exclude_none=True), separators=(",", ":")),
        "EventBusName": bus_name,
    }
    if detail.CompilationJobArn:
        result["Resources"] = [detail.CompilationJobArn]
    return result


class EventBus:
    """An EventBridge bus registrar publishes its own events on.

    Parameters
    ----------
    bus_name
        The bus name or ARN (``default`` unless configured).
    client
        A botocore ``events`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    max_attempts
        Calls per entry before giving up (the first call included).
    sleep
        Waits between attempts; tests pass a no-op.
    """

    def __init__(
        self,
        bus_name: str = "default",
        client: BaseClient | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bus_name = bus_name
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region
        self._max_attempts = max(1, max_attempts)
        self._sleep = sleep

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("events", self._endpoint_url, self._region)
        return self._client

    def publish(self, details: Sequence[CompilationJobStateChange]) -> int:
        """Publish one event per detail, in calls of at most 10 entries.

        Parameters
        ----------
        details
            The ``Compilation Job State Change`` details, in the order to publish them.

        Returns
        -------
        int
            How many events were published (all of them, when this returns).

        Raises
        ------
        PublishError
            Naming every entry still failing after ``max_attempts`` calls, or failing with an
            error a retry cannot fix; entries of other batches may have been published.
        """
        published = 0
        failures: list[tuple[str, str, str]] = []
        for offset in range(0, len(details), MAX_ENTRIES_PER_CALL):
            batch = list(details[offset : offset + MAX_ENTRIES_PER_CALL])
            sent, failed = self._publish_batch(batch)
            published += sent
            failures += failed
        if failures:
            raise PublishError(failures)
        return published

    def _publish_batch(self, batch: list[CompilationJobStateChange]) -> tuple[int, list[tuple[str, str, str]]]:
        pending = batch
        sent = 0
        permanent: list[tuple[str, str, str]] = []
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            response = self.client.put_events(Entries=[entry(detail, self.bus_name) for detail in pending])
            results = response.get("Entries", [])
            retry: list[tuple[CompilationJobStateChange, str, str]] = []
            for detail, result in zip(pending, results, strict=True):
                code = result.get("ErrorCode")
                if not code:
                    sent += 1
                elif code in PERMANENT_ERRORS:
                    permanent.append((detail.CompilationJobName, code, result.get("ErrorMessage", "")))
                else:
                    retry.append((detail, code, result.get("ErrorMessage", "")))
            if not retry:
                return sent, permanent
            pending = [detail for detail, _, _ in retry]
        return sent, permanent + [(detail.CompilationJobName, code, message) for detail, code, message in retry]
