"""The emulator state each sample under events/ expects, built through the ordinary SageMaker and S3 APIs.

events/approval/README.md and events/neo/README.md document, per sample, the packages, reports and
jobs that must exist for the sample to do what it says. The builders here create exactly that state
with plain boto3 clients (not registrar's, so observing registrar's calls does not count them), and
check that the emulator numbered each version as the sample's ARN expects.

Also here: a Lambda context, the environment of the deployed functions and the one cdk.json configures
(the SQS records and the call counter are ``registrar_dev.support``'s), and the Compilation Job State
Change the sweeper publishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from registrar_cli import main as cli
from registrar_dev import support
from registrar_dev.emulator import Emulator
from registrar_dev.runner import LocalLambdaContext
from registrar_dev.support import (
    ACCOUNT,
    ARTIFACT_BUCKET,
    NEO_INPUT,
    NEO_INPUT_CONFIG,
    NEO_OUTPUT,
    PACKAGE_SAMPLES,
    REGION,
    SAMPLE_REPORT_KEYS,
    XGBOOST_IMAGE,
    create_compilation_job,
    create_processing_job_from_detail,
    emulator_clients,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
APPROVAL_EVENTS = EVENTS / "approval"
NEO_EVENTS = EVENTS / "neo"
REPORTS = APPROVAL_EVENTS / "reports"
POLICY = EVENTS / "policy.yaml"
CDK_JSON = ROOT / "cdk.json"

ROLE = f"arn:aws:iam::{ACCOUNT}:role/registrar-integration"
REPORT_BUCKET = "registrar-demo-reports"


def package_arn(group: str, version: int) -> str:
    """The ARN SageMaker gives version ``version`` of ``group`` in the samples' account and region."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


def job_arn(name: str) -> str:
    """The ARN of compilation job ``name`` in the samples' account and region."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:compilation-job/{name}"


def approval_event_path(name: str) -> pathlib.Path:
    return APPROVAL_EVENTS / f"{name}.json"


def neo_event_path(name: str) -> pathlib.Path:
    return NEO_EVENTS / f"{name}.json"


def read_event(path: pathlib.Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def compilation_event(name: str) -> dict[str, Any]:
    """The ``Compilation Job State Change`` the sweeper publishes for the finished job ``name``."""
    event = read_event(neo_event_path("completed-ml-c5"))
    event["id"] = f"compilation-{name}"
    event["resources"] = [job_arn(name)]
    event["detail"].update(CompilationJobName=name, CompilationJobArn=job_arn(name))
    return event


def specification_name(job_name: str, target: str) -> str:
    """The documented name of a job's specification, computed independently of registrar's code.

    ``neo-<target with _ as ->-<job name>-<first 8 hex of sha256(job name)>`` (the names used here are short
    enough not to be truncated).
    """
    digest = hashlib.sha256(job_name.encode()).hexdigest()[:8]
    return f"neo-{target.replace('_', '-')}-{job_name}-{digest}"


@dataclass
class Clients:
    """Plain boto3 clients of the emulator: what a data scientist's pipeline would use."""

    sagemaker: Any
    s3: Any
    sqs: Any
    dynamodb: Any

    @classmethod
    def of(cls, emulator: Emulator) -> Clients:
        made = emulator_clients(emulator.endpoint, region=emulator.region)
        return cls(sagemaker=made.sagemaker, s3=made.s3, sqs=made.sqs, dynamodb=made.dynamodb)

    def describe(self, arn: str) -> dict[str, Any]:
        """DescribeModelPackage without the response metadata."""
        described: dict[str, Any] = self.sagemaker.describe_model_package(ModelPackageName=arn)
        described.pop("ResponseMetadata", None)
        return described

    def ensure_group(self, name: str) -> None:
        groups = self.sagemaker.list_model_package_groups(NameContains=name)["ModelPackageGroupSummaryList"]
        if not any(group["ModelPackageGroupName"] == name for group in groups):
            self.sagemaker.create_model_package_group(ModelPackageGroupName=name)


# Approval ------------------------------------------------------------------------------------------


