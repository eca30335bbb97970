"""The rollback's orchestration: read the group, decide (:mod:`registrar.rollback`), re-read before each write, write.

Shared by ``registrar rollback`` (the CLI) and the decision page's ``POST /rollback``: both call :func:`rollback`,
or its two halves, :func:`prepare` (reads only: the champion, the target, the two desired updates; every refusal
that needs no write) and :func:`execute` (re-reads the target and the champion, then the two writes through
:func:`~registrar.plan.plan` and the :class:`~registrar.decisions.announce.Announcer`, each publishing its
``Registrar Decision``, flow ``rollback``). The page consumes its link between the two, so a refusal of
:func:`prepare` leaves the link unused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from registrar import rollback as logic
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.rollback import RollbackRefusedError, RollbackRequest, version_name
from registrar.updates import PackageUpdate

if TYPE_CHECKING:
    from registrar.decisions.announce import Announcer


class RollbackRegistry(Protocol):
    """The calls a rollback makes (:class:`registrar.registry.Registry`, or a wrapper of it)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]: ...

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None: ...

    def update(self, update: PackageUpdate) -> str: ...


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Prepared:
    """A rollback read and decided, nothing written yet.

    Attributes
    ----------
    request
        What was asked.
    champion
        The group's latest Approved version, as described.
    target
        The version to restore (on ``finished``: the version the champion was restored from).
    decided
        The two desired updates; ``None`` when the rollback is done already.
    finished
        Both outcomes ``unchanged`` when the champion was restored by this very rollback already; else ``None``.
    """

    request: RollbackRequest
    champion: ModelPackage
    target: ModelPackage
    decided: logic.Rollback | None
    finished: list[Outcome] | None = None


def prepare(request: RollbackRequest, *, registry: RollbackRegistry, clock: Callable[[], datetime] = _now) -> Prepared:
    """Read the group and decide the rollback ``request`` asks; nothing is written.

    Raises
    ------
    RollbackRefusedError
        No champion, no such target, a target never Approved (without ``force``), or a version without room
        for the record.
    """
    summaries = list(registry.list_packages(request.group))
    position = next((i for i, s in enumerate(summaries) if s.get("ModelApprovalStatus") == "Approved"), None)
    if position is None:
        raise RollbackRefusedError(f"{request.group} has no Approved version: there is no champion to roll back")
    champion = registry.describe(summaries[position]["ModelPackageArn"])
    finished = _finished(request, champion, summaries, registry)
    if finished is not None:
        outcomes, other = finished
        return Prepared(request=request, champion=champion, target=other, decided=None, finished=outcomes)
    target = _target(request, champion, summaries, position, registry)
    return Prepared(
        request=request, champion=champion, target=target, decided=logic.decide(request, champion, target, now=clock())
    )


def planned(prepared: Prepared) -> list[Outcome]:
    """The outcomes of both writes, planned only (``--dry-run``): nothing is written."""
    if prepared.decided is None:
        return list(prepared.finished or [])
    decided = prepared.decided
    return [
        _planned(decided.restore, prepared.target, decided.restore_reasons, verdict="Approved"),
        _planned(decided.reject, prepared.champion, decided.reject_reasons, verdict="Rejected"),
    ]


def execute(prepared: Prepared, *, registry: RollbackRegistry, announcer: Announcer | None) -> Iterator[Outcome]:
    """Make the prepared rollback's two writes, re-reading before each; yields each write's outcome as it is made.

    Raises
    ------
    RollbackRefusedError
        The target or the champion changed since :func:`prepare` (the message says what was written, if anything),
        or an earlier run's decision is still being published.
    """
    if prepared.decided is None:
        yield from prepared.finished or []
        return
    decided, target, champion, group = prepared.decided, prepared.target, prepared.champion, prepared.request.group
    if announcer is not None:
        _recover(announcer, target, champion)
    fresh = registry.describe(target.ModelPackageArn)
    if fresh.LastModifiedTime != target.LastModifiedTime:
        raise RollbackRefusedError(
            f"{version_name(target)} changed while the rollback was planned (modified {fresh.LastModifiedTime}): "
            "nothing written; run again"
        )
    _still_champion(registry, group, champion, written=None)
    yield _write(registry, announcer, decided, decided.restore, fresh, decided.restore_reasons, "Approved")
    current = _still_champion(registry, group, champion, written=target)
    yield _write(registry, announcer, decided, decided.reject, current, decided.reject_reasons, "Rejected")


def rollback(
    request: RollbackRequest,
    *,
    registry: RollbackRegistry,
    announcer: Announcer | None,
    apply: bool = True,
    clock: Callable[[], datetime] = _now,
) -> Iterator[Outcome]:
    """Roll the group back as ``request`` asks; yields the outcome of each write as it is made.

    Parameters
    ----------
    request
        The checked request.
    registry
        Where the versions are read and written.
    announcer
        Makes each write and publishes its ``Registrar Decision``; ``None`` writes without announcing.
    apply
        ``False`` (``--dry-run``) plans both writes and yields them, writing nothing.
    clock
        The rollback's time (UTC).

    Yields
    ------
    Outcome
        The target's restore, then the champion's rejection: ``updated`` with its request (planned
        only, when not ``apply``), or ``unchanged``.

    Raises
    ------
    RollbackRefusedError
        No champion, no such target, a target never Approved (without ``force``), a version without
        room for the record, or a champion or target that changed while the rollback was made.
    """
    prepared = prepare(request, registry=registry, clock=clock)
    if not apply:
        yield from planned(prepared)
        return
    yield from execute(prepared, registry=registry, announcer=announcer)


