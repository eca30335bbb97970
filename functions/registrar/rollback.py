"""rollback: a person rejects a group's champion and restores an older version. Pure, no AWS.

The **champion** is the group's latest Approved version (by creation, as the approval flow's champion).
The **target** is the version restored: ``--to`` names it; by default it is the newest version older
than the champion that

- was Approved before (:func:`approval_evidence`): it is Approved now, or registrar recorded it
  Approved (``registrar:verdict``), or a rollback rejected or restored it (``registrar:rollback``:
  only an Approved champion is rolled back, and a restored version was made Approved). SageMaker keeps
  no history of a status, so a version approved and later rejected by hand, without registrar, has no
  such evidence: name it with ``--to`` and ``--force``;
- is not Rejected now for bad evidence: not Rejected with ``registrar:verdict`` Rejected (registrar
  rejected it on its evaluation, or an earlier rollback rejected it);
- is ``Completed`` (a failed package cannot be deployed).

Two writes, each through :class:`~registrar.updates.PackageUpdate` and :func:`~registrar.plan.plan`:

1. **restore** the target: ``Approved``, ``restored by NAME: reason``;
2. **reject** the champion: ``Rejected``, ``rolled back to v<N> by NAME: reason``.

Restore first: between the writes the group has two Approved versions and its latest Approved is still the
champion, as before the rollback; never none. Both versions record the rollback (:data:`RECORD_KEYS`):
``registrar:verdict``, ``registrar:decided-by`` ``person:NAME``, ``registrar:decided-at`` and
``registrar:rollback`` naming the other version and the rollback's time (``from v2 at T`` on the target,
``to v1 at T`` on the champion). Those records tell a rollback's stage (:func:`stage`): a target that
records ``from <champion>`` while the champion lacks ``to <target>`` is half done (the second write is
made with the first's name, reason and time), and a champion restored from a version that records
``to <champion>`` at the same time is a rollback already done (``unchanged``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from registrar.approval.decide import DECIDED_BY_KEY, VERDICT_KEY
from registrar.constrained import LINE_TERMINATORS
from registrar.errors import RegistrarError
from registrar.history import (
    DECIDED_AT_KEY,
    PERSON_PREFIX,
    ROLLBACK_KEY,
    GroupName,
    RollbackRecord,
    format_time,
    person_decided_by,
)
from registrar.package import MAX_METADATA_ENTRIES, ModelPackage
from registrar.updates import PackageUpdate

MAX_NAME = 64
# "rolled back to v<10 digits> by <64>: " is at most 96 characters: the description stays within 1024.
MAX_REASON = 900
RECORD_KEYS = (VERDICT_KEY, DECIDED_BY_KEY, DECIDED_AT_KEY, ROLLBACK_KEY)
_NAME_EXTRA = frozenset(" _.@+=-")

Stage = Literal["new", "half-done", "done"]


def _person_name(value: str) -> str:
    if value != value.strip():
        raise ValueError("cannot begin or end with a space")
    for char in value:
        if unicodedata.category(char)[0] not in "LN" and char not in _NAME_EXTRA:
            raise ValueError(f"character {char!r} is not allowed: use letters, digits, spaces and _.@+=-")
    return value


def _reason(value: str) -> str:
    if not value.strip():
        raise ValueError("cannot be blank: say why")
    for char in value:
        if char in LINE_TERMINATORS or unicodedata.category(char) == "Cc":
            raise ValueError("must be one line of text, without control characters")
    return value


def _version(value: int) -> int:
    if value < 1:
        raise ValueError("must be a version number, 1 or more")
    return value


PersonName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(_person_name)]
"""Who decides: 1-64 letters, digits, spaces and ``_.@+=-`` (it is recorded as ``person:<name>``)."""
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON), AfterValidator(_reason)]
"""Why: one line of at most 900 characters (it is written in ``ApprovalDescription``)."""


class RollbackRefusedError(RegistrarError, ValueError):
    """The rollback cannot be made as asked; nothing (more) was written. The message says why and what to do."""


class RollbackRequest(BaseModel):
    """What an operator asks: roll ``group`` back (to version ``to``), as ``by``, because ``reason``.

    Attributes
    ----------
    group
        The model package group.
    to
        The version to restore; ``None`` picks it (module docstring).
    by
        Who decides (:data:`PersonName`).
    reason
        Why (:data:`Reason`).
    force
        Restore ``to`` even though nothing shows it was ever Approved.
    """

    model_config = ConfigDict(frozen=True)

    group: GroupName
    to: Annotated[int, AfterValidator(_version)] | None = None
    by: PersonName
    reason: Reason
    force: bool = False


class Rollback(BaseModel):
    """A rollback decided: both desired updates, before planning.

    Attributes
    ----------
    champion, target
        The version rolled back and the version restored, as described.
    stage
        ``new`` or ``half-done`` (the target is restored already; the same rollback is completed).
    at, by, reason
        The rollback's time, who and why (on ``half-done``: the first run's, as recorded).
    restore, reject
        The desired updates of the target and of the champion, in the order they are written.
    restore_reasons, reject_reasons
        Why, for each write's outcome and ``Registrar Decision``.
    """

    model_config = ConfigDict(frozen=True)

    champion: ModelPackage
    target: ModelPackage
    stage: Literal["new", "half-done"]
    at: datetime
    by: str
    reason: str
    restore: PackageUpdate
    reject: PackageUpdate
    restore_reasons: list[str]
    reject_reasons: list[str]


def version_name(package: ModelPackage) -> str:
    """``v3``, or the ARN of a package without a version."""
    return f"v{package.ModelPackageVersion}" if package.ModelPackageVersion is not None else package.ModelPackageArn


def record(package: ModelPackage) -> RollbackRecord | None:
    """The package's ``registrar:rollback`` record, if it holds one."""
    return RollbackRecord.parse(package.CustomerMetadataProperties.get(ROLLBACK_KEY))


