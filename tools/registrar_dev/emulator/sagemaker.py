"""moto's SageMaker, with the departures this project depends on corrected.

:class:`EmulatorSageMakerBackend` subclasses moto's ``SageMakerModelBackend``; the emulator makes moto
build it for every account and region, and routes SageMaker requests to
:class:`EmulatorSageMakerResponse`, a subclass of moto's handler that passes every member through.
Departures corrected (docs/sagemaker.md#departures-corrected):

1. UpdateModelPackage set ``ModelApprovalStatus`` and ``ApprovalDescription`` to nothing when the
   request left them out: members absent from the request are now left unchanged.
2. UpdateModelPackage replaced (or, when absent, erased) ``CustomerMetadataProperties``: the given map
   now merges into the existing one, overwriting keys, and ``CustomerMetadataPropertiesToRemove``
   deletes keys.
3. ``AdditionalInferenceSpecificationsToAdd`` accepted a name already on the package, duplicate names,
   names outside ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``, and more than 15 in total: each is now a
   ``ValidationException`` naming the problem, and nothing is changed. moto also checked instance
   types against its own short lists (no ``ml.inf2``/``ml.trn1`` transform types): they are now
   checked against the service model's enums (:mod:`registrar._shapes`).
4. ``ModelLifeCycle``, ``ModelCard``, ``SourceUri`` and ``InferenceSpecification`` given to
   UpdateModelPackage (and the first three given to CreateModelPackage) were dropped: they are now kept
   and returned by DescribeModelPackage. Updating ``ModelCardContent`` while the card is
   ``Archived`` is a ``ValidationException`` "Model Card is in Archived state".
5. ``ClientToken`` was ignored. UpdateModelPackage now remembers each token with its request until
   the emulator's state is reset: the same token with the same request is a no-op returning the same
   ``ModelPackageArn`` (and publishes no event); the same token with a different request is refused
   with ``ConflictException``, the one error the service model lists for UpdateModelPackage.
6. No events: CreateModelPackage and every applied UpdateModelPackage publish
   ``SageMaker Model Package State Change`` (see :meth:`EmulatorSageMakerBackend.model_package_event_detail`),
   and a processing job, which now ends at once (``Completed``, or ``Failed``/``Stopped`` when tagged
   ``emulator:outcome``), publishes ``SageMaker Processing Job State Change``. moto also dropped
   ``ProcessingResources`` and ``Environment`` from DescribeProcessingJob: they are kept.

(7, 8 and 10 are in :mod:`registrar_dev.emulator.events`.)

9. UpdateModelPackage accepted what SageMaker refuses (docs/sagemaker.md#validation: maximum lengths, patterns
   and enums come back from the service as ``ValidationException``): a 5000-character
   ``ApprovalDescription``, a metadata value ``<bad>{}``, a 60-character ``ClientToken`` with ``_``, ...
   Every member of the request is now checked against the constraints of the service model's
   ``UpdateModelPackageInput`` as botocore loads it (required members, min/max, patterns, enums, through
   nested structures, lists and maps: :mod:`registrar_dev.emulator.constraints`), and against the documented
   rules the model lacks: at most 50 ``CustomerMetadataProperties`` once merged with the package's, at
   most 16 ``Environment`` entries per container. (A key both set and removed in one request is not
   refused: no documented rule says so; registrar refuses to send one itself.) A refusal is a
   ``ValidationException`` naming the member and the rule, before the package or the ``ClientToken`` is
   looked at: nothing is changed, the token is not spent, no event is published.

Compilation jobs are built as :class:`registrar_dev.emulator.neo.NeoCompilationJob`; endpoints (15-17: UpdateEndpoint,
endpoint events, shadow variants) are :mod:`registrar_dev.emulator.endpoints`, and model package group policies and
calls naming another account's groups and versions (21) are :mod:`registrar_dev.emulator.package_groups`, both mixed
into the two classes below.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from moto.core.responses import ActionResult
from moto.sagemaker import urls as moto_sagemaker_urls
from moto.sagemaker.exceptions import ConflictException, ValidationError
from moto.sagemaker.models import FakeProcessingJob, ModelPackage, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import validate_model_approval_status

from registrar._shapes import MODEL_CARD_STATUSES, REALTIME_INSTANCE_TYPES, TRANSFORM_INSTANCE_TYPES
from registrar_dev.emulator import clock, constraints, events
from registrar_dev.emulator.endpoints import EndpointsBackend, EndpointsResponse
from registrar_dev.emulator.neo import NeoCompilationJob
from registrar_dev.emulator.outcome import requested_outcome
from registrar_dev.emulator.package_groups import (
    PackageGroupPoliciesBackend,
    PackageGroupPoliciesResponse,
    parse_sagemaker_arn,
)

MAX_ADDITIONAL_SPECIFICATIONS = 15
# Documented limits the service model does not carry (docs/sagemaker.md#metadata, #limits): at most 50
# metadata entries on a package (the model limits only the request's map), and "up to 16 entries" in a
# container's Environment (the model says 100; docs/sagemaker.md#limits takes 16 as the service limit).
MAX_CUSTOMER_METADATA_PROPERTIES = 50
MAX_ENVIRONMENT_ENTRIES = 16
ARCHIVED_CARD_MESSAGE = "Model Card is in Archived state"
PROCESSING_FAILURE_REASON = "AlgorithmError: emulator:outcome=Failed: processing failed as requested"
PROCESSING_FINAL_STATUSES = ("Completed", "Failed", "Stopped")

_ENTITY_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")

# DescribeModelPackage member -> its spelling in UpdatedModelPackageFields (the documented values).
_UPDATED_FIELDS = {
    "ModelApprovalStatus": "ModelApprovalStatus",
    "ApprovalDescription": "ApprovalDescription",
    "CustomerMetadataProperties": "CustomerMetadataProperties",
    "ModelLifeCycle": "ModelLifeCycle",
    "InferenceSpecification": "InferenceSpecification",
    "SourceUri": "sourceUri",
    "AdditionalInferenceSpecifications": "AdditionalInferenceSpecifications",
}


def install() -> None:
    """Check instance types against the service model's enums instead of moto's short lists.

    Also compiles UpdateModelPackage's constraints (fix 9) now, rather than on the first request.
    """
    constraints.input_shape("sagemaker", "UpdateModelPackage")
    ModelPackage.validate_supported_transform_instance_types = staticmethod(  # type: ignore[method-assign,assignment]
        _enum_validator("SupportedTransformInstanceTypes", TRANSFORM_INSTANCE_TYPES)
    )
    ModelPackage.validate_supported_realtime_inference_instance_types = staticmethod(  # type: ignore[method-assign,assignment]
        _enum_validator("SupportedRealtimeInferenceInstanceTypes", REALTIME_INSTANCE_TYPES)
    )


def _enum_validator(member: str, allowed: tuple[str, ...]) -> Callable[[list[str]], None]:
    def validate(values: list[str]) -> None:
        for value in values:
            if value not in allowed:
                raise ValidationError(
                    f"Value '{value}' at '{member}' failed to satisfy constraint: "
                    "Member must satisfy enum value set of the service model"
                )

    return validate


_P = ParamSpec("_P")
_R = TypeVar("_R")

# moto's server answers on several threads, and a model package update is a read-modify-write (moto also
# numbers a new version by counting the group's packages): concurrent writers must not interleave.
_model_package_writes = threading.RLock()


def _serialised(
    method: Callable[Concatenate[EmulatorSageMakerBackend, _P], _R],
) -> Callable[Concatenate[EmulatorSageMakerBackend, _P], _R]:
    @functools.wraps(method)
    def serialised(self: EmulatorSageMakerBackend, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _model_package_writes:
            return method(self, *args, **kwargs)

    return serialised


def _json_ready(value: Any, render_time: Callable[[datetime], Any]) -> Any:
    if isinstance(value, datetime):
        return render_time(value)
    if isinstance(value, dict):
        return {key: _json_ready(item, render_time) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item, render_time) for item in value]
    return value


class EmulatorProcessingJob(FakeProcessingJob):
    """A moto processing job that has already ended, keeping the members moto drops.

    Parameters
    ----------
    processing_resources
        ``ProcessingResources`` of the request.
    environment
        ``Environment`` of the request.
    **kwargs
        moto's ``FakeProcessingJob`` arguments.
    """

    def __init__(self, processing_resources: dict[str, Any], environment: dict[str, str] | None, **kwargs: Any):
        status = requested_outcome(kwargs.get("tags"), PROCESSING_FINAL_STATUSES, default="Completed")
        super().__init__(**kwargs)
        started = clock.now()
        self.creation_time = started
        self.processing_start_time = started
        self.processing_resources = processing_resources
        self.environment = environment
        self.processing_job_status = status
        self.failure_reason = PROCESSING_FAILURE_REASON if status == "Failed" else None
        ended = clock.now()
        self.processing_end_time = ended
        self.last_modified_time = ended


class EmulatorSageMakerBackend(PackageGroupPoliciesBackend, EndpointsBackend, SageMakerModelBackend):
    """moto's SageMaker backend with the fixes listed in the module docstring.

    Parameters
    ----------
    region_name, account_id
        Where this backend's resources live.
    """

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        # Model package ARN -> members moto's ModelPackage does not keep (ModelLifeCycle, ModelCard, SourceUri).
        self.kept_package_members: dict[str, dict[str, Any]] = {}
        # UpdateModelPackage ClientToken -> (request fingerprint, ModelPackageArn).
        self.update_model_package_tokens: dict[str, tuple[str, str]] = {}

    @property
    def _url_module(self) -> Any:
        # BaseBackend derives the URL module from the class's module; ours lives outside moto.
        return SimpleNamespace(
            url_bases=moto_sagemaker_urls.url_bases,
            url_paths=dict.fromkeys(moto_sagemaker_urls.url_paths, EmulatorSageMakerResponse.dispatch),
        )

    # Model packages

    def describe_model_package_output(self, model_package_name: str) -> dict[str, Any]:
        """Describe a model package with the members moto drops.

        Parameters
        ----------
        model_package_name
            The package's name or ARN.

        Returns
        -------
        dict
            The DescribeModelPackage output (datetimes as ``datetime``), a copy.
        """
        package = self.describe_model_package(model_package_name)
        output = copy.deepcopy(package.gen_response_object())
        output.update(copy.deepcopy(self.kept_package_members.get(package.arn, {})))
        return output

    def model_package_event_detail(self, model_package_arn: str, updated_fields: list[str] | None) -> dict[str, Any]:
        """Build the ``detail`` of a ``SageMaker Model Package State Change`` event.

        Parameters
        ----------
        model_package_arn
            The package the event is about.
        updated_fields
            ``UpdatedModelPackageFields`` for an update; ``None`` for a creation, whose event leaves the
            member out.

        Returns
        -------
        dict
            The DescribeModelPackage output with ISO-8601 times, plus ``UpdatedModelPackageFields``.
        """
        detail: dict[str, Any] = _json_ready(self.describe_model_package_output(model_package_arn), clock.iso)
        if updated_fields is not None:
            detail["UpdatedModelPackageFields"] = updated_fields
        return detail

    @_serialised
    def create_model_package(
        self,
        *args: Any,
        model_life_cycle: dict[str, str] | None = None,
        model_card: dict[str, str] | None = None,
        source_uri: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Create a model package as moto does, keeping the members moto drops, and publish its event.

        Parameters
        ----------
        *args, **kwargs
            moto's ``create_model_package`` arguments.
        model_life_cycle, model_card, source_uri
            ``ModelLifeCycle``, ``ModelCard``, ``SourceUri`` of the request.

        Returns
        -------
        str
            The new package's ARN.
        """
        _validate_model_card_status(model_card)
        if kwargs.get("model_package_group_name"):
            kwargs["model_package_group_name"] = self.group_name(kwargs["model_package_group_name"])
        model_package_arn: str = super().create_model_package(*args, **kwargs)
        package = self.model_packages[model_package_arn]
        package.creation_time = clock.to_millisecond(package.creation_time)
        package.last_modified_time = package.creation_time
        kept = {"ModelLifeCycle": model_life_cycle, "ModelCard": model_card, "SourceUri": source_uri}
        self.kept_package_members[model_package_arn] = {k: v for k, v in kept.items() if v is not None}
        self._publish_model_package(model_package_arn, updated_fields=None)
        return model_package_arn

    @_serialised
    def update_model_package(
        self,
        model_package_arn: str,
        model_approval_status: str | None = None,
        approval_description: str | None = None,
        customer_metadata_properties: dict[str, str] | None = None,
        customer_metadata_properties_to_remove: list[str] | None = None,
        additional_inference_specifications_to_add: list[Any] | None = None,
        *,
        inference_specification: dict[str, Any] | None = None,
        source_uri: str | None = None,
        model_card: dict[str, str] | None = None,
        model_life_cycle: dict[str, str] | None = None,
        client_token: str | None = None,
        model_package_registration_type: str | None = None,
    ) -> str:
        """Update a model package as SageMaker does (fixes 1-6 and 9 of the module docstring).

        Parameters
        ----------
        model_package_arn
            The package's ARN.
        model_approval_status, approval_description, customer_metadata_properties,
        customer_metadata_properties_to_remove, additional_inference_specifications_to_add,
        inference_specification, source_uri, model_card, model_life_cycle, client_token,
        model_package_registration_type
            The request's members; ``None`` means absent, and leaves the package's member unchanged.
            ``model_package_registration_type`` is validated, not kept (moto has no such member).

        Returns
        -------
        str
            The package's ARN.

        Raises
        ------
        moto.sagemaker.exceptions.ValidationError
            A member breaking the service model's constraints or a documented limit (fix 9), unknown
            package, refused additional specifications, or an update of an archived model card's
            content. Nothing is changed.
        moto.sagemaker.exceptions.ConflictException
            ``client_token`` was used before with a different request.
        """
        request = {
            "ModelPackageArn": model_package_arn,
            "ModelApprovalStatus": model_approval_status,
            "ApprovalDescription": approval_description,
            "CustomerMetadataProperties": customer_metadata_properties,
            "CustomerMetadataPropertiesToRemove": customer_metadata_properties_to_remove,
            "AdditionalInferenceSpecificationsToAdd": additional_inference_specifications_to_add,
            "InferenceSpecification": inference_specification,
            "SourceUri": source_uri,
            "ModelCard": model_card,
            "ModelLifeCycle": model_life_cycle,
            "ModelPackageRegistrationType": model_package_registration_type,
        }
        # The service validates the request before it looks at the package or the token.
        _validate_update_request({**request, "ClientToken": client_token})
        fingerprint = json.dumps(request, sort_keys=True, default=str)
        package = self.describe_model_package(model_package_arn)
        if client_token is not None and client_token in self.update_model_package_tokens:
            seen_fingerprint, seen_arn = self.update_model_package_tokens[client_token]
            if seen_fingerprint != fingerprint:
                raise ConflictException(
                    f"ClientToken {client_token} was already used with a different UpdateModelPackage request."
                )
            return seen_arn

        new_specifications = additional_inference_specifications_to_add or []
        validate_model_approval_status(model_approval_status)
        _validate_metadata_total(package, customer_metadata_properties, customer_metadata_properties_to_remove)
        self._validate_new_specifications(package, new_specifications)
        package.validate_additional_inference_specifications(new_specifications)
        _validate_model_card_status(model_card)
        kept = self.kept_package_members.setdefault(package.arn, {})
        card_archived = kept.get("ModelCard", {}).get("ModelCardStatus") == "Archived"
        if card_archived and "ModelCardContent" in (model_card or {}):
            raise ValidationError(ARCHIVED_CARD_MESSAGE)

        before = self.describe_model_package_output(package.arn)
        if model_approval_status is not None:
            package.model_approval_status = model_approval_status
        if approval_description is not None:
            package.approval_description = approval_description
        if customer_metadata_properties is not None or customer_metadata_properties_to_remove:
            merged = {**(package.customer_metadata_properties or {}), **(customer_metadata_properties or {})}
            for key in customer_metadata_properties_to_remove or []:
                merged.pop(key, None)
            package.customer_metadata_properties = merged or None
        if new_specifications:
            existing = package.additional_inference_specifications or []
            package.additional_inference_specifications = [*existing, *copy.deepcopy(new_specifications)]
        if inference_specification is not None:
            package.inference_specification = copy.deepcopy(inference_specification)
        if source_uri is not None:
            kept["SourceUri"] = source_uri
        if model_life_cycle is not None:
            kept["ModelLifeCycle"] = dict(model_life_cycle)
        if model_card is not None:
            kept["ModelCard"] = {**kept.get("ModelCard", {}), **model_card}
        package.modifications_done()
        package.last_modified_time = clock.now()
        after = self.describe_model_package_output(package.arn)

        if client_token is not None:
            self.update_model_package_tokens[client_token] = (fingerprint, package.arn)
        changed = [label for member, label in _UPDATED_FIELDS.items() if before.get(member) != after.get(member)]
        self._publish_model_package(package.arn, updated_fields=changed)
        return package.arn

    def _validate_new_specifications(self, package: ModelPackage, specifications: list[dict[str, Any]]) -> None:
        names = [str(specification.get("Name", "")) for specification in specifications]
        for name in names:
            if not _ENTITY_NAME.fullmatch(name):
                raise ValidationError(
                    f"Value '{name}' at 'additionalInferenceSpecificationsToAdd.member.name' failed to satisfy "
                    f"constraint: Member must satisfy regular expression pattern: {_ENTITY_NAME.pattern}"
                )
        duplicate = _first_duplicate(names)
        if duplicate is not None:
            raise ValidationError(
                f"AdditionalInferenceSpecificationsToAdd names more than one specification '{duplicate}'."
            )
        existing = [
            str(specification.get("Name")) for specification in package.additional_inference_specifications or []
        ]
        for name in names:
            if name in existing:
                raise ValidationError(
                    f"Additional inference specification '{name}' already exists on model package {package.arn}."
                )
        if len(existing) + len(names) > MAX_ADDITIONAL_SPECIFICATIONS:
            raise ValidationError(
                f"A model package can have at most {MAX_ADDITIONAL_SPECIFICATIONS} additional inference "
                f"specifications: {package.arn} has {len(existing)} and {len(names)} were given."
            )

    def _publish_model_package(self, model_package_arn: str, updated_fields: list[str] | None) -> None:
        package = self.model_packages[model_package_arn]
        events.publish(
            self.account_id,
            self.region_name,
            events.MODEL_PACKAGE_STATE_CHANGE,
            [model_package_arn],
            self.model_package_event_detail(model_package_arn, updated_fields),
            at=package.last_modified_time or package.creation_time,
        )

    # Processing jobs

    def create_processing_job(  # type: ignore[override]
        self,
        *,
        processing_resources: dict[str, Any] | None = None,
        environment: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> FakeProcessingJob:
        """Create a processing job that has already ended, and publish its state change.

        Parameters
        ----------
        processing_resources, environment
            ``ProcessingResources`` and ``Environment`` of the request.
        **kwargs
            moto's ``create_processing_job`` arguments.

        Returns
        -------
        FakeProcessingJob
            The job, ``Completed``, or as its ``emulator:outcome`` tag asks.
        """
        job = EmulatorProcessingJob(
            processing_resources=processing_resources or {},
            environment=environment,
            account_id=self.account_id,
            region_name=self.region_name,
            **kwargs,
        )
        self.processing_jobs[job.processing_job_name] = job
        detail = _json_ready({k: v for k, v in job.response_object.items() if k != "Tags"}, clock.epoch_millis)
        events.publish(
            self.account_id,
            self.region_name,
            events.PROCESSING_JOB_STATE_CHANGE,
            [job.arn],
            detail,
            at=job.last_modified_time,
        )
        return job

    # Compilation jobs

    def create_compilation_job(
        self,
        compilation_job_name: str,
        role_arn: str,
        output_config: dict[str, Any],
        stopping_condition: dict[str, Any],
        model_package_version_arn: str | None,
        input_config: dict[str, Any] | None,
        vpc_config: dict[str, Any] | None,
        tags: list[dict[str, str]] | None,
    ) -> str:
        """Create a compilation job that has already ended as Neo's do (:mod:`registrar_dev.emulator.neo`).

        Parameters
        ----------
        compilation_job_name, role_arn, output_config, stopping_condition, model_package_version_arn,
        input_config, vpc_config, tags
            The request's members.

        Returns
        -------
        str
            The job's ARN.
        """
        package = None
        if model_package_version_arn:
            parsed = parse_sagemaker_arn(model_package_version_arn)
            owner = self if parsed is None else sagemaker_backends[parsed[1]][parsed[0]]  # fix 21: any account
            mapped = owner.model_package_name_mapping.get(model_package_version_arn, model_package_version_arn)
            package = owner.model_packages.get(mapped)
        job = NeoCompilationJob(
            model_package=package,
            compilation_job_name=compilation_job_name,
            role_arn=role_arn,
            region_name=self.region_name,
            account_id=self.account_id,
            model_package_version_arn=model_package_version_arn,
            input_config=input_config,
            output_config=output_config,
            vpc_config=vpc_config,
            stopping_condition=stopping_condition,
            tags=tags,
        )
        self.compilation_jobs[compilation_job_name] = job
        return job.arn


def _validate_update_request(request: dict[str, Any]) -> None:
    """Refuse an UpdateModelPackage request as the service would, before anything is read or changed.

    Checks every constraint of the service model's input shape (:mod:`registrar_dev.emulator.constraints`),
    then the documented rules the model does not carry. ``None`` members are absent.
    """
    present = {member: value for member, value in request.items() if value is not None}
    problems = constraints.violations(constraints.input_shape("sagemaker", "UpdateModelPackage"), present, "")
    for member in ("InferenceSpecification", "AdditionalInferenceSpecificationsToAdd"):
        problems.extend(_environment_problems(member, present.get(member)))
    if problems:
        raise ValidationError(constraints.message(problems))


def _environment_problems(member: str, value: Any) -> list[str]:
    """Containers whose ``Environment`` has more than the documented 16 entries (docs/sagemaker.md#limits)."""
    if isinstance(value, dict):
        specifications = [(constraints.member_path("", member), value)]
    elif isinstance(value, list):
        path = constraints.member_path("", member)
        specifications = [(f"{path}.{index}.member", item) for index, item in enumerate(value, start=1)]
    else:
        return []
    problems = []
    for path, specification in specifications:
        containers = specification.get("Containers") if isinstance(specification, dict) else None
        for index, container in enumerate(containers if isinstance(containers, list) else [], start=1):
            environment = container.get("Environment") if isinstance(container, dict) else None
            if isinstance(environment, dict) and len(environment) > MAX_ENVIRONMENT_ENTRIES:
                problems.append(
                    constraints.failure(
                        None,
                        environment,
                        f"{path}.containers.{index}.member.environment",
                        f"Member must have length less than or equal to {MAX_ENVIRONMENT_ENTRIES}",
                    )
                )
    return problems


def _validate_metadata_total(package: ModelPackage, given: dict[str, str] | None, removed: list[str] | None) -> None:
    """Refuse an update that would leave more than 50 metadata entries on the package (docs/sagemaker.md#metadata)."""
    if not given:
        return
    merged = {**(package.customer_metadata_properties or {}), **given}
    for key in removed or []:
        merged.pop(key, None)
    if len(merged) > MAX_CUSTOMER_METADATA_PROPERTIES:
        raise ValidationError(
            f"A model package can have at most {MAX_CUSTOMER_METADATA_PROPERTIES} CustomerMetadataProperties: "
            f"{package.arn} has {len(package.customer_metadata_properties or {})}, and merging the "
            f"{len(given)} given (less {len(removed or [])} removed) would leave {len(merged)}."
        )


def _validate_model_card_status(model_card: dict[str, str] | None) -> None:
    status = (model_card or {}).get("ModelCardStatus")
    if status is not None and status not in MODEL_CARD_STATUSES:
        raise ValidationError(
            f"Value '{status}' at 'modelCard.modelCardStatus' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(MODEL_CARD_STATUSES)}]"
        )


def _first_duplicate(values: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


class EmulatorSageMakerResponse(PackageGroupPoliciesResponse, EndpointsResponse, SageMakerResponse):
    """moto's SageMaker handler, passing the members moto drops to :class:`EmulatorSageMakerBackend`."""

    @property
    def sagemaker_backend(self) -> EmulatorSageMakerBackend:
        """The backend of the request's account and region."""
        return cast(EmulatorSageMakerBackend, super().sagemaker_backend)

    def describe_model_package(self) -> ActionResult:
        """Answer DescribeModelPackage, with ModelLifeCycle, ModelCard and SourceUri."""
        return ActionResult(self.sagemaker_backend.describe_model_package_output(self._get_param("ModelPackageName")))

    def update_model_package(self) -> ActionResult:
        """Answer UpdateModelPackage with every member of the request."""
        model_package_arn = self.sagemaker_backend.update_model_package(
            model_package_arn=self._get_param("ModelPackageArn"),
            model_approval_status=self._get_param("ModelApprovalStatus"),
            approval_description=self._get_param("ApprovalDescription"),
            customer_metadata_properties=self._get_param("CustomerMetadataProperties"),
            customer_metadata_properties_to_remove=self._get_param("CustomerMetadataPropertiesToRemove"),
            additional_inference_specifications_to_add=self._get_param("AdditionalInferenceSpecificationsToAdd"),
            inference_specification=self._get_param("InferenceSpecification"),
            source_uri=self._get_param("SourceUri"),
            model_card=self._get_param("ModelCard"),
            model_life_cycle=self._get_param("ModelLifeCycle"),
            client_token=self._get_param("ClientToken"),
            model_package_registration_type=self._get_param("ModelPackageRegistrationType"),
        )
        return ActionResult({"ModelPackageArn": model_package_arn})

    def create_model_package(self) -> ActionResult:
        """Answer CreateModelPackage, keeping ModelLifeCycle, ModelCard and SourceUri."""
        model_package_arn = self.sagemaker_backend.create_model_package(
            model_package_name=self._get_param("ModelPackageName"),
            model_package_group_name=self._get_param("ModelPackageGroupName"),
            model_package_description=self._get_param("ModelPackageDescription"),
            inference_specification=self._get_param("InferenceSpecification"),
            validation_specification=self._get_param("ValidationSpecification"),
            source_algorithm_specification=self._get_param("SourceAlgorithmSpecification"),
            certify_for_marketplace=self._get_param("CertifyForMarketplace", False),
            tags=self._get_param("Tags"),
            model_approval_status=self._get_param("ModelApprovalStatus"),
            metadata_properties=self._get_param("MetadataProperties"),
            model_metrics=self._get_param("ModelMetrics"),
            client_token=self._get_param("ClientToken"),
            customer_metadata_properties=self._get_param("CustomerMetadataProperties"),
            drift_check_baselines=self._get_param("DriftCheckBaselines"),
            domain=self._get_param("Domain"),
            task=self._get_param("Task"),
            sample_payload_url=self._get_param("SamplePayloadUrl"),
            additional_inference_specifications=self._get_param("AdditionalInferenceSpecifications"),
            model_life_cycle=self._get_param("ModelLifeCycle"),
            model_card=self._get_param("ModelCard"),
            source_uri=self._get_param("SourceUri"),
        )
        return ActionResult({"ModelPackageArn": model_package_arn})

    def create_processing_job(self) -> ActionResult:
        """Answer CreateProcessingJob, keeping ProcessingResources and Environment."""
        job = self.sagemaker_backend.create_processing_job(
            app_specification=self._get_param("AppSpecification"),
            experiment_config=self._get_param("ExperimentConfig"),
            network_config=self._get_param("NetworkConfig"),
            processing_inputs=self._get_param("ProcessingInputs"),
            processing_job_name=self._get_param("ProcessingJobName"),
            processing_output_config=self._get_param("ProcessingOutputConfig"),
            role_arn=self._get_param("RoleArn"),
            stopping_condition=self._get_param("StoppingCondition"),
            tags=self._get_param("Tags"),
            processing_resources=self._get_param("ProcessingResources"),
            environment=self._get_param("Environment"),
        )
        return ActionResult({"ProcessingJobArn": job.arn})
