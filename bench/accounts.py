"""Several accounts: what reading a workload account's evidence costs, per event and per container.

A burst of evaluation jobs of one workload account, each tagged with its own credit-risk version of the
registry account, goes through the approval handler's batch code (``registrar.batch.process_batch`` with the
flow the deployed handler builds from its settings) as the approval queue delivers them, on the embedded
emulator, running as the approval function's role. :func:`registrar.aws.observe_calls` counts every call of
registrar's clients, those acting in the workload account included. The same burst in one account (the jobs
and reports in the registry account) is the baseline: like with like, one container each.

Budgets: one AssumeRole per workload account per container (the credentials are cached for their lifetime),
and no call per event beyond what the single-account flow makes. Timings are printed, not budgeted.

Run alone with ``python -m bench.accounts``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import Any

from bench.common import REGION, Figure, environment, exit_status, median, quiet, registrar_environment, report
from registrar_dev.support import (
    create_processing_job,
    emulator_client,
    emulator_credentials,
    sqs_event,
)

EVENTS = 20
WORKLOAD = "111111111111"
REGISTRY_BUCKET = "registrar-bench-accounts-registry"
WORKLOAD_BUCKET = "registrar-bench-accounts-workload"
APPROVAL_ROLE = f"registrar-approval-{REGION}"
EVIDENCE_ROLE = "registrar-evidence-reader"
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.93}, "f1": {"value": 0.8}}}


def _trust(principal: dict[str, str], condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _roles(endpoint: str, registry: str) -> str:
    """The approval function's role in the registry account and the evidence role in the workload; the former's ARN."""
    caller = f"arn:aws:iam::{registry}:role/{APPROVAL_ROLE}"
    emulator_client("iam", endpoint).create_role(
        RoleName=APPROVAL_ROLE, AssumeRolePolicyDocument=_trust({"Service": "lambda.amazonaws.com"})
    )
    emulator_client("iam", endpoint, account=WORKLOAD).create_role(
        RoleName=EVIDENCE_ROLE,
        AssumeRolePolicyDocument=_trust(
            {"AWS": f"arn:aws:iam::{registry}:root"}, {"ArnEquals": {"aws:PrincipalArn": caller}}
        ),
    )
    return caller


def _burst(endpoint: str, registry: str, *, workload: bool, label: str) -> list[dict[str, Any]]:
    """``EVENTS`` credit-risk versions in the registry, each evaluated by a job (in the workload, or at home)."""
    home = emulator_client("sagemaker", endpoint)
    account = WORKLOAD if workload else None
    sagemaker = emulator_client("sagemaker", endpoint, account=account)
    s3 = emulator_client("s3", endpoint, account=account)
    bucket = WORKLOAD_BUCKET if workload else REGISTRY_BUCKET
    if workload:
        s3.create_bucket(Bucket=bucket)
    events = []
    for index in range(EVENTS):
        model = f"s3://{REGISTRY_BUCKET}/models/{label}-{index}/model.tar.gz"
        arn = home.create_model_package(
            ModelPackageGroupName="credit-risk",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1", "ModelDataUrl": model}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        name = f"credit-risk-{label}-{index}"
        s3.put_object(Bucket=bucket, Key=f"{name}/evaluation/evaluation.json", Body=json.dumps(REPORT).encode())
        output = f"s3://{bucket}/{name}/evaluation"
        create_processing_job(sagemaker, name, arn, output, role=f"arn:aws:iam::{registry}:role/x", model_uri=model)
        job = sagemaker.describe_processing_job(ProcessingJobName=name)
        job_account = job["ProcessingJobArn"].split(":")[4]
        events.append(
            {
                "version": "0",
                "id": f"00000000-0000-0000-0000-{index:012d}",
                "detail-type": "SageMaker Processing Job State Change",
                "source": "aws.sagemaker",
                "account": job_account,
                "time": "2026-12-03T12:00:00Z",
                "region": REGION,
                "resources": [job["ProcessingJobArn"]],
                "detail": {
                    "ProcessingJobName": name,
                    "ProcessingJobArn": job["ProcessingJobArn"],
                    "ProcessingJobStatus": "Completed",
                    "LastModifiedTime": "2026-12-03T12:00:00Z",
                },
            }
        )
    return events


def _handle(events: list[dict[str, Any]], variables: dict[str, str]) -> tuple[Counter[str], list[float], int]:
    """One container's handling of ``events``, one record a batch: calls by kind, seconds per event, failures."""
    from registrar import aws
    from registrar.approval import service as approval
    from registrar.batch import process_batch
    from registrar.settings import Settings
    from registrar_dev.runner import LocalLambdaContext

    calls: Counter[str] = Counter()
    seconds, failures = [], 0
    with environment(variables), quiet():
        aws.observe_calls(lambda service, operation, _params: calls.update([f"{service}:{operation}"]))
        flow = approval.ApprovalFlow.from_settings(Settings.from_environment())
        context: Any = LocalLambdaContext("registrar-approval")
        for event in events:
            started = time.perf_counter()
            response = process_batch(
                sqs_event([json.dumps(event)]),
                context,
                parse=approval.parse,
                flow=flow,
                table_name=None,
                accounts=flow.accounts,
            )
            seconds.append(time.perf_counter() - started)
            failures += len(response["batchItemFailures"])
    return calls, seconds, failures


