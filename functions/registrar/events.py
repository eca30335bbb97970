"""Typed EventBridge envelopes for the events registrar handles, and the project's own event contract.

Events only say where to look: handlers re-read state from AWS. The models therefore keep only the
identifiers and the members that route and guard against loops, and they refuse an event whose
identifiers disagree with each other (a job's name and its ARN, the ARN's account or region and the
envelope's): such an event names two things, and whichever one a handler acted on, the other could
hide a real event (docs/decisions.md, "An event must agree with itself"). What SageMaker sends is
described in docs/sagemaker.md#events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from registrar.errors import EventError

SAGEMAKER_SOURCE = "aws.sagemaker"
REGISTRAR_SOURCE = "registrar"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PROCESSING_JOB_STATE_CHANGE = "SageMaker Processing Job State Change"
COMPILATION_JOB_STATE_CHANGE = "Compilation Job State Change"
ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
# EndpointStatus of an endpoint that serves: SageMaker's example event writes IN_SERVICE, DescribeEndpoint InService.
IN_SERVICE_STATUSES = ("IN_SERVICE", "InService")

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


def utc(moment: Any) -> datetime | None:
    """Any timestamp AWS gives (:func:`parse_timestamp`'s forms; botocore answers in local time) in UTC."""
    parsed = parse_timestamp(moment)
    return parsed.astimezone(UTC) if parsed is not None else None


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
# A list SageMaker may send as null; the loop guard reads it.
FieldNames = Annotated[list[str], BeforeValidator(lambda value: [] if value is None else value)]


# An ARN's partition, region, account and resource: arn:<partition>:sagemaker:<region>:<account>:<type>/<name>
_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:(?P<region>[^:]*):(?P<account>[^:]*):(?P<type>[a-z-]+)/(?P<name>.+)")


def _arn_parts(arn: str, kind: str) -> tuple[str, str, str]:
    """Region, account and name of a SageMaker ARN of resource type ``kind``; ``ValueError`` if it is not one."""
    match = _ARN.fullmatch(arn)
    if match is None or match.group("type") != kind:
        raise ValueError(f"{arn!r} is not a SageMaker {kind} ARN")
    return match.group("region"), match.group("account"), match.group("name")


def _same_name(arn: str, kind: str, name: str, member: str) -> None:
    # SageMaker writes names into ARNs in lower case: compare ignoring case.
    _, _, named = _arn_parts(arn, kind)
    if named.lower() != name.lower():
        raise ValueError(f"{member} {name!r} is not the job its ARN names ({arn})")


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
        """True when every updated field is one registrar writes (the loop guard, :data:`OWN_WRITE_FIELDS`)."""
        fields = set(self.UpdatedModelPackageFields)
        return bool(fields) and fields <= OWN_WRITE_FIELDS

    @property
    def arn(self) -> str:
        return self.ModelPackageArn


class ProcessingJobStateChange(_Detail):
    """``detail`` of ``SageMaker Processing Job State Change``."""

    ProcessingJobArn: str = Field(min_length=1)
    ProcessingJobName: str | None = None
    ProcessingJobStatus: str
    LastModifiedTime: Timestamp = None

    @model_validator(mode="after")
    def _name_is_the_arns(self) -> ProcessingJobStateChange:
        if self.ProcessingJobName is not None:
            _same_name(self.ProcessingJobArn, "processing-job", self.ProcessingJobName, "ProcessingJobName")
        else:
            _arn_parts(self.ProcessingJobArn, "processing-job")
        return self

    @property
    def job_name(self) -> str:
        """The job's name: ``ProcessingJobName``, else the ARN's resource name (the two agree, see above)."""
        return self.ProcessingJobName or _arn_parts(self.ProcessingJobArn, "processing-job")[2]

    @property
    def arn(self) -> str:
        return self.ProcessingJobArn


class CompilationJobStateChange(_Detail):
    """``detail`` of registrar's own ``Compilation Job State Change`` (see docs/events.md)."""

    CompilationJobName: str = Field(min_length=1, max_length=63)
    CompilationJobArn: str | None = None
    CompilationJobStatus: Literal["COMPLETED", "FAILED", "STOPPED"]
    LastModifiedTime: Timestamp = None

    @model_validator(mode="after")
    def _name_is_the_arns(self) -> CompilationJobStateChange:
        if self.CompilationJobArn is not None:
            _same_name(self.CompilationJobArn, "compilation-job", self.CompilationJobName, "CompilationJobName")
        return self

    @property
    def arn(self) -> str | None:
        return self.CompilationJobArn


class EndpointStateChange(_Detail):
    """``detail`` of ``SageMaker Endpoint State Change`` (docs/events.md, "Endpoint events").

    It names no model: which versions the endpoint serves is read from SageMaker
    (:mod:`registrar.deployments`). Only the name and the ARN are used, and they must agree.
    """

    EndpointName: str = Field(min_length=1, max_length=63)
    EndpointArn: str = Field(min_length=1)
    EndpointConfigName: str | None = None
    EndpointStatus: str = Field(min_length=1)
    CreationTime: Timestamp = None
    LastModifiedTime: Timestamp = None

    @model_validator(mode="after")
    def _name_is_the_arns(self) -> EndpointStateChange:
        _same_name(self.EndpointArn, "endpoint", self.EndpointName, "EndpointName")
        return self

    @property
    def arn(self) -> str:
        return self.EndpointArn


class EventBridgeModel(BaseModel):
    """The EventBridge envelope, member for member Powertools Parser's ``EventBridgeModel``.

    Declared here rather than imported: ``aws_lambda_powertools.utilities.parser.models`` loads the
    whole Parser package first, some 70 ms of every cold start for one small model.
    """

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    SOURCE: ClassVar[str] = ""
    DETAIL_TYPE: ClassVar[str] = ""

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

    @model_validator(mode="after")
    def _resource_is_the_envelopes(self) -> EventBridgeModel:
        # The resource an event names lives in the account and region the event came from.
        arn = getattr(self.detail, "arn", None)
        if isinstance(arn, str) and (match := _ARN.fullmatch(arn)) is not None:
            if match.group("account") != self.account:
                raise ValueError(f"{arn} is in account {match.group('account')}, the event in {self.account}")
            if match.group("region") != self.region:
                raise ValueError(f"{arn} is in region {match.group('region')}, the event in {self.region}")
        return self


class ModelPackageEvent(EventBridgeModel):
    SOURCE: ClassVar[str] = SAGEMAKER_SOURCE
    DETAIL_TYPE: ClassVar[str] = MODEL_PACKAGE_STATE_CHANGE

    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: ModelPackageStateChange


class ProcessingJobEvent(EventBridgeModel):
    SOURCE: ClassVar[str] = SAGEMAKER_SOURCE
    DETAIL_TYPE: ClassVar[str] = PROCESSING_JOB_STATE_CHANGE

    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Processing Job State Change"] = Field(alias="detail-type")
    detail: ProcessingJobStateChange


class CompilationJobEvent(EventBridgeModel):
    SOURCE: ClassVar[str] = REGISTRAR_SOURCE
    DETAIL_TYPE: ClassVar[str] = COMPILATION_JOB_STATE_CHANGE

    source: Literal["registrar"]
    detail_type: Literal["Compilation Job State Change"] = Field(alias="detail-type")
    detail: CompilationJobStateChange


class EndpointEvent(EventBridgeModel):
    SOURCE: ClassVar[str] = SAGEMAKER_SOURCE
    DETAIL_TYPE: ClassVar[str] = ENDPOINT_STATE_CHANGE

    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Endpoint State Change"] = Field(alias="detail-type")
    detail: EndpointStateChange


RegistrarEvent = ModelPackageEvent | ProcessingJobEvent | CompilationJobEvent | EndpointEvent
ALL_EVENTS: tuple[type[RegistrarEvent], ...] = (
    ModelPackageEvent,
    ProcessingJobEvent,
    CompilationJobEvent,
    EndpointEvent,
)


def parse_event(raw: Any, accepted: Sequence[type[RegistrarEvent]] = ALL_EVENTS) -> RegistrarEvent:
    """Validate an EventBridge event into the model, among ``accepted``, for its source and detail-type.

    Parameters
    ----------
    raw
        The event, as JSON decoded.
    accepted
        The events the caller handles (a flow's own); any other is refused.

    Raises
    ------
    EventError
        For anything that is not one of the accepted events, naming the field and the rule.
    """
    if not isinstance(raw, dict):
        raise EventError(f"event: must be a JSON object, got {type(raw).__name__}")
    key = (str(raw.get("source")), str(raw.get("detail-type")))
    model = next((m for m in accepted if key == (m.SOURCE, m.DETAIL_TYPE)), None)
    if model is None:
        handled = "; ".join(f"{m.SOURCE} {m.DETAIL_TYPE!r}" for m in accepted)
        raise EventError(
            f"event: source {key[0]!r} with detail-type {key[1]!r} is not an event this flow handles ({handled})"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)
        rules = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg'].removeprefix('Value error, ')}" for e in first
        )
        raise EventError(f"invalid {key[1]} event: {rules}") from None
