"""A person's decision on a held version, through the same path as registrar's own.

A person approves or rejects a version through a decision link (the page) or ``registrar decide`` (the
terminal). Either way :func:`decide_as_person` describes the version, decides only a version still
``PendingManualApproval`` (a human's decision stands: whoever decided first, the second finds it decided and
is told who and when), builds the desired :class:`~registrar.updates.PackageUpdate`, plans it against the
version (:func:`~registrar.plan.plan`: the minimal request, its deterministic ClientToken) and writes it
through the :class:`~registrar.decisions.announce.Announcer`, which publishes one ``Registrar Decision``
(flow ``person``, ``decided_by`` the person's name).

What the version records, as every writer of a person's decision does (:mod:`registrar.history`):

- ``ModelApprovalStatus``: ``Approved`` or ``Rejected``;
- ``ApprovalDescription``: ``Approved by NAME via link: comment`` (one line, at most 1024 characters);
- ``registrar:verdict`` (the status), ``registrar:decided-by`` ``person:NAME``, ``registrar:decided-at``
  (ISO-8601 UTC, to the second), within the 50-entry budget of ``CustomerMetadataProperties``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict

from registrar.approval.decide import DECIDED_BY_KEY, MAX_DESCRIPTION, VERDICT_KEY
from registrar.constrained import LINE_TERMINATORS
from registrar.decisions.announce import DecisionInFlightError
from registrar.errors import RegistrarError
from registrar.history import DECIDED_AT_KEY, decider, format_time, person_decided_by
from registrar.outcome import Outcome
from registrar.package import MAX_METADATA_ENTRIES, ModelPackage
from registrar.plan import plan
from registrar.rollback import PersonName, Reason, version_name
from registrar.updates import PackageUpdate

if TYPE_CHECKING:
    from registrar.decisions.announce import Announcer

PersonVerdict = Literal["Approved", "Rejected"]
Via = Literal["link", "cli"]
PENDING = "PendingManualApproval"
RECORD_KEYS = (VERDICT_KEY, DECIDED_BY_KEY, DECIDED_AT_KEY)


class PersonDecisionRefusedError(RegistrarError, ValueError):
    """The decision cannot be written as asked; nothing was written. The message says why and what to do."""


class PersonRegistry(Protocol):
    """The calls a person's decision makes (:class:`registrar.registry.Registry`, or a fake)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def update(self, update: PackageUpdate) -> str: ...


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class PersonDecision(BaseModel):
    """Who decides and why, checked.

    Attributes
    ----------
    by
        The person's name: 1-64 letters, digits, spaces and ``_.@+=-`` (:data:`registrar.rollback.PersonName`),
        so that ``person:NAME`` is a metadata value as it is.
    comment
        Why, one line of at most 900 characters; a blank comment is none.
    """

    model_config = ConfigDict(frozen=True)

    by: PersonName
    comment: Annotated[Reason | None, BeforeValidator(_blank_is_none)] = None


def describe_decision(verdict: PersonVerdict, by: str, comment: str | None, via: Via) -> str:
    """The ``ApprovalDescription``: ``Approved by alice via link: looks good`` (one line, at most 1024)."""
    text = f"{verdict} by {by} via {via}" + (f": {comment}" if comment else "")
    # One line, whatever reaches here (PersonDecision refuses line breaks; a caller may build its own).
    text = "".join(" " if c in LINE_TERMINATORS or unicodedata.category(c)[0] == "C" else c for c in text)
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1].rstrip() + "…"


def not_pending_reasons(package: ModelPackage) -> list[str]:
    """Why a version is no longer to decide: its status, when it last changed and who decided, when recorded."""
    name = version_name(package)
    changed = format_time(package.LastModifiedTime) if package.LastModifiedTime else "an unknown time"
    reasons = [
        f"{name} is {package.ModelApprovalStatus or 'without an approval status'}, not {PENDING}: "
        f"last modified at {changed}"
    ]
    who = decider(package)
    if who.kind != "none":
        recorded_at = package.CustomerMetadataProperties.get(DECIDED_AT_KEY)
        when = f" at {recorded_at}" if recorded_at and who.kind != "outside" else ""
        reasons.append(who.text if who.kind == "outside" else f"decided by {who.text}{when}")
    reasons.append("a decision stands: nothing written")
    return reasons


