"""``registrar rollback GROUP``: reject the champion and restore an older version, as a person, safely re-run.

The decision is :mod:`registrar.rollback`'s; this reads the group, re-reads before each write, writes
through the :class:`~registrar.decisions.announce.Announcer` (each write publishes its ``Registrar
Decision``, flow ``rollback``) and yields one :class:`~registrar.outcome.Outcome` per write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from registrar import rollback as logic
from registrar.decisions.announce import Announcer, DecisionInFlightError
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.rollback import RollbackRefusedError, RollbackRequest, version_name
from registrar.updates import PackageUpdate
from registrar_cli.arguments import InvalidArgumentError, validated


class RollbackRegistry(Protocol):
    """The calls a rollback makes (:class:`registrar.registry.Registry`, or a wrapper of it)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]: ...

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None: ...

    def update(self, update: PackageUpdate) -> str: ...


def arguments(*, group: str, to: str | None, by: str, reason: str, force: bool) -> RollbackRequest:
    """The request, checked; :class:`~registrar_cli.arguments.InvalidArgumentError` names the argument that is not.

    ``to`` is a version number, ``3`` or ``v3``.
    """
    version: Any = to
    if to is not None:
        digits = to.strip().removeprefix("v")
        if not digits.isascii() or not digits.isdigit():
            raise InvalidArgumentError(f"--to {to!r}: not a version number (e.g. 3 or v3)")
        version = int(digits)
    return validated(
        RollbackRequest,
        {"group": "GROUP", "to": "--to", "by": "--by", "reason": "--reason", "force": "--force"},
        group=group,
        to=version,
        by=by,
        reason=reason,
        force=force,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


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
    summaries = list(registry.list_packages(request.group))
    position = next((i for i, s in enumerate(summaries) if s.get("ModelApprovalStatus") == "Approved"), None)
    if position is None:
        raise RollbackRefusedError(f"{request.group} has no Approved version: there is no champion to roll back")
    champion = registry.describe(summaries[position]["ModelPackageArn"])
    finished = _finished(request, champion, summaries, registry)
    if finished is not None:
        yield from finished
        return
    target = _target(request, champion, summaries, position, registry)
    decided = logic.decide(request, champion, target, now=clock())
    if not apply:
        yield _planned(decided.restore, target, decided.restore_reasons, verdict="Approved")
        yield _planned(decided.reject, champion, decided.reject_reasons, verdict="Rejected")
        return
    if announcer is not None:
        _recover(announcer, target, champion)
    fresh = registry.describe(target.ModelPackageArn)
    if fresh.LastModifiedTime != target.LastModifiedTime:
        raise RollbackRefusedError(
            f"{version_name(target)} changed while the rollback was planned (modified {fresh.LastModifiedTime}): "
            "nothing written; run again"
        )
    _still_champion(registry, request.group, champion, written=None)
    yield _write(registry, announcer, decided, decided.restore, fresh, decided.restore_reasons, "Approved")
    current = _still_champion(registry, request.group, champion, written=target)
    yield _write(registry, announcer, decided, decided.reject, current, decided.reject_reasons, "Rejected")


def _finished(
    request: RollbackRequest, champion: ModelPackage, summaries: list[dict[str, Any]], registry: RollbackRegistry
) -> list[Outcome] | None:
    """Both outcomes ``unchanged`` when the champion was restored by a rollback already done; else ``None``."""
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
    ]


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
