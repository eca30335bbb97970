"""The ``Registrar Decision`` event: the contract of what registrar tells the world after every write.

Every outcome that writes to a model package publishes exactly one event, ``source`` ``registrar``,
``detail-type`` ``Registrar Decision``, on the account's default bus, after the write succeeded. The
detail is :class:`DecisionDetail`; its ``schema`` is 1 and changes only when a member changes meaning
or goes away (members may be added within a schema). docs/events.md shows a full example.

The sender (:mod:`registrar.announce`) and the tests share these models; the CDK app's input
transformers name paths of this model, and a test holds them to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registrar.events import REGISTRAR_SOURCE

DECISION_DETAIL_TYPE = "Registrar Decision"
SCHEMA: Literal[1] = 1
REGISTRAR = "registrar"

# What a decision did to the version. Approved/Rejected/Held: the approval flow (or a person, or a rollback).
# Attached/Recorded/Failed/OverCap: the Neo flow (Failed: a compilation that failed or stopped). Refused: evidence
# or a job that did not belong to the version, recorded on it and nothing decided. Deployed/Retired: where it serves.
DecisionVerdict = Literal[
    "Approved", "Rejected", "Held", "Attached", "Recorded", "Failed", "OverCap", "Refused", "Deployed", "Retired"
]
DecisionFlow = Literal["approval", "neo", "person", "rollback", "deployment"]


class MetricReading(BaseModel):
    """One metric of the evidence beside its threshold (and the champion's value when compared).

    Attributes
    ----------
    name
        The metric's short name (``auc``).
    expression
        The JMESPath expression it was read with.
    value
        The finite number read, or ``None`` when there was none (see ``problem``).
    problem
        Why no usable number was read (``absent``, ``NaN``, ...).
    min, max
        The policy's thresholds, when the metric is a condition.
    champion_value
        The champion's value, when the rule compares with the champion.
    champion
        The champion version's ARN, when compared.
    passed
        Whether the condition (or the comparison) holds.
    text
        How the version's description states it: ``auc 0.81 < min 0.85``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    expression: str
    value: float | None = None
    problem: str | None = None
    min: float | None = None
    max: float | None = None
    champion_value: float | None = None
    champion: str | None = None
    passed: bool
    text: str


class DecisionDetail(BaseModel):
    """The detail of a ``Registrar Decision`` event, schema 1.

    Attributes
    ----------
    schema_version
        ``1`` (JSON member ``schema``).
    decision_id
        The write's ClientToken: the same decision published again (after a failure between the write
        and the publish) carries the same id, so a consumer can drop the copy.
    model_package_arn, model_package_group, model_package_version
        The version written.
    verdict
        What the decision did (:data:`DecisionVerdict`).
    status
        The version's ``ModelApprovalStatus`` after the write.
    previous_status
        Its ``ModelApprovalStatus`` before.
    reasons
        Why, as written on the version.
    metrics
        Every metric read, beside its threshold and the champion's value when compared.
    rule
        The policy rule that decided (1-based), when the approval flow decided.
    policy_digest
        The digest of the policy decided with.
    evidence
        Where the evaluation report was read from (``s3://...``).
    evaluation_job
        The evaluation (processing) job whose event led to the decision, if any.
    compilation_job, target, specification
        For the Neo flow: the job, its target and the inference specification attached.
    decided_by
        ``registrar``, or the person who decided.
    flow
        Which part of registrar wrote: ``approval``, ``neo``, ``person``, ``rollback`` or ``deployment``.
    decided_at
        When the write was made (UTC).
    summary
        One paragraph a person reads in an e-mail or a chat message: the version, the verdict, who
        decided, each metric against its threshold, the reasons and where the evidence is.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_version: Literal[1] = Field(default=SCHEMA, alias="schema")
    decision_id: str = Field(min_length=1)
    model_package_arn: str = Field(min_length=1)
    model_package_group: str | None = None
    model_package_version: int | None = None
    verdict: DecisionVerdict
    status: str | None = None
    previous_status: str | None = None
    reasons: list[str] = Field(default_factory=list)
    metrics: list[MetricReading] = Field(default_factory=list)
    rule: int | None = None
    policy_digest: str | None = None
    evidence: str | None = None
    evaluation_job: str | None = None
    compilation_job: str | None = None
    target: str | None = None
    specification: str | None = None
    decided_by: str = REGISTRAR
    flow: DecisionFlow
    decided_at: datetime
    summary: str = ""

    @model_validator(mode="after")
    def _summarised(self) -> DecisionDetail:
        if not self.summary:
            object.__setattr__(self, "summary", summarise(self))  # frozen: set once, while validating
        return self

    def to_json(self) -> dict[str, Any]:
        """The detail as published: JSON-ready, members without a value left out, ``schema`` first."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def put_events_entry(detail: DecisionDetail, bus_name: str = "default") -> dict[str, Any]:
    """The PutEvents entry of one decision (``Resources`` names the version)."""
    import json

    return {
        "Source": REGISTRAR_SOURCE,
        "DetailType": DECISION_DETAIL_TYPE,
        "Detail": json.dumps(detail.to_json(), separators=(",", ":")),
        "Resources": [detail.model_package_arn],
        "EventBusName": bus_name,
    }


# How the first line of a summary states each verdict ("by" whoever decided follows).
VERDICT_PHRASES: dict[str, str] = {
    "Approved": "Approved",
    "Rejected": "Rejected",
    "Held": "Held for a human",
    "Refused": "evidence refused",
    "Attached": "Neo specification attached",
    "Recorded": "edge compilation recorded",
    "Failed": "compilation failed, recorded",
    "OverCap": "compilation over the specification cap, recorded",
    "Deployed": "deployed",
    "Retired": "retired",
}


def summarise(detail: DecisionDetail) -> str:
    """The text people read of a decision (:attr:`DecisionDetail.summary`); no markup, one line per fact."""
    group = detail.model_package_group or detail.model_package_arn
    version = f" version {detail.model_package_version}" if detail.model_package_version is not None else ""
    phrase = VERDICT_PHRASES.get(detail.verdict, detail.verdict)
    lines = [f"{group}{version}: {phrase} by {detail.decided_by}"]
    if detail.previous_status and detail.status and detail.previous_status != detail.status:
        lines.append(f"status: {detail.previous_status} -> {detail.status}")
    shown = [reading.text for reading in detail.metrics]
    lines += [f"- {text}" for text in shown]
    lines += [f"- {reason}" for reason in detail.reasons if reason not in shown]
    if detail.evidence:
        lines.append(f"evidence: {detail.evidence}")
    if detail.compilation_job:
        lines.append(f"compilation job: {detail.compilation_job}")
    lines.append(f"model package: {detail.model_package_arn}")
    return "\n".join(lines)


# The rule pattern of every decision registrar publishes (notifications, and anyone who subscribes).
DECISION_PATTERN: dict[str, Any] = {"source": [REGISTRAR_SOURCE], "detail-type": [DECISION_DETAIL_TYPE]}

# How notifications read a decision: EventBridge input transformers (InputPathsMap, InputTemplate) over this
# contract, shared by the CDK app and the emulator's local topology. Every path names a member of DecisionDetail
# that is always present (a path that does not resolve drops the variable, and the message with it).
#
# The summary holds newlines (one line per fact) and may hold quotes (reasons, metric expressions). EventBridge
# does not escape a value it inserts inside a quoted string of the template ("Common issues with transforming
# input"), so "<summary>" or {"text": "<summary>"} would depend on text the template does not control. A
# placeholder standing as a JSON value (unquoted) is replaced by the value as JSON: a string arrives quoted and
# escaped, whatever it holds. Both templates therefore use <summary> unquoted: the e-mail template is that JSON
# string alone (SNS delivers its text), the chat template the body Slack and Teams incoming webhooks read.
EMAIL_INPUT_PATHS: dict[str, str] = {"summary": "$.detail.summary"}
EMAIL_INPUT_TEMPLATE = "<summary>"
CHAT_INPUT_PATHS: dict[str, str] = {"summary": "$.detail.summary"}
CHAT_INPUT_TEMPLATE = '{"text": <summary>}'
