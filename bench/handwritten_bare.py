"""The old cold-start baseline, for information: a bare hand-written handler without registrar's guarantees.

Two boto3 clients created at import, the plain EventBridge event, thresholds in the code: no policy
read, no deduplication, no validation. ``bench/handwritten.py`` is the baseline the budget is judged
against: the same guarantees as registrar.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import boto3

sagemaker = boto3.client("sagemaker")
s3 = boto3.client("s3")

THRESHOLDS = {"auc": 0.85, "recall": 0.6}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Approve or reject the model package the event names, from its quality report."""
    arn = event["detail"]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package["ModelApprovalStatus"] != "PendingManualApproval":
        return {"arn": arn, "skipped": package["ModelApprovalStatus"]}
    uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    metrics = report["binary_classification_metrics"]
    values = {name: float(metrics[name]["value"]) for name in THRESHOLDS}
    passed = all(values[name] >= low for name, low in THRESHOLDS.items())
    status: Literal["Approved", "Rejected"] = "Approved" if passed else "Rejected"
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=status)
    return {"arn": arn, "status": status}