def approval_evidence(package: ModelPackage) -> str | None:
    """What shows the version was Approved at some time, in words; ``None`` when nothing does (module docstring)."""
    if package.ModelApprovalStatus == "Approved":
        return "it is Approved now"
    if package.CustomerMetadataProperties.get(VERDICT_KEY) == "Approved":
        return f"registrar recorded it Approved ({VERDICT_KEY})"
    rolled = record(package)
    if rolled is not None:
        done = "rejected it as the champion" if rolled.direction == "to" else "restored it"
        return f"a rollback {done} at {format_time(rolled.at)} ({ROLLBACK_KEY})"
    return None


def rejected_by_registrar(package: ModelPackage) -> bool:
    """Whether the version is Rejected now with registrar's own verdict (bad evidence, or an earlier rollback)."""
    return (
        package.ModelApprovalStatus == "Rejected" and package.CustomerMetadataProperties.get(VERDICT_KEY) == "Rejected"
    )


def _unusable(package: ModelPackage) -> str | None:
    if package.ModelPackageStatus not in (None, "Completed"):
        return f"{version_name(package)} is {package.ModelPackageStatus}, not Completed"
    return None


def default_target(champion: ModelPackage, older: Iterable[ModelPackage]) -> ModelPackage:
    """The newest of ``older`` (the versions older than the champion, newest first) a rollback restores.

    ``older`` is read lazily: the versions after the one chosen are never looked at.

    Raises
    ------
    RollbackRefusedError
        No older version qualifies.
    """
    for package in older:
        if approval_evidence(package) and not rejected_by_registrar(package) and _unusable(package) is None:
            return package
    group = champion.ModelPackageGroupName or "the group"
    raise RollbackRefusedError(
        f"no version of {group} older than the champion {version_name(champion)} was Approved before and is "
        "not Rejected by registrar: name the version to restore with --to (and --force if it was never Approved)"
    )


def check_chosen(champion: ModelPackage, target: ModelPackage, *, force: bool) -> None:
    """Refuse a ``--to`` version that cannot be restored.

    Raises
    ------
    RollbackRefusedError
        The target is the champion, newer than it, not Completed, or (without ``force``) never Approved.
    """
    name = version_name(target)
    if target.ModelPackageArn == champion.ModelPackageArn:
        raise RollbackRefusedError(
            f"{name} is the champion (the latest Approved version): name an older version to restore"
        )
    if (
        target.ModelPackageVersion is not None
        and champion.ModelPackageVersion is not None
        and target.ModelPackageVersion > champion.ModelPackageVersion
    ):
        raise RollbackRefusedError(
            f"{name} is newer than the champion {version_name(champion)}: a rollback restores an older version"
        )
    unusable = _unusable(target)
    if unusable is not None:
        raise RollbackRefusedError(f"{unusable}: it cannot be restored")
    if not force and approval_evidence(target) is None:
        raise RollbackRefusedError(
            f"{name} was never Approved as far as its records show (status {target.ModelApprovalStatus}, no "
            f"{VERDICT_KEY} Approved, no {ROLLBACK_KEY}): add --force to restore it all the same"
        )


def done(restored: ModelPackage, rolled_back: ModelPackage) -> RollbackRecord | None:
    """The restored version's record, when the two versions record one whole rollback; else ``None``."""
    ours, theirs = record(restored), record(rolled_back)
    if ours is None or theirs is None or ours.direction != "from":
        return None
    if not ours.answers(theirs, version=restored.ModelPackageVersion, other_version=rolled_back.ModelPackageVersion):
        return None
    return ours