def _package_from_event(clients: Clients, event: dict[str, Any]) -> str:
    """Create the version a model package event describes, with its container, metrics and approval status."""
    detail = event["detail"]
    clients.ensure_group(detail["ModelPackageGroupName"])
    request = {
        "ModelPackageGroupName": detail["ModelPackageGroupName"],
        "ModelApprovalStatus": detail["ModelApprovalStatus"],
        "InferenceSpecification": detail["InferenceSpecification"],
        "ModelMetrics": detail["ModelMetrics"],
        "MetadataProperties": detail["MetadataProperties"],
    }
    arn: str = clients.sagemaker.create_model_package(**request)["ModelPackageArn"]
    return arn


def _credit_risk_package(clients: Clients, sample: str) -> str:
    """The credit-risk version a processing job sample evaluates: its model is the job's input ``model``."""
    clients.ensure_group("credit-risk")
    arn: str = clients.sagemaker.create_model_package(
        ModelPackageGroupName="credit-risk",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": evaluated_model(sample)}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return arn


def evaluated_model(sample: str) -> str:
    """The model a processing job sample's job evaluated (its input ``model``): its version's ModelDataUrl."""
    inputs = read_event(approval_event_path(sample))["detail"]["ProcessingInputs"]
    uri: str = next(entry["S3Input"]["S3Uri"] for entry in inputs if entry["InputName"] == "model")
    return uri


def _processing_job(clients: Clients, event: dict[str, Any], *, fail: bool) -> None:
    """The processing job a processing job event names, linked to its package by tag, ended as the event says."""
    detail = event["detail"]
    version = detail["ProcessingJobName"].rsplit("-", 1)[-1]
    create_processing_job_from_detail(
        clients.sagemaker, detail, package_arn("credit-risk", int(version)), role=ROLE, fail=fail
    )


def build_approval_state(clients: Clients) -> dict[str, str]:
    """Create everything events/approval/README.md says the samples expect; return sample -> package ARN.

    Bucket ``registrar-demo-reports`` with the reports (none for churn-model/3: missing on purpose),
    churn-model versions 1-5 (5 Approved by a human), sandbox-model/1, credit-risk/1 and /2, and the
    processing jobs ``credit-risk-evaluation-1`` (Completed) and ``-2`` (Failed).
    """
    clients.s3.create_bucket(Bucket=REPORT_BUCKET)
    for report, key in SAMPLE_REPORT_KEYS.items():
        clients.s3.put_object(Bucket=REPORT_BUCKET, Key=key, Body=(REPORTS / report).read_bytes())
    arns: dict[str, str] = {}
    for name in PACKAGE_SAMPLES:
        event = read_event(approval_event_path(name))
        arns[name] = _package_from_event(clients, event)
        if arns[name] != event["detail"]["ModelPackageArn"]:
            raise AssertionError(f"{name}: the emulator created {arns[name]}, the sample names another version")
    arns["duplicate"] = arns["passing"]
    # Each evaluated by its own job: its model is the one the job's event names as its input ``model``.
    arns["processing-completed"] = _credit_risk_package(clients, "processing-completed")
    arns["failed-job"] = _credit_risk_package(clients, "failed-job")
    if (arns["processing-completed"], arns["failed-job"]) != (
        package_arn("credit-risk", 1),
        package_arn("credit-risk", 2),
    ):
        raise AssertionError("credit-risk versions were not numbered 1 and 2")
    _processing_job(clients, read_event(approval_event_path("processing-completed")), fail=False)
    _processing_job(clients, read_event(approval_event_path("failed-job")), fail=True)
    return arns


# Neo ------------------------------------------------------------------------------------------------


def build_neo_package(clients: Clients) -> str:
    """churn-model/1 with a PyTorch 1.13.1 primary container, and the bucket ``churn-artifacts``."""
    clients.s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    clients.ensure_group("churn-model")
    arn: str = clients.sagemaker.create_model_package(
        ModelPackageGroupName="churn-model",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": XGBOOST_IMAGE,
                    "ModelDataUrl": NEO_INPUT,
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                    "Framework": "PYTORCH",
                    "FrameworkVersion": "1.13.1",
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    if arn != package_arn("churn-model", 1):
        raise AssertionError(f"the emulator created {arn}, not churn-model/1")
    return arn


def compile_job(
    clients: Clients,
    name: str,
    target: str,
    *,
    package: str | None = None,
    tagged: str | None = None,
    fail: bool = False,
) -> dict[str, Any]:
    """Create a compilation job (it ends at once in the emulator) and return DescribeCompilationJob.

    Parameters
    ----------
    package
        Compile this versioned package (``ModelPackageVersionArn``); otherwise the job compiles
        ``s3://churn-artifacts/train/model.tar.gz`` (PyTorch 1.13) from its ``InputConfig``.
    tagged
        Link the job with the tag ``registrar:model-package-arn`` = this ARN.
    fail
        Tag the job ``emulator:outcome=FAILED``.
    """
    create_compilation_job(
        clients.sagemaker,
        name,
        target,
        NEO_OUTPUT,
        role=ROLE,
        package_arn=package,
        input_config=None if package is not None else NEO_INPUT_CONFIG,
        tagged=tagged,
        fail=fail,
    )
    described: dict[str, Any] = clients.sagemaker.describe_compilation_job(CompilationJobName=name)
    described.pop("ResponseMetadata", None)
    return described


def build_neo_state(clients: Clients) -> dict[str, dict[str, Any]]:
    """churn-model/1 and the five jobs of events/neo/README.md; returns sample -> DescribeCompilationJob."""
    arn = build_neo_package(clients)
    return {
        "completed-ml-c5": compile_job(clients, "churn-model-1-ml-c5", "ml_c5", package=arn),
        "completed-ml-inf2": compile_job(clients, "churn-model-1-ml-inf2", "ml_inf2", tagged=arn),
        "edge-jetson-nano": compile_job(clients, "churn-model-1-jetson-nano", "jetson_nano", tagged=arn),
        "failed": compile_job(clients, "churn-model-1-ml-c5-failed", "ml_c5", package=arn, fail=True),
        "unlinked": compile_job(clients, "churn-model-unlinked", "ml_c5"),
    }


# Environment ----------------------------------------------------------------------------------------

LAMBDA_ENVIRONMENT = {
    "REGISTRAR_POLICY_FILE": str(POLICY),
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def default_configuration() -> dict[str, str]:
    """The ``REGISTRAR_*`` settings the stack gives its functions from cdk.json's own ``registrar`` context.

    Groups, report locations and Neo output locations as infra/approval_flow.py and infra/neo_registration.py
    set them; the policy is read from its file (the stack delivers the same file in an SSM parameter).
    """
    config = json.loads(CDK_JSON.read_text())["context"]["registrar"]
    return {
        "REGISTRAR_POLICY_FILE": str(ROOT / config["policy_file"]),
        "REGISTRAR_MANAGED_GROUPS": ",".join(config["model_package_groups"]),
        "REGISTRAR_REPORT_LOCATIONS": ",".join(config["report_locations"]),
        "REGISTRAR_NEO_OUTPUT_LOCATIONS": ",".join(config["neo_output_locations"]),
    }


@contextlib.contextmanager
def emulator_environment(emulator: Emulator, **variables: str) -> Iterator[None]:
    """The environment of the ``aws`` fixture (and ``variables``) for a fixture wider than one test.

    registrar's clients and what a Lambda container keeps are rebuilt on entry and on exit, so nothing
    built here outlives it.
    """
    with support.emulator_environment(emulator.endpoint, emulator.region, **variables):
        yield


def run_cli(*argv: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``registrar`` in this process; returns the exit status, the JSON lines printed and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def create_idempotency_table(clients: Clients, name: str) -> None:
    """The idempotency table the stack deploys: partition key ``id`` (S)."""
    support.create_idempotency_table(clients.dynamodb, name)


# Lambda ---------------------------------------------------------------------------------------------


def lambda_context(function_name: str = "registrar-test") -> LocalLambdaContext:
    return LocalLambdaContext(function_name=function_name)
