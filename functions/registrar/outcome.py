"""Outcome: what handling one event did, as the CLI prints it and the handlers log it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OutcomeKind = Literal["updated", "unchanged", "skipped", "invalid"]
Reasons = str | Sequence[str]


def _listed(reasons: Reasons) -> list[str]:
    return [reasons] if isinstance(reasons, str) else list(reasons)


class Outcome(BaseModel):
    """The result of handling one event; build one with :meth:`updated`, :meth:`unchanged`, :meth:`skipped`,
    :meth:`early` or :meth:`invalid`.

    Attributes
    ----------
    outcome
        ``updated`` (a request was planned, and written unless planning only), ``unchanged`` (the
        package already is as decided), ``skipped`` (nothing to act on: unmatched group, unlinked
        job, own write, not pending) or ``invalid`` (the event or the evidence cannot be used).
    model_package_arn
        The package acted on, when known.
    request
        The UpdateModelPackage request (the API's member names), or ``None``.
    reasons
        Why, in words an operator reads.
    verdict
        ``Approved``, ``Rejected``, ``Held`` or ``Attached``/``Recorded``/... for metrics and logs.
    retry
        The event is ahead of the state it names (it reports a job finished that SageMaker still
        describes as running): nothing was done, and the event must be handled again later rather
        than remembered as handled. Not part of the JSON.
    final
        ``False`` when the answer can change while the event's subject stays the same (a job that
        names no version yet may be tagged later, and its event published again): the outcome is
        not kept in the idempotency store, so that event is handled afresh. Not part of the JSON.
    """

    model_config = ConfigDict(frozen=True)

    outcome: OutcomeKind
    model_package_arn: str | None = None
    request: dict[str, Any] | None = None
    reasons: list[str] = Field(default_factory=list)
    verdict: str | None = None
    retry: bool = Field(default=False, exclude=True)
    final: bool = Field(default=True, exclude=True)

    @classmethod
    def updated(cls, request: dict[str, Any], reasons: Reasons, *, arn: str, verdict: str | None) -> Outcome:
        """A request was planned (and written, unless planning only)."""
        return cls(outcome="updated", model_package_arn=arn, request=request, reasons=_listed(reasons), verdict=verdict)

    @classmethod
    def unchanged(cls, reasons: Reasons, *, arn: str | None, verdict: str | None = None) -> Outcome:
        """The package already is as decided: nothing to write."""
        return cls(outcome="unchanged", model_package_arn=arn, reasons=_listed(reasons), verdict=verdict)

    @classmethod
    def skipped(
        cls,
        reasons: Reasons,
        *,
        arn: str | None = None,
        final: bool = True,
        verdict: str | None = None,
        request: dict[str, Any] | None = None,
    ) -> Outcome:
        """Nothing to act on; ``final=False`` when the same event may lead somewhere later (see :attr:`final`)."""
        return cls(
            outcome="skipped",
            model_package_arn=arn,
            reasons=_listed(reasons),
            final=final,
            verdict=verdict,
            request=request,
        )

    @classmethod
    def early(cls, reasons: Reasons, *, arn: str | None = None) -> Outcome:
        """The event is ahead of the state it names: nothing done, handle it again later (see :attr:`retry`)."""
        return cls(outcome="skipped", model_package_arn=arn, reasons=_listed(reasons), retry=True)

    @classmethod
    def invalid(cls, reasons: Reasons, *, arn: str | None = None, verdict: str | None = None) -> Outcome:
        """The event, or what it names, cannot be used: it is parked after its receives."""
        return cls(outcome="invalid", model_package_arn=arn, reasons=_listed(reasons), verdict=verdict)

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON object: outcome, model_package_arn, request, reasons."""
        return {
            "outcome": self.outcome,
            "model_package_arn": self.model_package_arn,
            "request": self.request,
            "reasons": list(self.reasons),
        }
