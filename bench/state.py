"""The emulator state each sample under ``events/`` expects (``events/approval/README.md``, ``events/neo/README.md``).

Built through the ordinary SageMaker and S3 APIs with a botocore session of its own, so observing
registrar's session never counts these calls. The approval and Neo samples both use
``churn-model/1`` (shaped differently), so each family is built on a freshly reset emulator.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import EVENTS, REGION, REPORTS

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/registrar-bench"
REPORT_BUCKET = "registrar-demo-reports"
ARTIFACT_BUCKET = "churn-artifacts"
NEO_INPUT = f"s3://{ARTIFACT_BUCKET}/train/model.tar.gz"
PACKAGE_TAG = "registrar:model-package-arn"
OUTCOME_TAG = "emulator:outcome"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

APPROVAL_SAMPLES = (
    "passing",
    "failing",
    "missing-report",
    "nan-metric",
    "human-decided",
    "unmatched-group",
    "duplicate",
    "processing-completed",
    "failed-job",
)
NEO_SAMPLES = ("completed-ml-c5", "completed-ml-inf2", "edge-jetson-nano", "failed", "unlinked")
_REPORT_KEYS = {
    "passing.json": "churn-model/1/evaluation.json",
    "failing.json": "churn-model/2/evaluation.json",
    "nan-metric.json": "churn-model/4/evaluation.json",
    "processing.json": "credit-risk/1/evaluation/evaluation.json",
}
_PACKAGE_SAMPLES = ("passing", "failing", "missing-report", "nan-metric", "human-decided", "unmatched-group")


def sample(family: str, name: str) -> dict[str, Any]:
    """The sample event ``events/<family>/<name>.json``."""
    event: dict[str, Any] = json.loads((EVENTS / family / f"{name}.json").read_text())
    return event


def package_arn(group: str, version: int) -> str:
    """The ARN of version ``version`` of ``group`` in the samples' account and region."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


class Clients:
    """Plain botocore clients of the emulator at ``endpoint`` (a session of their own).

    Parameters
    ----------
    endpoint
        The emulator's endpoint.
    """

    def __init__(self, endpoint: str) -> None:
        import botocore.session

        session = botocore.session.Session()
        options: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        self.sagemaker: Any = session.create_client("sagemaker", **options)
        self.s3: Any = session.create_client("s3", **options)
        self.dynamodb: Any = session.create_client("dynamodb", **options)
        self._groups: set[str] = set()

    def group(self, name: str) -> None:
        """Create model package group ``name`` unless this object already did."""
        if name not in self._groups:
            self.sagemaker.create_model_package_group(ModelPackageGroupName=name)
            self._groups.add(name)

    def table(self, name: str) -> None:
        """Create an idempotency table shaped as the stack's (partition key ``id``)."""
        self.dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def _expect(arn: str, expected: str) -> str:
    if arn != expected:
        raise RuntimeError(f"the emulator created {arn}, the samples expect {expected}")
    return arn


def build_approval_state(clients: Clients) -> None:
    """The reports, packages and processing jobs events/approval/README.md documents."""
    clients.s3.create_bucket(Bucket=REPORT_BUCKET)
    for report, key in _REPORT_KEYS.items():
        clients.s3.put_object(Bucket=REPORT_BUCKET, Key=key, Body=(REPORTS / report).read_bytes())
    for name in _PACKAGE_SAMPLES:
        detail = sample("approval", name)["detail"]
        clients.group(detail["ModelPackageGroupName"])
        arn = clients.sagemaker.create_model_package(
            ModelPackageGroupName=detail["ModelPackageGroupName"],
            ModelApprovalStatus=detail["ModelApprovalStatus"],
            InferenceSpecification=detail["InferenceSpecification"],
            ModelMetrics=detail["ModelMetrics"],
            MetadataProperties=detail["MetadataProperties"],
        )["ModelPackageArn"]
        _expect(arn, detail["ModelPackageArn"])
    clients.group("credit-risk")
    for version, name, fail in ((1, "processing-completed", False), (2, "failed-job", True)):
        arn = clients.sagemaker.create_model_package(
            ModelPackageGroupName="credit-risk",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://registrar-demo-models/credit-risk.tgz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        _expect(arn, package_arn("credit-risk", version))
        detail = sample("approval", name)["detail"]
        tags = [{"Key": PACKAGE_TAG, "Value": arn}]
        if fail:
            tags.append({"Key": OUTCOME_TAG, "Value": "Failed"})
        clients.sagemaker.create_processing_job(
            ProcessingJobName=detail["ProcessingJobName"],
            RoleArn=ROLE,
            AppSpecification={"ImageUri": detail["AppSpecification"]["ImageUri"]},
            ProcessingResources=detail["ProcessingResources"],
            ProcessingOutputConfig=detail["ProcessingOutputConfig"],
            StoppingCondition=detail["StoppingCondition"],
            Tags=tags,
        )


def build_neo_state(clients: Clients) -> None:
    """churn-model/1 (PyTorch 1.13.1) and the five compilation jobs events/neo/README.md documents."""
    clients.s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    clients.group("churn-model")
    arn = clients.sagemaker.create_model_package(
        ModelPackageGroupName="churn-model",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": XGBOOST_IMAGE,
                    "ModelDataUrl": NEO_INPUT,
                    "Framework": "PYTORCH",
                    "FrameworkVersion": "1.13.1",
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    _expect(arn, package_arn("churn-model", 1))
    jobs: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("churn-model-1-ml-c5", "ml_c5", {"package": arn}),
        ("churn-model-1-ml-inf2", "ml_inf2", {"tagged": arn}),
        ("churn-model-1-jetson-nano", "jetson_nano", {"tagged": arn}),
        ("churn-model-1-ml-c5-failed", "ml_c5", {"package": arn, "fail": True}),
        ("churn-model-unlinked", "ml_c5", {}),
    )
    for name, target, how in jobs:
        request: dict[str, Any] = {
            "CompilationJobName": name,
            "RoleArn": ROLE,
            "OutputConfig": {"S3OutputLocation": f"s3://{ARTIFACT_BUCKET}/neo/", "TargetDevice": target},
            "StoppingCondition": {"MaxRuntimeInSeconds": 900},
        }
        if "package" in how:
            request["ModelPackageVersionArn"] = how["package"]
        else:
            request["InputConfig"] = {
                "S3Uri": NEO_INPUT,
                "Framework": "PYTORCH",
                "FrameworkVersion": "1.13",
                "DataInputConfig": '{"input0": [1, 3, 224, 224]}',
            }
        tags = [{"Key": PACKAGE_TAG, "Value": how["tagged"]}] if "tagged" in how else []
        if how.get("fail"):
            tags.append({"Key": OUTCOME_TAG, "Value": "FAILED"})
        if tags:
            request["Tags"] = tags
        clients.sagemaker.create_compilation_job(**request)
