"""Properties of PackageUpdate and plan, over generated inputs (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrar import _shapes
from registrar.errors import InvalidUpdateError
from registrar.plan import plan
from registrar.updates import AdditionalInferenceSpecification, PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(SETTINGS, max_examples=50)  # generated specifications are costly to draw: keeps the suite fast

# CustomerMetadata keys and values: letters, numbers, separators (spaces) and _.:/=+-@
_metadata_char = st.one_of(st.characters(categories=("L", "N", "Z")), st.sampled_from("_.:/=+-@"))
metadata_keys = st.text(_metadata_char, min_size=1, max_size=128)
metadata_values = st.text(_metadata_char, min_size=1, max_size=256)
metadata_maps = st.dictionaries(metadata_keys, metadata_values, min_size=1, max_size=50)

# EntityName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; built from parts, as from_regex is slow to draw from
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_words = st.text(ALNUM, min_size=1, max_size=8)
spec_names = st.lists(_words, min_size=1, max_size=6).map("-".join)
env_keys = st.builds(
    lambda head, tail: head + tail, st.sampled_from(ALNUM[:52] + "_"), st.text(ALNUM + "_", max_size=20)
)
containers = st.fixed_dictionaries(
    {
        "Image": st.builds("{}/{}:{}".format, _words, _words, _words),
        "ModelDataUrl": st.builds("s3://{}/{}/model.tar.gz".format, _words.map(str.lower), _words),
    },
    optional={
        "Environment": st.dictionaries(env_keys, st.text(max_size=30), max_size=16),
        "FrameworkVersion": st.builds("{}.{}".format, st.integers(0, 9), st.integers(0, 999)),
    },
)


@st.composite
def specifications(draw: Any, name: Any = spec_names) -> dict[str, Any]:
    spec: dict[str, Any] = {"Name": draw(name), "Containers": draw(st.lists(containers, min_size=1, max_size=3))}
    transform = draw(st.lists(st.sampled_from(_shapes.TRANSFORM_INSTANCE_TYPES), max_size=4, unique=True))
    if transform:
        spec["SupportedTransformInstanceTypes"] = transform
    realtime = draw(st.lists(st.sampled_from(_shapes.REALTIME_INSTANCE_TYPES), max_size=4, unique=True))
    if realtime:
        spec["SupportedRealtimeInferenceInstanceTypes"] = realtime
    return spec


def unique_specs(max_size: int) -> Any:
    return st.lists(specifications(), min_size=1, max_size=max_size, unique_by=lambda spec: spec["Name"])


@SETTINGS
@given(metadata=metadata_maps)
def test_valid_metadata_always_validates_and_round_trips(metadata: dict[str, str]) -> None:
    # GIVEN any metadata map within the API's rules
    # WHEN an update carrying it is built and serialised
    update = PackageUpdate(ModelPackageArn=ARN, CustomerMetadataProperties=metadata)
    request = update.to_request()
    # THEN it is sent unchanged and reads back as the same update
    assert request["CustomerMetadataProperties"] == metadata
    assert PackageUpdate.from_request(request) == update


@HEAVY
@given(specs=unique_specs(max_size=15))
def test_valid_specifications_always_validate_and_round_trip(
    specs: list[dict[str, Any]], update_input_shape: Any
) -> None:
    # GIVEN up to 15 valid specifications with distinct names
    # WHEN an update adding them is built and serialised
    update = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=specs)
    request = update.to_request()
    # THEN the request is exactly the input, reads back the same and satisfies botocore's validator
    assert request["AdditionalInferenceSpecificationsToAdd"] == specs
    assert PackageUpdate.from_request(request) == update
    assert not ParamValidator().validate(request, update_input_shape).has_errors()


@st.composite
def package_and_desired(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A package's describe fields and a desired change that stays within the package rules."""
    keys = st.sampled_from([f"k{i}" for i in range(20)])
    values = st.sampled_from(["a", "b", "c"])
    package: dict[str, Any] = {
        "ModelApprovalStatus": draw(st.sampled_from(_shapes.MODEL_APPROVAL_STATUSES)),
        "ApprovalDescription": draw(st.none() | st.sampled_from(["", "old", "new"])),
        "CustomerMetadataProperties": draw(st.dictionaries(keys, values, max_size=20)),
        "specifications": draw(st.integers(0, 5)),
    }
    if draw(st.booleans()):
        package["ModelLifeCycle"] = {"Stage": draw(st.sampled_from(["dev", "prod"])), "StageStatus": "ok"}
    wanted: dict[str, Any] = {}
    if draw(st.booleans()):
        wanted["ModelApprovalStatus"] = draw(st.sampled_from(_shapes.MODEL_APPROVAL_STATUSES))
    if draw(st.booleans()):
        wanted["ApprovalDescription"] = draw(st.sampled_from(["", "old", "new"]))
    metadata = draw(st.dictionaries(keys, values, max_size=20))
    if metadata:
        wanted["CustomerMetadataProperties"] = metadata
    removals = draw(st.lists(keys.filter(lambda key: key not in metadata), max_size=5))
    if removals:
        wanted["CustomerMetadataPropertiesToRemove"] = removals
    names = draw(st.lists(st.sampled_from([f"attached-{i}" for i in range(5)] + ["neo-a", "neo-b"]), unique=True))
    if names:
        wanted["AdditionalInferenceSpecificationsToAdd"] = [draw(specifications(name=st.just(n))) for n in names]
    if draw(st.booleans()):
        wanted["ModelLifeCycle"] = {"Stage": draw(st.sampled_from(["dev", "prod"])), "StageStatus": "ok"}
    return package, wanted


