"""Fixtures of the integration tests: the session's emulator (``tests/conftest.py``), fresh state per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from registrar_dev.emulator import Emulator

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

DEFAULT_GROUP = "registrar-test-models"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture
def aws(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The session's emulator with its state reset, events on, and the AWS environment pointing at it."""
    emulator.reset()
    emulator.emit_events = True
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", emulator.region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for variable in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    yield emulator
    emulator.emit_events = True


@pytest.fixture
def sagemaker(aws: Emulator) -> SageMakerClient:
    """A plain boto3 SageMaker client of the emulator."""
    return boto3.client("sagemaker", endpoint_url=aws.endpoint, region_name=aws.region)


@pytest.fixture
def make_package_group(sagemaker: SageMakerClient) -> Callable[[str], str]:
    """A factory: ``make_package_group(name)`` creates a model package group and returns its ARN."""

    def make(name: str = DEFAULT_GROUP) -> str:
        return sagemaker.create_model_package_group(ModelPackageGroupName=name)["ModelPackageGroupArn"]

    return make


@pytest.fixture
def make_package(sagemaker: SageMakerClient) -> Callable[..., str]:
    """A factory: ``make_package(group=..., **members)`` creates a versioned package and returns its ARN.

    The group is created when missing. The package has one container (Image, ModelDataUrl
    ``s3://<bucket>/<group>/model.tar.gz``, Environment, content types), ModelQuality statistics and
    ``PendingManualApproval``; keyword arguments override or add CreateModelPackage members.
    """

    def make(group: str = DEFAULT_GROUP, **members: Any) -> str:
        existing = sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
        if not any(summary["ModelPackageGroupName"] == group for summary in existing):
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": f"s3://registrar-test-artifacts/{group}/model.tar.gz",
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://registrar-test-artifacts/{group}/evaluation.json",
                    }
                }
            },
            **members,
        }
        return sagemaker.create_model_package(**request)["ModelPackageArn"]

    return make


@pytest.fixture
def sagemaker_events(aws: Emulator) -> Callable[[], list[dict[str, Any]]]:
    """Route every ``aws.sagemaker`` event to an emulator SQS queue; the fixture drains it.

    Returns a function that returns the events received since its last call, oldest first.
    """
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    queue_url = sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="sagemaker-events", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="sagemaker-events", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def drain() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            received.extend(json.loads(message["Body"]) for message in messages)
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return received

    return drain
