"""Announcing decisions: every write to a version is followed by exactly one ``Registrar Decision``.

:meth:`Announcer.commit` is the one place a flow writes a decision: it stages the decision's event in
the journal, makes the write (UpdateModelPackage, with its ClientToken), publishes the event and
clears the journal. A failure after the write and before the publish fails the record, which SQS
delivers again; handling it again, the flow meets a version that already is as decided ("unchanged",
nothing to write), and :meth:`Announcer.recover`, called first, finds the staged event, sees the write
landed (planned again, the request is empty) and publishes it. So a decision's event is neither lost
nor published twice; the one exception is a crash after PutEvents and before the journal is cleared,
which publishes the event again with the same ``decision_id`` (docs/decisions.md, "Decision events:
staged, written, published, cleared").
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from registrar import aws
from registrar.decisions.contract import DecisionDetail, DecisionFlow, DecisionVerdict, MetricReading
from registrar.decisions.journal import Journal, StagedDecision
from registrar.errors import InvalidUpdateError, RegistrarError
from registrar.observability import count, logger
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.updates import PackageUpdate

if TYPE_CHECKING:
    from registrar.settings import Settings

# Lambda's longest timeout: how long a writer may still be running when the invocation's own deadline is unknown.
LONGEST_INVOCATION = timedelta(seconds=900)

# When the current invocation ends (set by the batch from the Lambda context): a decision staged by a writer
# still running is not the next handler's to publish.
invocation_deadline: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "registrar_invocation_deadline", default=None
)


class DecisionPublisher(Protocol):
    """What publishes decisions (:class:`registrar.bus.EventBus`, or a fake)."""

    def publish_decisions(self, details: Sequence[DecisionDetail]) -> int: ...


class DecisionInFlightError(Exception):
    """Another invocation staged a decision for this version and may still be publishing it."""


class DecisionNotPublishedError(RegistrarError):
    """The version was written, but PutEvents refused its ``Registrar Decision`` (it stays staged, if journaled)."""

    def __init__(self, detail: DecisionDetail, error: Exception) -> None:
        self.detail = detail
        super().__init__(
            f"{detail.model_package_arn} was written ({detail.verdict}), but its Registrar Decision was not "
            f"published: {aws.error_name(error)}: {error}"
        )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Announcer:
    """Writes decisions and publishes their events, neither lost nor doubled.

    Parameters
    ----------
    bus
        Where the events go (the default bus).
    journal
        Where a decision waits between its write and its publish; ``None`` (a CLI run without a
        table) publishes right after the write, and a failed publish is the command's error.
    clock
        The current time (UTC); tests pass a fixed one.
    """

    bus: DecisionPublisher
    journal: Journal | None = None
    clock: Callable[[], datetime] = _now

    def detail(
        self,
        package: ModelPackage,
        update: PackageUpdate,
        *,
        verdict: DecisionVerdict,
        flow: DecisionFlow,
        reasons: Sequence[str],
        metrics: Sequence[MetricReading] = (),
        decided_by: str | None = None,
        **context: Any,
    ) -> DecisionDetail:
        """The event of writing ``update`` to ``package`` (as described before the write), made now.

        ``context`` holds the flow's own members (``rule``, ``policy_digest``, ``evidence``,
        ``evaluation_job``, ``compilation_job``, ``target``, ``specification``).
        """
        status = update.ModelApprovalStatus or package.ModelApprovalStatus
        return DecisionDetail(
            decision_id=update.ClientToken or update.derive_client_token(package),
            model_package_arn=package.ModelPackageArn,
            model_package_group=package.ModelPackageGroupName,
            model_package_version=package.ModelPackageVersion,
            verdict=verdict,
            status=status,
            previous_status=package.ModelApprovalStatus,
            reasons=list(reasons),
            metrics=list(metrics),
            flow=flow,
            decided_at=self.clock(),
            **({"decided_by": decided_by} if decided_by else {}),
            **{key: value for key, value in context.items() if value is not None},
        )

    def commit(
        self,
        write: Callable[[PackageUpdate], Any],
        update: PackageUpdate,
        detail: DecisionDetail,
        *,
        still_current: Callable[[], bool] | None = None,
    ) -> None:
        """Stage ``detail``, make the write, publish ``detail``, clear it.

        The staged item is the version's lock: while another of registrar's writers holds it, nothing is
        written. ``still_current``, asked once the lock is held, says whether the version is still as it
        was planned against (a person's decision reads it again): when not, nothing is written.

        Raises
        ------
        DecisionInFlightError
            Another writer holds the version (with a journal), or ``still_current`` said no: nothing written.
        DecisionNotPublishedError
            The write was made but its event could not be published (it stays staged, for the record's
            next delivery to publish).
        """
        if self.journal is None:
            write(update)
            self._publish(detail)
            return
        now = self.clock()
        deadline = invocation_deadline.get() or now + LONGEST_INVOCATION
        staged = StagedDecision(detail=detail, request=update.to_request(), deadline=deadline)
        if not self.journal.stage(staged, now=now):
            raise DecisionInFlightError(
                f"another decision for {detail.model_package_arn} is being written; nothing was written"
            )
        if still_current is not None and not still_current():
            self.journal.clear(detail.model_package_arn, detail.decision_id)
            raise DecisionInFlightError(
                f"{detail.model_package_arn} changed while it was being decided; nothing written"
            )
        try:
            write(update)
            self._publish(detail)
        except Exception:
            # This writer stops here: the record's next delivery may take the decision over at once, publishing it
            # if the write landed (an answer lost after the change was made) or dropping it if it did not.
            self._release(detail)
            raise

    def recover(self, package: ModelPackage) -> Literal["none", "published", "dropped"]:
        """Publish the version's staged decision if its write landed and its event was not published.

        Parameters
        ----------
        package
            The version as just described.

        Returns
        -------
        str
            ``none`` (nothing staged), ``published`` (the write had landed: its event is published now)
            or ``dropped`` (the write never landed: the record is forgotten, the flow decides afresh).

        Raises
        ------
        DecisionInFlightError
            The invocation that staged it may still be running: the record is to be handled later.
        """
        if self.journal is None:
            return "none"
        staged = self.journal.pending(package.ModelPackageArn)
        if staged is None:
            return "none"
        if self.clock() < staged.deadline:
            raise DecisionInFlightError(
                f"a decision for {package.ModelPackageArn} is being written by another invocation "
                f"(until {staged.deadline.isoformat()}); this event is handled after it"
            )
        if _landed(staged, package):
            logger.warning(
                "publishing a decision whose write landed but whose event was not published",
                extra={"decision_id": staged.detail.decision_id},
            )
            count("DecisionRecovered")
            self._publish(staged.detail)
            return "published"
        self.journal.clear(package.ModelPackageArn, staged.detail.decision_id)
        return "dropped"

    def _release(self, detail: DecisionDetail) -> None:
        assert self.journal is not None
        try:
            self.journal.release(detail.model_package_arn, detail.decision_id, self.clock())
        except Exception as error:  # the failure being raised matters more; the claim then lasts to its deadline
            logger.warning("a staged decision could not be released", extra={"error": aws.error_name(error)})

    def _publish(self, detail: DecisionDetail) -> None:
        try:
            self.bus.publish_decisions([detail])
        except Exception as error:
            raise DecisionNotPublishedError(detail, error) from error
        count("DecisionPublished")
        if self.journal is not None:
            self.journal.clear(detail.model_package_arn, detail.decision_id)


def _landed(staged: StagedDecision, package: ModelPackage) -> bool:
    """Whether the staged request is already true of the version (planned again, it is empty)."""
    request = {key: value for key, value in staged.request.items() if key != "ClientToken"}
    try:
        return plan(PackageUpdate.from_request(request), package) is None
    except InvalidUpdateError:
        return False


def announcer_for(settings: Settings, *, endpoint_url: str | None = None, region: str | None = None) -> Announcer:
    """The announcer of a deployment: the account's default bus, and the journal in the settings' table (if any)."""
    from registrar.bus import EventBus
    from registrar.decisions.journal import DecisionJournal

    journal = (
        DecisionJournal(settings.table_name, endpoint_url=endpoint_url, region=region) if settings.table_name else None
    )
    return Announcer(bus=EventBus("default", endpoint_url=endpoint_url, region=region), journal=journal)
