"""The emulator publishes SageMaker's EventBridge events and evaluates event patterns (sagemaker-facts.md §5.6-5.7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from registrar_dev.emulator import Emulator

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import InputTransformerTypeDef
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import TagTypeDef

MakePackage = Callable[..., str]
Drain = Callable[[], list[dict[str, Any]]]
OUTPUT_CONFIG = {
    "Outputs": [
        {
            "OutputName": "evaluation",
            "S3Output": {
                "S3Uri": "s3://registrar-test-artifacts/evaluation",
                "LocalPath": "/opt/ml/processing/evaluation",
                "S3UploadMode": "EndOfJob",
            },
        }
    ]
}


def process(sagemaker: SageMakerClient, name: str, tags: list[TagTypeDef] | None = None) -> str:
    """Create a processing job and return its ARN."""
    return sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/registrar-processing",
        AppSpecification={"ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify:1.0"},
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 5}
        },
        ProcessingOutputConfig=OUTPUT_CONFIG,  # type: ignore[arg-type]
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=tags or [],
    )["ProcessingJobArn"]


def test_create_publishes_package_state_change(make_package: MakePackage, sagemaker_events: Drain) -> None:
    # GIVEN/WHEN a package is created
    arn = make_package(CustomerMetadataProperties={"team": "ml"})

    # THEN one aws.sagemaker event describes it, about its ARN
    [event] = sagemaker_events()
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        [arn],
    )
    detail = event["detail"]
    assert (detail["ModelPackageArn"], detail["ModelPackageVersion"], detail["ModelApprovalStatus"]) == (
        arn,
        1,
        "PendingManualApproval",
    )
    assert detail["CustomerMetadataProperties"] == {"team": "ml"}
    assert detail["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"


def test_targets_receive_the_whole_event_account_included(
    aws: Emulator, make_package: MakePackage, sagemaker_events: Drain
) -> None:
    # GIVEN/WHEN a package is created and its event reaches an SQS target
    make_package()

    # THEN the delivered event carries every envelope member EventBridge delivers (moto drops `account`)
    [event] = sagemaker_events()
    assert event["account"] == aws.account_id
    assert {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} <= set(event)


def test_event_times_are_iso_strings(make_package: MakePackage, sagemaker_events: Drain) -> None:
    # GIVEN/WHEN a package is created
    make_package()

    # THEN its event carries ISO-8601 UTC times
    [event] = sagemaker_events()
    assert event["detail"]["CreationTime"].endswith("Z")
    assert event["detail"]["LastModifiedTime"] == event["detail"]["CreationTime"]


@pytest.mark.parametrize(
    ("update", "fields"),
    [
        (
            {"ModelApprovalStatus": "Approved", "ApprovalDescription": "ok"},
            ["ModelApprovalStatus", "ApprovalDescription"],
        ),
        ({"CustomerMetadataProperties": {"a": "1"}}, ["CustomerMetadataProperties"]),
        ({"ModelLifeCycle": {"Stage": "Prod", "StageStatus": "Approved"}}, ["ModelLifeCycle"]),
        ({"SourceUri": "s3://registrar-test-artifacts/src"}, ["sourceUri"]),
        ({"InferenceSpecification": {"Containers": [{"Image": "other"}]}}, ["InferenceSpecification"]),
        (
            {"AdditionalInferenceSpecificationsToAdd": [{"Name": "ml-c5", "Containers": [{"Image": "neo"}]}]},
            ["AdditionalInferenceSpecifications"],
        ),
    ],
    ids=["approval", "metadata", "life-cycle", "source-uri", "inference-specification", "additional-specification"],
)
def test_update_publishes_updated_fields(
    sagemaker: SageMakerClient,
    make_package: MakePackage,
    sagemaker_events: Drain,
    update: dict[str, Any],
    fields: list[str],
) -> None:
    # GIVEN a package whose creation event was consumed
    arn = make_package()
    sagemaker_events()

    # WHEN it is updated
    sagemaker.update_model_package(ModelPackageArn=arn, **update)

    # THEN one event lists the fields the update changed
    [event] = sagemaker_events()
    assert event["detail"]["UpdatedModelPackageFields"] == fields


def test_update_event_carries_new_state(
    sagemaker: SageMakerClient, make_package: MakePackage, sagemaker_events: Drain
) -> None:
    # GIVEN a package whose creation event was consumed
    arn = make_package()
    sagemaker_events()

    # WHEN it is approved
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    # THEN the event describes the package after the update
    [event] = sagemaker_events()
    modified = sagemaker.describe_model_package(ModelPackageName=arn)["LastModifiedTime"].astimezone(UTC)
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert event["detail"]["LastModifiedTime"] == modified.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_repeated_client_token_publishes_nothing(
    sagemaker: SageMakerClient, make_package: MakePackage, sagemaker_events: Drain
) -> None:
    # GIVEN an update made with a client token, its events consumed
    arn = make_package()
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ClientToken="token-1")
    sagemaker_events()

    # WHEN the same request is repeated
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ClientToken="token-1")

    # THEN no event is published
    assert sagemaker_events() == []


def test_emission_can_be_turned_off(aws: Emulator, make_package: MakePackage, sagemaker_events: Drain) -> None:
    # GIVEN emission is off
    aws.emit_events = False

    # WHEN a package is created
    make_package()

    # THEN no event is published
    assert sagemaker_events() == []


def test_processing_job_completes_at_once(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a processing job is created
    process(sagemaker, "evaluate")

    # THEN it is Completed, with its output configuration and resources
    described = sagemaker.describe_processing_job(ProcessingJobName="evaluate")
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingOutputConfig"] == OUTPUT_CONFIG
    assert described["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.xlarge"


def test_processing_job_publishes_state_change(sagemaker: SageMakerClient, sagemaker_events: Drain) -> None:
    # GIVEN/WHEN a processing job is created
    arn = process(sagemaker, "evaluate")

    # THEN one event describes its final state, times in epoch milliseconds
    [event] = sagemaker_events()
    detail = event["detail"]
    assert (event["detail-type"], event["resources"]) == ("SageMaker Processing Job State Change", [arn])
    assert (detail["ProcessingJobArn"], detail["ProcessingJobName"], detail["ProcessingJobStatus"]) == (
        arn,
        "evaluate",
        "Completed",
    )
    assert detail["ProcessingOutputConfig"] == OUTPUT_CONFIG
    assert isinstance(detail["LastModifiedTime"], int)
    assert "FailureReason" not in detail


def test_failed_outcome_tag_fails_processing_job(sagemaker: SageMakerClient, sagemaker_events: Drain) -> None:
    # GIVEN/WHEN a processing job tagged to fail
    process(sagemaker, "evaluate", tags=[{"Key": "emulator:outcome", "Value": "Failed"}])

    # THEN its event and description say Failed, with a reason
    [event] = sagemaker_events()
    described = sagemaker.describe_processing_job(ProcessingJobName="evaluate")
    assert (event["detail"]["ProcessingJobStatus"], described["ProcessingJobStatus"]) == ("Failed", "Failed")
    assert event["detail"]["FailureReason"] == described["FailureReason"] != ""


def test_stopped_outcome_tag_stops_processing_job(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a processing job tagged to be stopped
    process(sagemaker, "evaluate", tags=[{"Key": "emulator:outcome", "Value": "Stopped"}])

    # THEN it is Stopped
    assert sagemaker.describe_processing_job(ProcessingJobName="evaluate")["ProcessingJobStatus"] == "Stopped"


def test_unknown_outcome_tag_is_refused(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a processing job tagged with a misspelt outcome
    # THEN it is refused, not silently completed
    with pytest.raises(sagemaker.exceptions.ClientError, match="emulator:outcome"):
        process(sagemaker, "evaluate", tags=[{"Key": "emulator:outcome", "Value": "Faild"}])


def test_list_tags_of_processing_job(sagemaker: SageMakerClient) -> None:
    # GIVEN a tagged processing job
    arn = process(sagemaker, "evaluate", tags=[{"Key": "team", "Value": "ml"}])

    # WHEN its tags are listed
    tags = sagemaker.list_tags(ResourceArn=arn)["Tags"]

    # THEN the tag is there
    assert tags == [{"Key": "team", "Value": "ml"}]


@pytest.mark.parametrize(("status", "matches"), [("Approved", True), ("Rejected", False)])
def test_test_event_pattern_evaluates_pattern(aws: Emulator, status: str, matches: bool) -> None:
    # GIVEN a pattern on approved model packages
    pattern = {"source": ["aws.sagemaker"], "detail": {"ModelApprovalStatus": ["Approved"]}}
    event = {
        "id": "1",
        "account": aws.account_id,
        "source": "aws.sagemaker",
        "time": "2024-01-01T00:00:00Z",
        "region": aws.region,
        "resources": [],
        "detail-type": "SageMaker Model Package State Change",
        "detail": {"ModelApprovalStatus": status},
    }

    # WHEN EventBridge's TestEventPattern is asked
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    result = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))

    # THEN it answers whether the event matches
    assert result["Result"] is matches


def test_test_event_pattern_refuses_incomplete_event(aws: Emulator) -> None:
    # GIVEN an event without the mandatory members
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)

    # WHEN/THEN TestEventPattern refuses it
    with pytest.raises(events.exceptions.ClientError, match="ValidationException"):
        events.test_event_pattern(EventPattern='{"source": ["aws.sagemaker"]}', Event='{"source": "aws.sagemaker"}')


PLACEHOLDERS = "<resources> <id> <time> <detail-type> <source> <region> <account> <detail>"


def test_detail_holding_template_placeholders_reaches_target_intact(
    aws: Emulator, sagemaker: SageMakerClient, make_package: MakePackage, sagemaker_events: Drain
) -> None:
    # GIVEN a package whose creation event was consumed
    arn = make_package()
    sagemaker_events()

    # WHEN its approval description holds the placeholders of moto's event template
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription=PLACEHOLDERS
    )

    # THEN the SQS target receives the event verbatim: the description as written, the envelope as EventBridge's
    [event] = sagemaker_events()
    assert event["detail"]["ApprovalDescription"] == PLACEHOLDERS
    assert (event["resources"], event["account"]) == ([arn], aws.account_id)
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


def test_input_transformer_does_not_rescan_inserted_values(
    aws: Emulator, sagemaker: SageMakerClient, make_package: MakePackage
) -> None:
    # GIVEN a rule whose SQS target transforms the event, placing the description before the id
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    queue_url = sqs.create_queue(QueueName="transformed")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="transformed", EventPattern=json.dumps({"detail": {"ModelApprovalStatus": ["Approved"]}}))
    transformer: InputTransformerTypeDef = {
        "InputPathsMap": {"description": "$.detail.ApprovalDescription", "id": "$.id"},
        "InputTemplate": '{"description": "<description>", "id": "<id>"}',
    }
    events.put_targets(Rule="transformed", Targets=[{"Id": "queue", "Arn": queue_arn, "InputTransformer": transformer}])

    # WHEN a package is approved with a description holding a placeholder of the template
    arn = make_package()
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="<id>")

    # THEN the placeholders of the template are replaced, the inserted description is not
    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["description"] == "<id>"
    assert delivered["id"] not in ("<id>", "")
