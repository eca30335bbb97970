"""Outcome: what handling one event did, as the CLI prints it and the handlers log it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OutcomeKind = Literal["updated", "unchanged", "skipped", "invalid"]


class Outcome(BaseModel):
    """The result of handling one event.

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
    subject: str | None = Field(default=None, exclude=True)
    retry: bool = Field(default=False, exclude=True)
    final: bool = Field(default=True, exclude=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON object: outcome, model_package_arn, request, reasons."""
        return {
            "outcome": self.outcome,
            "model_package_arn": self.model_package_arn,
            "request": self.request,
            "reasons": list(self.reasons),
        }
