"""The EventBridge adapter: the only module that calls ``events:PutEvents``.

It publishes registrar's own events (source ``registrar``; see docs/events.md): the sweeper's
``Compilation Job State Change`` and every write's ``Registrar Decision``. PutEvents takes at
most 10 entries per call and can accept some entries of a call while failing others
(``FailedEntryCount``); the failed entries alone are sent again, and an entry that still fails is
an error, never dropped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from registrar import aws
from registrar.decisions.contract import DecisionDetail, put_events_entry
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
        ``(what, error code, error message)`` of each entry that was not published: the job's name,
        or the decision's package ARN.
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
        """Publish one ``Compilation Job State Change`` per detail, in calls of at most 10 entries.

        Parameters
        ----------
        details
            The details, in the order to publish them.

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
        return self._publish([(detail.CompilationJobName, entry(detail, self.bus_name)) for detail in details])

    def publish_decisions(self, details: Sequence[DecisionDetail]) -> int:
        """Publish one ``Registrar Decision`` per detail; as :meth:`publish`."""
        entries = [(detail.model_package_arn, put_events_entry(detail, self.bus_name)) for detail in details]
        return self._publish(entries)

    def _publish(self, entries: list[tuple[str, dict[str, Any]]]) -> int:
        published = 0
        failures: list[tuple[str, str, str]] = []
        for offset in range(0, len(entries), MAX_ENTRIES_PER_CALL):
            sent, failed = self._publish_batch(entries[offset : offset + MAX_ENTRIES_PER_CALL])
            published += sent
            failures += failed
        if failures:
            raise PublishError(failures)
        return published

    def _publish_batch(self, batch: list[tuple[str, dict[str, Any]]]) -> tuple[int, list[tuple[str, str, str]]]:
        pending = batch
        sent = 0
        permanent: list[tuple[str, str, str]] = []
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            response = self.client.put_events(Entries=[item for _, item in pending])
            results = response.get("Entries", [])
            retry: list[tuple[tuple[str, dict[str, Any]], str, str]] = []
            for labelled, result in zip(pending, results, strict=True):
                code = result.get("ErrorCode")
                if not code:
                    sent += 1
                elif code in PERMANENT_ERRORS:
                    permanent.append((labelled[0], code, result.get("ErrorMessage", "")))
                else:
                    retry.append((labelled, code, result.get("ErrorMessage", "")))
            if not retry:
                return sent, permanent
            pending = [labelled for labelled, _, _ in retry]
        return sent, permanent + [(labelled[0], code, message) for labelled, code, message in retry]
