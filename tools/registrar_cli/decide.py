"""``registrar decide MODEL_PACKAGE_ARN (--approve|--reject) --by NAME``: a person's decision from the terminal.

The decision is :func:`registrar.decisions.person.decide_as_person`'s, as through a link (``via`` ``cli``):
only a version still ``PendingManualApproval`` is decided, recorded as ``person:NAME`` with the time and the
comment, and announced with one ``Registrar Decision`` (flow ``person``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from registrar.constrained import ModelPackageArn
from registrar.decisions.announce import Announcer
from registrar.decisions.person import PersonDecision, PersonRegistry, PersonVerdict, decide_as_person
from registrar.outcome import Outcome
from registrar_cli.arguments import validated


class DecideArguments(BaseModel):
    """``registrar decide``'s arguments, checked."""

    model_config = ConfigDict(frozen=True)

    model_package_arn: ModelPackageArn
    verdict: PersonVerdict
    decision: PersonDecision


def arguments(*, model_package_arn: str, approve: bool, by: str, comment: str | None) -> DecideArguments:
    """The arguments, checked; :class:`~registrar_cli.arguments.InvalidArgumentError` names the one that is not."""
    decision = validated(PersonDecision, {"by": "--by", "comment": "--comment"}, by=by, comment=comment)
    return validated(
        DecideArguments,
        {"model_package_arn": "MODEL_PACKAGE_ARN"},
        model_package_arn=model_package_arn,
        verdict="Approved" if approve else "Rejected",
        decision=decision,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def decide(
    request: DecideArguments,
    *,
    registry: PersonRegistry,
    announcer: Announcer | None,
    clock: Callable[[], datetime] = _now,
) -> Outcome:
    """Apply the person's decision; ``updated``, or ``skipped`` (nothing written) when no longer pending."""
    return decide_as_person(
        registry,
        announcer,
        request.model_package_arn,
        request.verdict,
        by=request.decision.by,
        comment=request.decision.comment,
        now=clock(),
        via="cli",
    )
