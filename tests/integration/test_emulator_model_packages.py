"""The emulator's UpdateModelPackage/DescribeModelPackage behave as SageMaker's (sagemaker-facts.md §5.1-5.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import AdditionalInferenceSpecificationDefinitionTypeDef

MakePackage = Callable[..., str]


def spec(name: str, **members: Any) -> AdditionalInferenceSpecificationDefinitionTypeDef:
    """An additional inference specification for a compiled model."""
    specification = {
        "Name": name,
        "Containers": [{"Image": "img", "ModelDataUrl": f"s3://registrar-test-artifacts/{name}.tar.gz"}],
        **members,
    }
    return cast("AdditionalInferenceSpecificationDefinitionTypeDef", specification)


def test_update_with_only_specifications_keeps_approval(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN an approved package with an approval description
    arn = make_package()
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="good")

    # WHEN only an additional specification is added
    sagemaker.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[spec("ml-c5")])

    # THEN the approval status and description are unchanged
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert (described["ModelApprovalStatus"], described["ApprovalDescription"]) == ("Approved", "good")


def test_update_merges_customer_metadata(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package with metadata a=1, b=2
    arn = make_package(CustomerMetadataProperties={"a": "1", "b": "2"})

    # WHEN metadata b=3, c=4 is given
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"b": "3", "c": "4"})

    # THEN the maps are merged, the given keys overwriting
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {"a": "1", "b": "3", "c": "4"}


def test_update_removes_customer_metadata_keys(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package with metadata a=1, b=2
    arn = make_package(CustomerMetadataProperties={"a": "1", "b": "2"})

    # WHEN key a is removed
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataPropertiesToRemove=["a"])

    # THEN only b remains
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {"b": "2"}


def test_update_without_customer_metadata_keeps_it(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package with metadata a=1
    arn = make_package(CustomerMetadataProperties={"a": "1"})

    # WHEN an update leaves the metadata out
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    # THEN the metadata is unchanged
    assert sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {"a": "1"}


@pytest.mark.parametrize(
    ("existing", "added", "problem"),
    [
        (["ml-c5"], ["ml-c5"], "already exists"),
        ([], ["ml-c5", "ml-c5"], "more than one"),
        ([f"spec-{i}" for i in range(15)], ["ml-c5"], "at most 15"),
        ([], ["ml_c5"], "regular expression"),
    ],
    ids=["name-on-package", "duplicate-in-request", "sixteenth", "underscore-in-name"],
)
def test_update_refuses_bad_additional_specifications(
    sagemaker: SageMakerClient, make_package: MakePackage, existing: list[str], added: list[str], problem: str
) -> None:
    # GIVEN a package with some additional specifications
    arn = make_package()
    for start in range(0, len(existing), 10):
        batch = [spec(name) for name in existing[start : start + 10]]
        sagemaker.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=batch)

    # WHEN a refused set of specifications is added
    with pytest.raises(ClientError) as raised:
        sagemaker.update_model_package(
            ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[spec(n) for n in added]
        )

    # THEN SageMaker's ValidationException names the problem
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert problem in raised.value.response["Error"]["Message"]


def test_refused_update_changes_nothing(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package with one additional specification
    arn = make_package()
    sagemaker.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[spec("ml-c5")])
    before = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    before.pop("ResponseMetadata")

    # WHEN an update adding the same name, and approving, is refused
    with pytest.raises(ClientError):
        sagemaker.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved", AdditionalInferenceSpecificationsToAdd=[spec("ml-c5")]
        )

    # THEN the package is as it was
    after = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    after.pop("ResponseMetadata")
    assert after == before


def test_update_accepts_service_model_instance_types(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package
    arn = make_package()

    # WHEN a specification for ml.inf2 is added (absent from moto's own transform instance list)
    added = spec(
        "ml-inf2",
        SupportedTransformInstanceTypes=["ml.inf2.xlarge"],
        SupportedRealtimeInferenceInstanceTypes=["ml.inf2.xlarge"],
    )
    sagemaker.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[added])

    # THEN it is stored
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["AdditionalInferenceSpecifications"][0]["SupportedTransformInstanceTypes"] == ["ml.inf2.xlarge"]


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("ModelLifeCycle", {"Stage": "Production", "StageStatus": "Approved", "StageDescription": "go"}),
        ("ModelCard", {"ModelCardContent": '{"model_overview": {}}', "ModelCardStatus": "Draft"}),
        ("SourceUri", "s3://registrar-test-artifacts/source/model.tar.gz"),
        (
            "InferenceSpecification",
            {"Containers": [{"Image": "new-image"}], "SupportedContentTypes": ["application/json"]},
        ),
    ],
)
def test_update_stores_member(sagemaker: SageMakerClient, make_package: MakePackage, member: str, value: Any) -> None:
    # GIVEN a package
    arn = make_package()

    # WHEN the member is updated
    sagemaker.update_model_package(ModelPackageArn=arn, **{member: value})

    # THEN DescribeModelPackage returns it
    assert sagemaker.describe_model_package(ModelPackageName=arn)[member] == value  # type: ignore[literal-required]


def test_create_stores_model_life_cycle(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package created with a life-cycle stage
    arn = make_package(ModelLifeCycle={"Stage": "Staging", "StageStatus": "PendingApproval"})

    # WHEN it is described
    described = sagemaker.describe_model_package(ModelPackageName=arn)

    # THEN the stage is there
    assert described["ModelLifeCycle"] == {"Stage": "Staging", "StageStatus": "PendingApproval"}


def test_update_refuses_content_of_archived_card(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package whose model card is archived
    arn = make_package()
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelCard={"ModelCardContent": "{}", "ModelCardStatus": "Archived"}
    )

    # WHEN the card's content is updated
    with pytest.raises(ClientError) as raised:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelCard={"ModelCardContent": '{"a": 1}'})

    # THEN SageMaker's message is returned
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", "Model Card is in Archived state")


def test_repeated_client_token_is_a_no_op(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN an update made with a client token
    arn = make_package()
    request: dict[str, Any] = {"ModelPackageArn": arn, "ClientToken": "token-1"}
    sagemaker.update_model_package(**request, AdditionalInferenceSpecificationsToAdd=[spec("ml-c5")])

    # WHEN the same request is sent again
    response = sagemaker.update_model_package(**request, AdditionalInferenceSpecificationsToAdd=[spec("ml-c5")])

    # THEN it returns the same ARN and adds nothing
    specifications = sagemaker.describe_model_package(ModelPackageName=arn)["AdditionalInferenceSpecifications"]
    assert (response["ModelPackageArn"], len(specifications)) == (arn, 1)


def test_client_token_with_other_request_conflicts(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN an update made with a client token
    arn = make_package()
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ClientToken="token-1")

    # WHEN the token is reused for a different request
    with pytest.raises(ClientError) as raised:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ClientToken="token-1")

    # THEN it is refused with ConflictException, and the first request's effect stays
    assert raised.value.response["Error"]["Code"] == "ConflictException"
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"


# UpdateModelPackage refuses what SageMaker refuses: the service model's constraints and the documented limits
# (emulator fix 9; sagemaker-facts.md §3).

TOO_MANY_ENVIRONMENT_ENTRIES = {f"VARIABLE_{i}": "1" for i in range(17)}


@pytest.mark.parametrize(
    ("update", "path", "rule"),
    [
        ({"ApprovalDescription": "x" * 5000}, "approvalDescription", "less than or equal to 1024"),
        ({"ApprovalDescription": "two\nlines"}, "approvalDescription", "regular expression pattern: .*"),
        ({"CustomerMetadataProperties": {"team": "<bad>{}"}}, "customerMetadataProperties", "regular expression"),
        (
            {"CustomerMetadataProperties": {"team": "v" * 400}},
            "customerMetadataProperties",
            "less than or equal to 256",
        ),
        (
            {"CustomerMetadataProperties": {f"key-{i}": "v" for i in range(51)}},
            "customerMetadataProperties",
            "less than or equal to 50",
        ),
        ({"ClientToken": "token_" * 10}, "clientToken", "less than or equal to 36"),
        ({"ClientToken": "token_1"}, "clientToken", "regular expression pattern: [a-zA-Z0-9-]+"),
        (
            {"InferenceSpecification": {"Containers": [{"Image": "img", "Environment": TOO_MANY_ENVIRONMENT_ENTRIES}]}},
            "inferenceSpecification.containers.1.member.environment",
            "less than or equal to 16",
        ),
        (
            {"AdditionalInferenceSpecificationsToAdd": [spec("ml-c5", Description="compiled\tfor\u0007c5")]},
            "additionalInferenceSpecificationsToAdd.1.member.description",
            "regular expression",
        ),
        (
            {"ModelLifeCycle": {"Stage": "in_production", "StageStatus": "Approved"}},
            "modelLifeCycle.stage",
            "regular expression",
        ),
        ({"ModelPackageRegistrationType": "Draft"}, "modelPackageRegistrationType", "enum value set"),
        ({"SourceUri": "s3://bucket/key?version=1"}, "sourceUri", "regular expression"),
    ],
    ids=[
        "description-5000",
        "description-newline",
        "metadata-value-pattern",
        "metadata-value-400",
        "metadata-51-in-request",
        "client-token-60",
        "client-token-underscore",
        "environment-17",
        "nested-description-control-character",
        "life-cycle-stage-underscore",
        "registration-type-enum",
        "source-uri-symbol",
    ],
)
def test_update_refuses_what_sagemaker_refuses(
    sagemaker: SageMakerClient, make_package: MakePackage, update: dict[str, Any], path: str, rule: str
) -> None:
    # GIVEN a package
    arn = make_package(CustomerMetadataProperties={"team": "ml"})
    before = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    before.pop("ResponseMetadata")

    # WHEN an update breaking one of the service's rules is sent
    with pytest.raises(ClientError) as raised:
        sagemaker.update_model_package(ModelPackageArn=arn, **update)

    # THEN SageMaker's ValidationException names the member and the rule, and nothing changed
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert f"at '{path}' failed to satisfy constraint" in error["Message"]
    assert rule in error["Message"]
    after = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    after.pop("ResponseMetadata")
    assert after == before


def test_update_refuses_more_than_50_metadata_entries_after_merge(
    sagemaker: SageMakerClient, make_package: MakePackage
) -> None:
    # GIVEN a package with 30 metadata entries
    arn = make_package(CustomerMetadataProperties={f"old-{i}": "v" for i in range(30)})

    # WHEN 30 more are given (each request within the model's 50)
    with pytest.raises(ClientError) as raised:
        sagemaker.update_model_package(
            ModelPackageArn=arn, CustomerMetadataProperties={f"new-{i}": "v" for i in range(30)}
        )

    # THEN the 60 entries the merge would leave are refused, and the package keeps its 30
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "at most 50 CustomerMetadataProperties" in error["Message"]
    assert len(sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]) == 30


def test_refused_update_does_not_spend_its_client_token(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN an update refused for its too long approval description
    arn = make_package()
    with pytest.raises(ClientError):
        sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="x" * 1025, ClientToken="token-1")

    # WHEN a valid request is sent with the same token
    sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="ok", ClientToken="token-1")

    # THEN it is applied, not a conflict
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ApprovalDescription"] == "ok"


def test_update_accepts_the_limits_themselves(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a package with 40 metadata entries, one to be removed
    arn = make_package(CustomerMetadataProperties={f"old-{i}": "v" for i in range(40)})
    environment = {f"VARIABLE_{i}": "1" for i in range(16)}

    # WHEN an update sits on every limit: 1024 characters, 50 entries after the merge, 256-character and
    # Unicode values, a 36-character token, 16 environment entries
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ApprovalDescription="x" * 1024,
        CustomerMetadataProperties={
            "new-0": "v" * 256,
            "city": "Zürich 2024 _.:/=+-@",
            **{f"new-{i}": "v" for i in range(1, 10)},
        },
        CustomerMetadataPropertiesToRemove=["old-0"],
        ClientToken="a" * 36,
        InferenceSpecification={"Containers": [{"Image": "img", "Environment": environment}]},
        SourceUri="s3://registrar-test-artifacts/source/model.tar.gz",
    )

    # THEN it is applied
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert len(described["CustomerMetadataProperties"]) == 50
    assert described["InferenceSpecification"]["Containers"][0]["Environment"] == environment