def _not_approved(endpoint: str) -> int:
    """How many of the burst's versions are not Approved (each had a passing report)."""
    pages = (
        emulator_client("sagemaker", endpoint)
        .get_paginator("list_model_packages")
        .paginate(ModelPackageGroupName="credit-risk")
    )
    return sum(
        1
        for page in pages
        for summary in page["ModelPackageSummaryList"]
        if summary["ModelApprovalStatus"] != "Approved"
    )


def run(endpoint: str | None = None, emulator: Any = None) -> list[Figure]:
    """Handle a burst of workload evaluations and the same burst in one account; figures beside their budgets."""
    if endpoint is None or emulator is None:
        from registrar_dev.emulator import start

        with start(emit_events=False) as started:
            return run(started.endpoint, started)
    registry = emulator.account_id
    caller = _roles(endpoint, registry)
    emulator_client("s3", endpoint).create_bucket(Bucket=REGISTRY_BUCKET)
    emulator_client("sagemaker", endpoint).create_model_package_group(ModelPackageGroupName="credit-risk")
    single = _burst(endpoint, registry, workload=False, label="home")
    forwarded = _burst(endpoint, registry, workload=True, label="workload")
    credentials = emulator_credentials(endpoint, caller)
    base = {
        **registrar_environment(endpoint, "unused"),
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "REGISTRAR_REPORT_LOCATIONS": f"s3://{REGISTRY_BUCKET}/",
        "REGISTRAR_REGISTRY_ACCOUNT": registry,
    }
    base.pop("REGISTRAR_TABLE_NAME")
    several = {
        **base,
        "REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps(
            {
                WORKLOAD: {
                    "report_locations": [f"s3://{WORKLOAD_BUCKET}/"],
                    "neo_output_locations": [f"s3://{WORKLOAD_BUCKET}-compiled/"],
                }
            }
        ),
    }
    home_calls, home_seconds, home_failed = _handle(single, base)
    workload_calls, workload_seconds, workload_failed = _handle(forwarded, several)
    assumed = workload_calls.pop("sts:AssumeRole", 0)
    extra = (sum(workload_calls.values()) - sum(home_calls.values())) / EVENTS
    figures = [
        Figure("AssumeRole per workload account per container", assumed, "calls", budget=1, detail=f"{EVENTS} events"),
        Figure(
            "AWS calls per workload event beyond one account's",
            extra,
            "calls",
            budget=0,
            detail=f"{sum(workload_calls.values()) / EVENTS:.0f} vs {sum(home_calls.values()) / EVENTS:.0f} per event",
        ),
        Figure(
            "versions not approved, or records failed",
            _not_approved(endpoint) + workload_failed + home_failed,
            "",
            budget=0,
        ),
        Figure(
            "first workload event (assumes the role)",
            workload_seconds[0] * 1000,
            "ms",
            detail=f"one account's first: {home_seconds[0] * 1000:.0f} ms (first client, policy load)",
        ),
        Figure(
            "later workload events, median",
            median(workload_seconds[1:]) * 1000,
            "ms",
            detail=f"one account: {median(home_seconds[1:]) * 1000:.1f} ms",
        ),
    ]
    kinds = sorted(set(home_calls) | set(workload_calls))
    notes = [f"  {kind:<34} one account {home_calls[kind]:>3}   workload {workload_calls[kind]:>3}" for kind in kinds]
    report("Several accounts: evidence read in a workload account", figures, notes=[*notes, ""])
    return figures


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.accounts``: exit 1 when a figure is over its budget."""
    return exit_status(run())


if __name__ == "__main__":
    sys.exit(main())