def stage(champion: ModelPackage, target: ModelPackage) -> tuple[Stage, RollbackRecord | None]:
    """How far the rollback of ``champion`` to ``target`` went, from their records.

    Returns
    -------
    tuple
        ``("done", record)`` when both record it; ``("half-done", record)`` when the target records
        ``from <champion>`` and the champion does not record ``to <target>`` yet (the first write landed,
        the second did not); ``("new", None)`` otherwise. ``record`` is the target's.
    """
    finished = done(target, champion)
    if finished is not None:
        return "done", finished
    ours = record(target)
    if ours is not None and ours.direction == "from" and ours.version == champion.ModelPackageVersion:
        return "half-done", ours
    return "new", None


def _recorded_reason(target: ModelPackage, by: str) -> str | None:
    prefix = f"restored by {by}: "
    description = target.ApprovalDescription or ""
    return description.removeprefix(prefix) if description.startswith(prefix) else None


def _records(package: ModelPackage, verdict: str, by: str, at: datetime, other: RollbackRecord) -> dict[str, str]:
    """The entries a rollback records on ``package``, refused when the 50-entry budget cannot hold them."""
    entries = {
        VERDICT_KEY: verdict,
        DECIDED_BY_KEY: person_decided_by(by),
        DECIDED_AT_KEY: format_time(at),
        ROLLBACK_KEY: other.value,
    }
    current = package.CustomerMetadataProperties
    total = len(set(current) | set(entries))
    if total > MAX_METADATA_ENTRIES:
        missing = sorted(set(entries) - set(current))
        raise RollbackRefusedError(
            f"{version_name(package)} has no room for the rollback's record ({', '.join(missing)}): "
            f"{len(current)} of {MAX_METADATA_ENTRIES} metadata entries are used; remove "
            f"{total - MAX_METADATA_ENTRIES} of the others, then run again"
        )
    return entries


def decide(request: RollbackRequest, champion: ModelPackage, target: ModelPackage, *, now: datetime) -> Rollback:
    """The two desired updates of rolling ``champion`` back to ``target`` (already chosen and checked).

    Parameters
    ----------
    request
        Who and why (used unless the rollback is half done: then the first run's, as recorded).
    champion
        The group's latest Approved version, as described.
    target
        The version to restore, as described.
    now
        The rollback's time, unless it is half done (then the recorded time).

    Returns
    -------
    Rollback
        Both desired updates, the target's first. Pass each to :func:`registrar.plan.plan`.

    Raises
    ------
    RollbackRefusedError
        A version's metadata has no room for the rollback's record.
    """
    reached, recorded = stage(champion, target)
    by, reason, at = request.by, request.reason, now
    reasons: list[str] = []
    if reached == "done":
        # Both record an earlier rollback, yet the champion is Approved again: someone approved it since,
        # and this is a new rollback, with its own time.
        reached, recorded = "new", None
    if reached == "half-done" and recorded is not None:
        at = recorded.at
        decided_by = target.CustomerMetadataProperties.get(DECIDED_BY_KEY, "")
        if decided_by.startswith(PERSON_PREFIX):
            first_by = decided_by.removeprefix(PERSON_PREFIX)
            first_reason = _recorded_reason(target, first_by)
            if first_reason is not None:
                by, reason = first_by, first_reason
        reasons.append(
            f"completing the rollback {by} started at {format_time(at)}: {version_name(target)} is restored "
            f"already, {version_name(champion)} is still {champion.ModelApprovalStatus}"
        )
    target_version = target.ModelPackageVersion or 0
    champion_version = champion.ModelPackageVersion or 0
    restore_description = f"restored by {by}: {reason}"
    reject_description = f"rolled back to {version_name(target)} by {by}: {reason}"
    restore = PackageUpdate(
        ModelPackageArn=target.ModelPackageArn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=restore_description,
        CustomerMetadataProperties=_records(
            target, "Approved", by, at, RollbackRecord(direction="from", version=champion_version, at=at)
        ),
    )
    reject = PackageUpdate(
        ModelPackageArn=champion.ModelPackageArn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=reject_description,
        CustomerMetadataProperties=_records(
            champion, "Rejected", by, at, RollbackRecord(direction="to", version=target_version, at=at)
        ),
    )
    evidence = approval_evidence(target)
    before = (
        f"{version_name(target)} was Approved before: {evidence}"
        if evidence
        else f"{version_name(target)} was never Approved as far as its records show: restored with --force"
    )
    if rejected_by_registrar(target):
        before += f"; it is Rejected by registrar now ({VERDICT_KEY}), restored as --to asks"
    elif target.ModelApprovalStatus == "Rejected":
        before += "; it was Rejected outside registrar since"
    return Rollback(
        champion=champion,
        target=target,
        stage="half-done" if reached == "half-done" else "new",
        at=at,
        by=by,
        reason=reason,
        restore=restore,
        reject=reject,
        restore_reasons=[*reasons, f"{restore_description} (replacing {version_name(champion)})", before],
        reject_reasons=[*reasons, reject_description],
    )
