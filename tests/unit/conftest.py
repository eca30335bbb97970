"""Unit-level fixtures: builders for model packages, specifications and requests, all pure."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape

from registrar.package import ModelPackage
from registrar.updates import PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
OTHER_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/4"

SpecBuilder = Callable[..., dict[str, Any]]
PackageFactory = Callable[..., ModelPackage]
Applier = Callable[[ModelPackage, PackageUpdate], ModelPackage]


def _valid_spec(name: str = "neo-ml-c5", **overrides: Any) -> dict[str, Any]:
    """An AdditionalInferenceSpecificationDefinition that breaks no rule, as a request dict."""
    spec: dict[str, Any] = {
        "Name": name,
        "Description": "Neo-compiled for ml_c5",
        "Containers": [
            {
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/neo-xgboost:1.7-cpu",
                "ModelDataUrl": f"s3://models/compiled/{name}/model.tar.gz",
                "Framework": "XGBOOST",
                "FrameworkVersion": "1.7",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            }
        ],
        "SupportedTransformInstanceTypes": ["ml.c5.xlarge"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.c5.large", "ml.c5.xlarge"],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    spec.update(overrides)
    return spec


def _make_package(**fields: Any) -> ModelPackage:
    """A ModelPackage as DescribeModelPackage would return it; ``fields`` override the defaults.

    ``specifications=n`` attaches ``n`` additional specifications named ``attached-0`` ... ``attached-{n-1}``.
    """
    count = fields.pop("specifications", 0)
    description: dict[str, Any] = {
        "ModelPackageArn": ARN,
        "ModelPackageGroupName": "churn",
        "ModelPackageVersion": 3,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        "AdditionalInferenceSpecifications": [_valid_spec(f"attached-{i}") for i in range(count)],
    }
    description.update(fields)
    return ModelPackage.model_validate(description)


def _apply_to(package: ModelPackage, update: PackageUpdate) -> ModelPackage:
    """What SageMaker does with an UpdateModelPackage request (sagemaker-facts.md §3), purely.

    Members left out are unchanged; metadata is merged then the removed keys deleted; specifications
    are appended; life cycle, model card, source URI and inference specification are replaced.
    """
    request = update.to_request()
    state = package.model_dump(exclude_none=True)
    for member in ("ModelApprovalStatus", "ApprovalDescription", "SourceUri"):
        if member in request:
            state[member] = request[member]
    metadata = {**state.get("CustomerMetadataProperties", {}), **request.get("CustomerMetadataProperties", {})}
    for key in request.get("CustomerMetadataPropertiesToRemove", []):
        metadata.pop(key, None)
    state["CustomerMetadataProperties"] = metadata
    state["AdditionalInferenceSpecifications"] = [
        *state.get("AdditionalInferenceSpecifications", []),
        *copy.deepcopy(request.get("AdditionalInferenceSpecificationsToAdd", [])),
    ]
    for member in ("ModelLifeCycle", "ModelCard", "InferenceSpecification"):
        if member in request:
            state[member] = copy.deepcopy(request[member])
    return ModelPackage.model_validate(state)


@pytest.fixture(scope="session")
def valid_spec() -> SpecBuilder:
    """Builder: ``valid_spec(name="...", **member_overrides)`` -> a valid additional specification dict."""
    return _valid_spec


@pytest.fixture(scope="session")
def make_package() -> PackageFactory:
    """Factory: ``make_package(**describe_fields, specifications=n)`` -> ModelPackage."""
    return _make_package


@pytest.fixture(scope="session")
def apply_to() -> Applier:
    """Pure simulation of the service applying an update: ``apply_to(package, update)`` -> new package."""
    return _apply_to


@pytest.fixture(scope="session")
def arn() -> str:
    """The ARN every default package and request uses."""
    return ARN


@pytest.fixture(scope="session")
def other_arn() -> str:
    """A valid ARN of another version of the same group."""
    return OTHER_ARN


@pytest.fixture(scope="session")
def update_input_shape() -> Shape:
    """botocore's own ``UpdateModelPackageInput`` shape, read from the installed service model (no network)."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("UpdateModelPackage").input_shape
    assert shape is not None
    return shape