def _finished(
    request: RollbackRequest, champion: ModelPackage, summaries: list[dict[str, Any]], registry: RollbackRegistry
) -> tuple[list[Outcome], ModelPackage] | None:
    """Both outcomes ``unchanged`` (and the other version) when the champion was restored by a rollback done."""
    restored = logic.record(champion)
    if restored is None or restored.direction != "from" or request.to not in (None, champion.ModelPackageVersion):
        return None
    summary = next((s for s in summaries if s.get("ModelPackageVersion") == restored.version), None)
    other = registry.describe(summary["ModelPackageArn"]) if summary is not None else None
    if other is None or logic.done(champion, other) is None:
        raise RollbackRefusedError(
            f"the champion {version_name(champion)} was restored by a rollback from v{restored.version} that "
            f"v{restored.version} does not record as done; to roll {version_name(champion)} back, "
            "name the version to restore with --to"
        )
    said = f"already rolled back at {logic.format_time(restored.at)}: nothing to write"
    return [
        Outcome.unchanged(
            [f"{version_name(champion)} is {champion.ModelApprovalStatus}: {champion.ApprovalDescription}", said],
            arn=champion.ModelPackageArn,
            verdict=champion.ModelApprovalStatus,
        ),
        Outcome.unchanged(
            [f"{version_name(other)} is {other.ModelApprovalStatus}: {other.ApprovalDescription}", said],
            arn=other.ModelPackageArn,
            verdict=other.ModelApprovalStatus,
        ),
    ], other


def _target(
    request: RollbackRequest,
    champion: ModelPackage,
    summaries: list[dict[str, Any]],
    position: int,
    registry: RollbackRegistry,
) -> ModelPackage:
    """The version to restore: ``--to``'s, checked, or the default (described newest first, until one qualifies)."""
    if request.to is None:
        older = (registry.describe(s["ModelPackageArn"]) for s in summaries[position + 1 :])
        return logic.default_target(champion, older)
    summary = next((s for s in summaries if s.get("ModelPackageVersion") == request.to), None)
    if summary is None:
        raise RollbackRefusedError(f"{request.group} has no version {request.to}")
    target = champion if summary is summaries[position] else registry.describe(summary["ModelPackageArn"])
    logic.check_chosen(champion, target, force=request.force)
    return target


def _recover(announcer: Announcer, *packages: ModelPackage) -> None:
    """Publish a decision an earlier run wrote and did not publish (with a journal; a no-op without)."""
    from registrar.decisions.announce import DecisionInFlightError

    for package in packages:
        try:
            announcer.recover(package)
        except DecisionInFlightError as error:
            raise RollbackRefusedError(f"{error}; run again after then") from None


def _still_champion(
    registry: RollbackRegistry, group: str, champion: ModelPackage, *, written: ModelPackage | None
) -> ModelPackage:
    """The champion described again, refused unless it is still the latest Approved version and unmodified."""
    current = registry.latest_approved(group)
    if (
        current is None
        or current.ModelPackageArn != champion.ModelPackageArn
        or current.LastModifiedTime != champion.LastModifiedTime
    ):
        now = (
            "no Approved version" if current is None else f"{version_name(current)} modified {current.LastModifiedTime}"
        )
        done = f"{version_name(written)} is restored, " if written is not None else ""
        raise RollbackRefusedError(
            f"the champion changed under the rollback: it was {version_name(champion)} modified "
            f"{champion.LastModifiedTime}, it is {now}; {done}{version_name(champion)} is not rejected: "
            "look at `registrar history`, then run again"
        )
    return current


def _planned(desired: PackageUpdate, package: ModelPackage, reasons: list[str], *, verdict: str) -> Outcome:
    update = plan(desired, package)
    if update is None:
        return Outcome.unchanged(
            [*reasons, "already so: nothing to write"], arn=package.ModelPackageArn, verdict=verdict
        )
    return Outcome.updated(update.to_request(), reasons, arn=package.ModelPackageArn, verdict=verdict)


def _write(
    registry: RollbackRegistry,
    announcer: Announcer | None,
    decided: logic.Rollback,
    desired: PackageUpdate,
    package: ModelPackage,
    reasons: list[str],
    verdict: str,
) -> Outcome:
    """Plan ``desired`` against ``package`` (just described) and write it, announcing it; its outcome."""
    update = plan(desired, package)
    if update is None:
        return Outcome.unchanged(
            [*reasons, "already so: nothing to write"], arn=package.ModelPackageArn, verdict=verdict
        )
    if announcer is None:
        registry.update(update)
    else:
        detail = announcer.detail(
            package,
            update,
            verdict="Approved" if verdict == "Approved" else "Rejected",
            flow="rollback",
            reasons=reasons,
            decided_by=decided.by,
        )
        announcer.commit(registry.update, update, detail)
    return Outcome.updated(update.to_request(), reasons, arn=package.ModelPackageArn, verdict=verdict)
