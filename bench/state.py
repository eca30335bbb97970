"""The emulator state each sample under ``events/`` expects (``events/approval/README.md``, ``events/neo/README.md``).

Built through the ordinary SageMaker and S3 APIs with a botocore session of its own, so observing
registrar's session never counts these calls. The approval and Neo samples both use
``churn-model/1`` (shaped differently), so each family is built on a freshly reset emulator.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import EVENTS, REGION, REPORTS, Clients
from registrar_dev.support import (
    ACCOUNT,
    ARTIFACT_BUCKET,
    NEO_INPUT,
    NEO_INPUT_CONFIG,
    NEO_OUTPUT,
    PACKAGE_SAMPLES,
    SAMPLE_REPORT_KEYS,
    XGBOOST_IMAGE,
    create_compilation_job,
    create_processing_job_from_detail,
)

ROLE = f"arn:aws:iam::{ACCOUNT}:role/registrar-bench"
REPORT_BUCKET = "registrar-demo-reports"


def sample(family: str, name: str) -> dict[str, Any]:
    """The sample event ``events/<family>/<name>.json``."""
    event: dict[str, Any] = json.loads((EVENTS / family / f"{name}.json").read_text())
    return event


def package_arn(group: str, version: int) -> str:
    """The ARN of version ``version`` of ``group`` in the samples' account and region."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


def _expect(arn: str, expected: str) -> str:
    if arn != expected:
        raise RuntimeError(f"the emulator created {arn}, the samples expect {expected}")
    return arn


def _evaluated_model(name: str) -> str:
    """The model artifact the sample processing job ``name`` evaluated: its ``model`` input."""
    inputs = sample("approval", name)["detail"].get("ProcessingInputs", [])
    return str(next(entry["S3Input"]["S3Uri"] for entry in inputs if entry["InputName"] == "model"))


def build_approval_state(clients: Clients) -> None:
    """The reports, packages and processing jobs events/approval/README.md documents."""
    clients.s3.create_bucket(Bucket=REPORT_BUCKET)
    for report, key in SAMPLE_REPORT_KEYS.items():
        clients.s3.put_object(Bucket=REPORT_BUCKET, Key=key, Body=(REPORTS / report).read_bytes())
    for name in PACKAGE_SAMPLES:
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
                # The model the sample's job evaluated (its ``model`` input): the job is bound to this version.
                "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": _evaluated_model(name)}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        _expect(arn, package_arn("credit-risk", version))
        detail = sample("approval", name)["detail"]
        create_processing_job_from_detail(clients.sagemaker, detail, arn, role=ROLE, fail=fail)


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
        create_compilation_job(
            clients.sagemaker,
            name,
            target,
            NEO_OUTPUT,
            role=ROLE,
            package_arn=how.get("package"),
            input_config=None if "package" in how else NEO_INPUT_CONFIG,
            tagged=how.get("tagged"),
            fail=bool(how.get("fail")),
        )
