"""The handler a user would write by hand instead of registrar, for a passing-evaluation event.

This is the baseline of the cold-start benchmark: plain boto3 clients created at import (as the
AWS samples do), ``json``, no framework, and the same AWS calls registrar makes for the same event:
DescribeModelPackage, GetObject on the package's quality report, UpdateModelPackage. It takes the
plain EventBridge event (no SQS batch, no idempotency, no policy file, no validation), so it is the
lower bound a framework has to beat, not a strawman.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

sagemaker = boto3.client("sagemaker")
s3 = boto3.client("s3")

THRESHOLDS = {"auc": 0.85, "recall": 0.6}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Approve or reject the model package the event names, from its quality report.

    Parameters
    ----------
    event
        A ``SageMaker Model Package State Change`` EventBridge event.
    context
        The Lambda context (unused).

    Returns
    -------
    dict
        The package ARN and the status written (or why nothing was written).
    """
    arn = event["detail"]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package["ModelApprovalStatus"] != "PendingManualApproval":
        return {"arn": arn, "skipped": package["ModelApprovalStatus"]}
    uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    metrics = report["binary_classification_metrics"]
    values = {name: float(metrics[name]["value"]) for name in THRESHOLDS}
    passed = all(values[name] >= minimum for name, minimum in THRESHOLDS.items())
    status = "Approved" if passed else "Rejected"
    reasons = "; ".join(f"{name} {values[name]} >= {minimum}" for name, minimum in THRESHOLDS.items())
    request: dict[str, Any] = {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": status,
        "ApprovalDescription": f"{status}: {reasons}",
        "CustomerMetadataProperties": {f"metric:{name}": str(value) for name, value in values.items()},
    }
    if passed:
        request["ModelLifeCycle"] = {"Stage": "Production", "StageStatus": "Approved"}
    sagemaker.update_model_package(**request)
    return {"arn": arn, "status": status}