@HEAVY
@given(case=package_and_desired())
def test_planning_twice_is_planning_once(
    case: tuple[dict[str, Any], dict[str, Any]], make_package: Any, apply_to: Any
) -> None:
    # GIVEN any package and any desired change within the package rules
    fields, wanted = case
    package = make_package(**fields)
    desired = PackageUpdate(ModelPackageArn=ARN, **wanted)
    # WHEN the change is planned, applied, and planned again
    first = plan(desired, package)
    updated = package if first is None else apply_to(package, first)
    # THEN the second plan has nothing left to do
    assert plan(desired, updated) is None


@HEAVY
@given(case=package_and_desired())
def test_plan_never_sends_what_the_package_already_has(
    case: tuple[dict[str, Any], dict[str, Any]], make_package: Any
) -> None:
    # GIVEN any package and any desired change
    fields, wanted = case
    package = make_package(**fields)
    # WHEN it is planned
    update = plan(PackageUpdate(ModelPackageArn=ARN, **wanted), package)
    # THEN no planned metadata entry, removal or specification name is already in place
    if update is not None:
        current = package.CustomerMetadataProperties
        assert all(current.get(k) != v for k, v in (update.CustomerMetadataProperties or {}).items())
        assert all(k in current for k in update.CustomerMetadataPropertiesToRemove or [])
        names = {spec.Name for spec in update.AdditionalInferenceSpecificationsToAdd or []}
        assert not names & package.specification_names


@SETTINGS
@given(before=st.text(max_size=30), after=st.text(max_size=30))
def test_any_name_with_an_underscore_is_refused(before: str, after: str) -> None:
    # GIVEN any string containing an underscore (Neo targets such as ml_c5 are the classic case)
    name = f"{before}_{after}"
    # WHEN it is used as a specification name
    with pytest.raises(InvalidUpdateError) as caught:
        AdditionalInferenceSpecification(Name=name, Containers=[{"Image": "repo/image:1"}])
    # THEN the name is refused
    assert [v.field for v in caught.value.violations] == ["Name"]


@HEAVY
@given(specs=unique_specs(max_size=3), status=st.sampled_from(_shapes.MODEL_APPROVAL_STATUSES))
def test_derived_token_always_matches_the_api_rule(specs: list[dict[str, Any]], status: str) -> None:
    # GIVEN any valid update
    update = PackageUpdate(
        ModelPackageArn=ARN, ModelApprovalStatus=status, AdditionalInferenceSpecificationsToAdd=specs
    )
    # WHEN its token is set
    # THEN the token is accepted by the API's own ClientToken rule (revalidating the request)
    assert PackageUpdate.from_request(update.with_client_token().to_request()).ClientToken is not None
