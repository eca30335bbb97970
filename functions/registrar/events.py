"""Typed EventBridge envelopes for the events registrar handles, and the project's own event contract.

Events only say where to look: handlers re-read state from AWS. The models therefore keep only the
identifiers and the members that route, deduplicate and guard against loops.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from registrar.errors import EventError

SAGEMAKER_SOURCE = "aws.sagemaker"
REGISTRAR_SOURCE = "registrar"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PROCESSING_JOB_STATE_CHANGE = "SageMaker Processing Job State Change"
COMPILATION_JOB_STATE_CHANGE = "Compilation Job State Change"

# Fields registrar's own UpdateModelPackage calls change. A model package event whose
# UpdatedModelPackageFields lie within these was (or could have been) caused by registrar and is
# ignored: this is the loop guard. ModelApprovalStatus is left out on purpose, so a human resetting
# a version to PendingManualApproval gets it decided again.
OWN_WRITE_FIELDS = frozenset(
    {
        "ApprovalDescription",
        "CustomerMetadataProperties",
        "ModelLifeCycle",
        "ModelCard",
        "AdditionalInferenceSpecifications",
        "AdditionalInferenceSpecificationsToAdd",
    }
)


def parse_timestamp(value: Any) -> datetime | None:
    """Parse every timestamp form AWS's own events use: ISO-8601, epoch seconds or milliseconds, as text or number."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        value = number
    if isinstance(value, int | float):
        try:
            seconds = value / 1000 if abs(value) >= 1e11 else value  # epoch milliseconds vs seconds
            return datetime.fromtimestamp(seconds, tz=UTC)
        # inf, NaN, 1e300, 10**400: pydantic turns only ValueError into a field error; these escaped it
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"not a timestamp within years 1-9999: {str(value)[:40]}") from None
    raise ValueError(f"not a timestamp: {value!r}")


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
# A list SageMaker may send as null; the loop guard reads it.
FieldNames = Annotated[list[str], BeforeValidator(lambda value: [] if value is None else value)]


class _Detail(BaseModel):
    # Built on first use: a function only ever parses some of the three events (a cold start pays for those).
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class ModelPackageStateChange(_Detail):
    """``detail`` of ``SageMaker Model Package State Change``."""

    ModelPackageArn: str = Field(min_length=1)
    ModelPackageGroupName: str | None = None
    ModelPackageStatus: str | None = None
    ModelApprovalStatus: str | None = None
    UpdatedModelPackageFields: FieldNames = Field(default_factory=list)
    LastModifiedTime: Timestamp = None

    @property
    def caused_by_own_write(self) -> bool:
        """True when every updated field is one registrar writes (the loop guard)."""
        fields = set(self.UpdatedModelPackageFields)
        return bool(fields) and fields <= OWN_WRITE_FIELDS


class ProcessingJobStateChange(_Detail):
    """``detail`` of ``SageMaker Processing Job State Change``."""

    ProcessingJobArn: str = Field(min_length=1)
    ProcessingJobName: str | None = None
    ProcessingJobStatus: str
    LastModifiedTime: Timestamp = None

    @property
    def job_name(self) -> str:
        return self.ProcessingJobName or self.ProcessingJobArn.rsplit("/", 1)[-1]


class CompilationJobStateChange(_Detail):
    """``detail`` of registrar's own ``Compilation Job State Change`` (see docs/events.md)."""

    CompilationJobName: str = Field(min_length=1, max_length=63)
    CompilationJobArn: str | None = None
    CompilationJobStatus: Literal["COMPLETED", "FAILED", "STOPPED"]
    LastModifiedTime: Timestamp = None


class EventBridgeModel(BaseModel):
    """The EventBridge envelope, member for member Powertools Parser's ``EventBridgeModel``.

    Declared here rather than imported: ``aws_lambda_powertools.utilities.parser.models`` loads the
    whole Parser package first, some 70 ms of every cold start for one small model.
    """

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(None, alias="replay-name")


class ModelPackageEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: ModelPackageStateChange

    @property
    def subject(self) -> str:
        """What the event is about: one package in one state at one time (the idempotency key).

        The time is the package's ``LastModifiedTime`` in UTC (one instant has one key whatever its
        offset); without one, the event's own ``time``, so that every change still has a key of its own.
        """
        d = self.detail
        moment = d.LastModifiedTime or self.time
        stamp = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        return f"{d.ModelPackageArn}|{d.ModelPackageStatus}|{d.ModelApprovalStatus}|{stamp}"


class ProcessingJobEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Processing Job State Change"] = Field(alias="detail-type")
    detail: ProcessingJobStateChange

    @property
    def subject(self) -> str:
        d = self.detail
        return f"{d.ProcessingJobArn}|{d.ProcessingJobStatus}"


class CompilationJobEvent(EventBridgeModel):
    source: Literal["registrar"]
    detail_type: Literal["Compilation Job State Change"] = Field(alias="detail-type")
    detail: CompilationJobStateChange

    @property
    def subject(self) -> str:
        """The job, its status and, when the event carries it, its ``LastModifiedTime`` in UTC.

        A job deleted and created again under the same name has the same ARN; its time tells the two apart.
        """
        d = self.detail
        stamp = f"|{d.LastModifiedTime.astimezone(UTC).isoformat()}" if d.LastModifiedTime else ""
        return f"{d.CompilationJobArn or d.CompilationJobName}|{d.CompilationJobStatus}{stamp}"


RegistrarEvent = ModelPackageEvent | ProcessingJobEvent | CompilationJobEvent
_MODELS: dict[tuple[str, str], type[RegistrarEvent]] = {
    (SAGEMAKER_SOURCE, MODEL_PACKAGE_STATE_CHANGE): ModelPackageEvent,
    (SAGEMAKER_SOURCE, PROCESSING_JOB_STATE_CHANGE): ProcessingJobEvent,
    (REGISTRAR_SOURCE, COMPILATION_JOB_STATE_CHANGE): CompilationJobEvent,
}


def parse_event(raw: Any) -> RegistrarEvent:
    """Validate an EventBridge event into the model for its source and detail-type.

    Raises
    ------
    EventError
        For anything that is not one of the three handled events, naming the field and the rule.
    """
    if not isinstance(raw, dict):
        raise EventError(f"event: must be a JSON object, got {type(raw).__name__}")
    key = (str(raw.get("source")), str(raw.get("detail-type")))
    model = _MODELS.get(key)
    if model is None:
        raise EventError(f"event: source {key[0]!r} with detail-type {key[1]!r} is not an event registrar handles")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)
        rules = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg'].removeprefix('Value error, ')}" for e in first
        )
        raise EventError(f"invalid {key[1]} event: {rules}") from None
