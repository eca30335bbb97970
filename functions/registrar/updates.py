"""PackageUpdate: the one UpdateModelPackage request registrar writes, validated before it is sent.

Every member of ``aws sagemaker update-model-package`` is modelled with the service model's
constraints (lengths, patterns, enums of all instance types) and the documented rules botocore does
not check client-side (it validates only required members, types and minimum lengths). Rules that
need the package's current state (the 15-specification cap, unique names, the 50-entry metadata
budget, an Archived model card) are checked by :meth:`PackageUpdate.check_against`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from registrar import constrained as t
from registrar.errors import InvalidUpdateError, Violation, truncate
from registrar.package import MAX_ADDITIONAL_SPECIFICATIONS, MAX_METADATA_ENTRIES, ModelPackage

MAX_ENVIRONMENT_ENTRIES = 16  # the documented service limit; the model's map max (100) is looser
ApprovalStatus = Literal["Approved", "Rejected", "PendingManualApproval"]
CardStatus = Literal["Draft", "PendingReview", "Approved", "Archived"]


class _Shape(BaseModel):
    """An API structure: members named as the API names them, unknown members refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise invalid_update(error) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as error:
            raise invalid_update(error) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as error:
            raise invalid_update(error) from None


def invalid_update(error: ValidationError, prefix: str = "") -> InvalidUpdateError:
    """Turn pydantic's error into the one error type callers handle, each violation with its field path."""
    violations: list[Violation] = []
    for detail in error.errors(include_url=False):
        path = ".".join(_path_part(part) for part in (prefix, *detail["loc"]) if part != "")
        nested = (detail.get("ctx") or {}).get("error")
        if isinstance(nested, InvalidUpdateError):  # a nested shape already named its own fields
            violations.extend(
                Violation(f"{path}.{v.field}" if path else v.field, v.value, v.rule) for v in nested.violations
            )
            continue
        message = detail["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        violations.append(Violation(field=path or "(request)", value=truncate(detail.get("input")), rule=message))
    return InvalidUpdateError(violations)


def _path_part(part: object) -> str:
    # Map keys become path segments: keep a hostile 5,000-character key out of the message.
    text = str(part)
    return text if len(text) <= 40 else text[:39] + "…"


def _require_prefix_slash(data_type: str, uri: str) -> None:
    if data_type == "S3Prefix" and not uri.endswith("/"):
        raise InvalidUpdateError([Violation("S3Uri", truncate(uri), "must end with '/' when S3DataType is S3Prefix")])


class ModelAccess(_Shape):
    AcceptEula: bool


class InferenceHubAccessConfig(_Shape):
    HubContentArn: str = Field(max_length=255)


class S3ModelDataSource(_Shape):
    S3Uri: t.S3Url
    S3DataType: Literal["S3Prefix", "S3Object"]
    CompressionType: Literal["None", "Gzip"]
    ModelAccessConfig: ModelAccess | None = None
    HubAccessConfig: InferenceHubAccessConfig | None = None
    ManifestS3Uri: t.S3Url | None = None
    ETag: str | None = None
    ManifestEtag: str | None = None

    @model_validator(mode="after")
    def _prefix_ends_with_slash(self) -> Self:
        _require_prefix_slash(self.S3DataType, self.S3Uri)
        return self


class ModelData(_Shape):
    S3DataSource: S3ModelDataSource  # "one and only one" source; S3 is the only kind the API has


class ModelInputConfig(_Shape):
    DataInputConfig: t.DataInputConfig


class AdditionalModelDataSource(_Shape):
    ChannelName: t.ChannelName
    S3DataSource: S3ModelDataSource


class AdditionalS3Data(_Shape):
    S3DataType: Literal["S3Object", "S3Prefix"]
    S3Uri: t.S3Url
    CompressionType: Literal["None", "Gzip"] | None = None
    ETag: str | None = None

    @model_validator(mode="after")
    def _prefix_ends_with_slash(self) -> Self:
        _require_prefix_slash(self.S3DataType, self.S3Uri)
        return self


class BaseModelReference(_Shape):
    HubContentName: t.ContainerHostname | None = None
    HubContentVersion: t.HubContentVersion | None = None
    RecipeName: str | None = Field(default=None, max_length=255)


class ContainerDefinition(_Shape):
    """``ModelPackageContainerDefinition``: one container of an inference specification."""

    ContainerHostname: t.ContainerHostname | None = None
    Image: t.ContainerImage | None = None
    ImageDigest: t.ImageDigest | None = None
    ModelDataUrl: t.S3Url | None = None
    ModelDataSource: ModelData | None = None
    ProductId: t.ProductId | None = None
    Environment: dict[t.EnvironmentKey, t.EnvironmentValue] | None = Field(
        default=None, max_length=MAX_ENVIRONMENT_ENTRIES
    )
    ModelInput: ModelInputConfig | None = None
    Framework: str | None = None
    FrameworkVersion: t.FrameworkVersion | None = None
    NearestModelName: str | None = None
    AdditionalModelDataSources: list[AdditionalModelDataSource] | None = Field(default=None, max_length=5)
    AdditionalS3DataSource: AdditionalS3Data | None = None
    ModelDataETag: str | None = None
    IsCheckpoint: bool | None = None
    BaseModel: BaseModelReference | None = None

    @model_validator(mode="after")
    def _model_data_is_a_tarball(self) -> Self:
        if self.ModelDataUrl is not None and not self.ModelDataUrl.endswith(".tar.gz"):
            raise InvalidUpdateError(
                [Violation("ModelDataUrl", truncate(self.ModelDataUrl), "must point to a .tar.gz archive")]
            )
        return self


class _InferenceSpecificationBody(_Shape):
    Containers: list[ContainerDefinition] = Field(min_length=1, max_length=15)
    SupportedTransformInstanceTypes: list[t.TransformInstanceType] | None = Field(default=None, min_length=1)
    SupportedRealtimeInferenceInstanceTypes: list[t.RealtimeInstanceType] | None = None
    SupportedContentTypes: list[t.ContentType] | None = None
    SupportedResponseMIMETypes: list[t.ResponseMimeType] | None = None


class PrimaryInferenceSpecification(_InferenceSpecificationBody):
    """The package's primary inference specification."""


class AdditionalInferenceSpecification(_InferenceSpecificationBody):
    """``AdditionalInferenceSpecificationDefinition``: a named extra way to deploy the version (e.g. Neo)."""

    Name: t.SpecName
    Description: t.EntityDescription | None = None


class ModelCardUpdate(_Shape):
    """``ModelPackageModelCard``."""

    ModelCardContent: t.ModelCardContent | None = None
    ModelCardStatus: CardStatus | None = None


class LifeCycle(_Shape):
    Stage: t.EntityName
    StageStatus: t.EntityName
    StageDescription: t.StageDescription | None = None


class PackageUpdate(_Shape):
    """The UpdateModelPackage request, every member of ``update-model-package``, validated on construction.

    Its limits and rules are listed in docs/sagemaker.md#limits.

    Members are named exactly as the API names them, so :meth:`to_request` is the boto3 keyword
    arguments and the JSON an operator can pass to ``aws sagemaker update-model-package --cli-input-json``.

    Raises
    ------
    InvalidUpdateError
        On construction, naming the field path, the value (truncated) and the rule for each violation.
    """

    ModelPackageArn: t.ModelPackageArn
    ModelApprovalStatus: ApprovalStatus | None = None
    ApprovalDescription: t.ApprovalDescription | None = None
    CustomerMetadataProperties: dict[t.MetadataKey, t.MetadataValue] | None = Field(
        default=None, min_length=1, max_length=MAX_METADATA_ENTRIES
    )
    CustomerMetadataPropertiesToRemove: list[t.MetadataKey] | None = Field(default=None, min_length=1)
    AdditionalInferenceSpecificationsToAdd: list[AdditionalInferenceSpecification] | None = Field(
        default=None, min_length=1, max_length=MAX_ADDITIONAL_SPECIFICATIONS
    )
    InferenceSpecification: PrimaryInferenceSpecification | None = None
    SourceUri: t.SourceUri | None = None
    ModelCard: ModelCardUpdate | None = None
    ModelLifeCycle: LifeCycle | None = None
    ClientToken: t.ClientToken | None = None

    @model_validator(mode="after")
    def _specification_names_unique(self) -> Self:
        names = [spec.Name for spec in self.AdditionalInferenceSpecificationsToAdd or []]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidUpdateError(
                [
                    Violation(
                        "AdditionalInferenceSpecificationsToAdd",
                        truncate(repeated),
                        "names must be unique within the request",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _metadata_not_both_set_and_removed(self) -> Self:
        both = sorted(set(self.CustomerMetadataProperties or {}) & set(self.CustomerMetadataPropertiesToRemove or []))
        if both:
            raise InvalidUpdateError(
                [
                    Violation(
                        "CustomerMetadataPropertiesToRemove",
                        truncate(both),
                        "metadata keys cannot be set and removed in one request",
                    )
                ]
            )
        return self

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> PackageUpdate:
        """Validate UpdateModelPackage keyword arguments (as a CLI ``--cli-input-json`` file holds them)."""
        return cls(**request)

    def to_request(self) -> dict[str, Any]:
        """The boto3 ``update_model_package`` keyword arguments, unset members omitted."""
        return self.model_dump(exclude_none=True)

    @property
    def changes(self) -> dict[str, Any]:
        """The request without its target and token: what the update changes."""
        request = self.to_request()
        request.pop("ModelPackageArn")
        request.pop("ClientToken", None)
        return request

    def derive_client_token(self, planned_against: ModelPackage | None = None) -> str:
        """A deterministic ClientToken for this change, planned against ``planned_against`` if given.

        A UUID-formatted SHA-256 of canonical JSON: 36 characters of ``[a-f0-9-]``, within the API's
        1-36 ``[a-zA-Z0-9-]`` rule. SageMaker (and the emulator) treat a token seen before with the
        same request as a no-op, so the token must change exactly when sending the request again
        should change the package again.

        Parameters
        ----------
        planned_against
            The package as described when the change was planned. Its state (see
            :meth:`observed_state`) is hashed with the request: a retry or a duplicate planned against
            the same description gets the same token, the same change planned again after anyone wrote
            to the package gets another one. ``None`` (a request built without a description, such
            as a ``--cli-input-json`` file) hashes the request alone: the same request always gets
            the same token.

        Returns
        -------
        str
            The token.

        Raises
        ------
        InvalidUpdateError
            When ``planned_against`` is another package.
        """
        request = {"ModelPackageArn": self.ModelPackageArn, **self.changes}
        body = request if planned_against is None else {"Request": request, **self.observed_state(planned_against)}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).digest()
        return str(uuid.UUID(bytes=digest[:16]))

    def observed_state(self, package: ModelPackage) -> dict[str, Any]:
        """The state of ``package`` this change was planned against, as the ClientToken names it.

        ``LastModifiedTime`` moves on every write, so it tells a change planned again after a write
        (even one that restored an earlier value) from a retry of the same plan. Alongside it, the
        current values of exactly the members the request changes (only those: a value of a member
        the request leaves alone is not what the change was planned against), for when the
        description carries no ``LastModifiedTime``: for metadata the current values of the keys set
        or removed, an absent key left out; for ``AdditionalInferenceSpecificationsToAdd`` the names
        attached; for every other member its current value.

        Parameters
        ----------
        package
            The package as DescribeModelPackage returned it.

        Returns
        -------
        dict
            ``{"LastModifiedTime": <ISO-8601 UTC or None>, "CurrentValues": {member: value}}``.

        Raises
        ------
        InvalidUpdateError
            When ``package`` is another package than the one this request targets.
        """
        if package.ModelPackageArn != self.ModelPackageArn:
            raise InvalidUpdateError(
                [Violation("ModelPackageArn", truncate(self.ModelPackageArn), f"must be {package.ModelPackageArn}")]
            )
        current_values = {member: self._current_value(member, package) for member in self.changes}
        return {"LastModifiedTime": _utc_iso(package.LastModifiedTime), "CurrentValues": current_values}

    def _current_value(self, member: str, package: ModelPackage) -> Any:
        """What ``package`` holds now for a member this request changes."""
        if member in ("CustomerMetadataProperties", "CustomerMetadataPropertiesToRemove"):
            current = package.CustomerMetadataProperties
            return {key: current[key] for key in getattr(self, member) if key in current}
        if member == "AdditionalInferenceSpecificationsToAdd":
            return sorted(package.specification_names)
        return getattr(package, member)

    def with_client_token(self, planned_against: ModelPackage | None = None) -> PackageUpdate:
        """This request with its deterministic ClientToken set (kept if one is already set).

        Parameters
        ----------
        planned_against
            The package the change was planned against; see :meth:`derive_client_token`.
        """
        if self.ClientToken is not None:
            return self
        return self.model_copy(update={"ClientToken": self.derive_client_token(planned_against)})

    def check_against(self, package: ModelPackage) -> None:
        """Check the rules that depend on the package's current state.

        Raises
        ------
        InvalidUpdateError
            When the request targets another package, would exceed 15 additional specifications,
            reuses a specification name already on the package, would leave more than 50 metadata
            entries, or changes the content of an Archived model card.
        """
        violations: list[Violation] = []
        if package.ModelPackageArn != self.ModelPackageArn:
            violations.append(
                Violation("ModelPackageArn", truncate(self.ModelPackageArn), f"must be {package.ModelPackageArn}")
            )
        new_specs = self.AdditionalInferenceSpecificationsToAdd or []
        taken = sorted(package.specification_names & {spec.Name for spec in new_specs})
        if taken:
            violations.append(
                Violation(
                    "AdditionalInferenceSpecificationsToAdd",
                    truncate(taken),
                    "names must be unique within the package; already attached",
                )
            )
        total = len(package.AdditionalInferenceSpecifications) + len(new_specs)
        if new_specs and total > MAX_ADDITIONAL_SPECIFICATIONS:
            violations.append(
                Violation(
                    "AdditionalInferenceSpecificationsToAdd",
                    f"{len(new_specs)} new + {len(package.AdditionalInferenceSpecifications)} existing",
                    f"a package holds at most {MAX_ADDITIONAL_SPECIFICATIONS} additional inference specifications",
                )
            )
        merged = (set(package.CustomerMetadataProperties) - set(self.CustomerMetadataPropertiesToRemove or [])) | set(
            self.CustomerMetadataProperties or {}
        )
        if len(merged) > MAX_METADATA_ENTRIES:
            violations.append(
                Violation(
                    "CustomerMetadataProperties",
                    f"{len(merged)} entries after merge",
                    f"a package holds at most {MAX_METADATA_ENTRIES} metadata entries",
                )
            )
        card = self.ModelCard
        if card is not None and card.ModelCardContent is not None and package.model_card_status == "Archived":
            current = (package.ModelCard or {}).get("ModelCardContent")
            if card.ModelCardContent != current:
                violations.append(
                    Violation(
                        "ModelCard.ModelCardContent",
                        truncate(card.ModelCardContent),
                        "an Archived model card's content cannot be updated",
                    )
                )
        if violations:
            raise InvalidUpdateError(violations)


def _utc_iso(moment: datetime | None) -> str | None:
    """A time as one canonical string whatever its zone (botocore answers in local time); naive is UTC."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")
