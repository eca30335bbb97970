"""The handler a user would write by hand instead of registrar, with the same guarantees: the cold-start baseline.

What makes it a fair baseline is that it does what registrar's approval function must do for the
same event, and no more, in the plainest way: boto3 clients for SageMaker, S3, DynamoDB and SSM
created at import (as the AWS samples do), the policy read from the SSM parameter the stack deploys
(one GetParameter, JSON), a conditional PutItem that makes a duplicate a no-op, then
DescribeModelPackage, GetObject of the quality report, the thresholds checked, UpdateModelPackage,
and an UpdateItem marking the record done. It takes the SQS batch the approval queue delivers. It
validates nothing, explains little and handles no error: the lower bound a framework has to beat.

``bench/handwritten_bare.py`` is the old baseline, kept for information.
"""

from __future__ import annotations

import fnmatch
import json
import os
from typing import Any, Literal

import boto3

sagemaker = boto3.client("sagemaker")
s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")
ssm = boto3.client("ssm")

_policy: dict[str, Any] | None = None


def _rule(group: str) -> dict[str, Any]:
    global _policy
    if _policy is None:
        text = ssm.get_parameter(Name=os.environ["REGISTRAR_POLICY_PARAMETER"])["Parameter"]["Value"]
        _policy = json.loads(text)
    return next(rule for rule in _policy["rules"] if any(fnmatch.fnmatch(group, p) for p in rule["groups"]))


def _value(report: dict[str, Any], path: str) -> float:
    node: Any = report
    for part in path.split("."):
        node = node[part]
    return float(node)


def _decide(arn: str) -> str:
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package["ModelApprovalStatus"] != "PendingManualApproval":
        return "skipped"
    rule = _rule(package["ModelPackageGroupName"])
    uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    checks = []
    for condition in rule["approve_when"]:
        value = _value(report, condition["metric"])
        low, high = condition.get("min", float("-inf")), condition.get("max", float("inf"))
        checks.append((condition["metric"], value, low <= value <= high))
    passed = all(ok for _, _, ok in checks)
    status: Literal["Approved", "Rejected", "PendingManualApproval"] = (
        "Approved" if passed else ("Rejected" if rule["on_failure"] == "reject" else "PendingManualApproval")
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus=status,
        ApprovalDescription=f"{status}: " + "; ".join(f"{metric} {value}" for metric, value, _ in checks),
        CustomerMetadataProperties={"decided-by": "hand-written"},
    )
    return status


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Decide the model package of each record, once per package state; report the records decided."""
    table = os.environ["REGISTRAR_TABLE_NAME"]
    decided = {}
    for record in event["Records"]:
        detail = json.loads(record["body"])["detail"]
        arn = detail["ModelPackageArn"]
        key = f"{arn}|{detail.get('ModelApprovalStatus')}|{detail.get('LastModifiedTime')}"
        try:
            dynamodb.put_item(
                TableName=table,
                Item={"id": {"S": key}, "status": {"S": "INPROGRESS"}},
                ConditionExpression="attribute_not_exists(id)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            continue  # a duplicate: already decided, or being decided
        decided[arn] = _decide(arn)
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": key}},
            UpdateExpression="SET #status = :done",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":done": {"S": "COMPLETED"}},
        )
    return {"batchItemFailures": [], "decided": decided}