def _records(package: ModelPackage, verdict: PersonVerdict, by: str, now: datetime) -> dict[str, str]:
    entries = {VERDICT_KEY: verdict, DECIDED_BY_KEY: person_decided_by(by), DECIDED_AT_KEY: format_time(now)}
    current = package.CustomerMetadataProperties
    total = len(set(current) | set(entries))
    if total > MAX_METADATA_ENTRIES:
        missing = sorted(set(entries) - set(current))
        raise PersonDecisionRefusedError(
            f"{version_name(package)} has no room for the decision's record ({', '.join(missing)}): "
            f"{len(current)} of {MAX_METADATA_ENTRIES} metadata entries are used; remove "
            f"{total - MAX_METADATA_ENTRIES} of the others, then decide again"
        )
    return entries


def desired_update(
    package: ModelPackage, verdict: PersonVerdict, decision: PersonDecision, *, now: datetime, via: Via
) -> PackageUpdate:
    """The update a person's decision asks of ``package`` (before planning).

    Raises
    ------
    PersonDecisionRefusedError
        The version's metadata has no room for the record.
    """
    return PackageUpdate(
        ModelPackageArn=package.ModelPackageArn,
        ModelApprovalStatus=verdict,
        ApprovalDescription=describe_decision(verdict, decision.by, decision.comment, via),
        CustomerMetadataProperties=_records(package, verdict, decision.by, now),
    )


def decide_as_person(
    registry: PersonRegistry,
    announcer: Announcer | None,
    model_package_arn: str,
    verdict: PersonVerdict,
    *,
    by: str,
    comment: str | None,
    now: datetime,
    via: Via,
) -> Outcome:
    """Write a person's decision on a held version and publish its ``Registrar Decision``.

    Parameters
    ----------
    registry
        Where the version is described and written.
    announcer
        Makes the write and publishes its decision (flow ``person``); ``None`` writes without announcing.
    model_package_arn
        The version (for a link: the capability's, never the request's).
    verdict
        ``Approved`` or ``Rejected``.
    by
        Who decides (:class:`PersonDecision`); recorded as ``person:<by>``.
    comment
        Why, or ``None``.
    now
        When (UTC); recorded as ``registrar:decided-at``.
    via
        ``link`` (the page) or ``cli`` (``registrar decide``); written in the description.

    Returns
    -------
    Outcome
        ``updated`` with the request written and ``verdict``; ``skipped`` (nothing written) when the version
        is not ``PendingManualApproval``, its reasons naming its status, when it last changed and who decided.

    Raises
    ------
    pydantic.ValidationError
        ``by`` or ``comment`` breaks its rule (the page and the CLI check them first: :class:`PersonDecision`).
    PersonDecisionRefusedError
        No room for the record, or another write of this version is still being published.
    registrar.decisions.announce.DecisionNotPublishedError
        The version was written, but its event was not published (it stays staged, with a journal).
    """
    decision = PersonDecision(by=by, comment=comment)
    package = registry.describe(model_package_arn)
    if announcer is not None:
        try:
            # A decision an earlier write made and did not publish is published first (with a journal).
            announcer.recover(package)
        except DecisionInFlightError as error:
            raise PersonDecisionRefusedError(f"{error}; decide again in a few minutes") from None
    if package.ModelApprovalStatus != PENDING:
        return Outcome.skipped(not_pending_reasons(package), arn=package.ModelPackageArn)
    desired = desired_update(package, verdict, decision, now=now, via=via)
    reasons = [desired.ApprovalDescription or verdict]
    update = plan(desired, package)
    if update is None:  # cannot be while pending (the status changes); kept for the type
        return Outcome.unchanged([*reasons, "already so: nothing to write"], arn=package.ModelPackageArn)
    if announcer is None:
        registry.update(update)
    else:
        detail = announcer.detail(
            package, update, verdict=verdict, flow="person", reasons=reasons, decided_by=decision.by
        )

        def still_pending() -> bool:
            # Read again under the version's lock: a decision made since the first read (another approver's link,
            # registrar) is not overwritten.
            now_read = registry.describe(model_package_arn)
            return (now_read.ModelApprovalStatus, now_read.LastModifiedTime) == (PENDING, package.LastModifiedTime)

        try:
            announcer.commit(registry.update, update, detail, still_current=still_pending)
        except DecisionInFlightError as error:
            raise PersonDecisionRefusedError(f"{error}; look at the version again") from None
    return Outcome.updated(update.to_request(), reasons, arn=package.ModelPackageArn, verdict=verdict)
