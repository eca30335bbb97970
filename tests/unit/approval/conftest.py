"""Approval unit fixtures: in-memory fakes of the registry and the report store, and builders. No network."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from registrar.approval.policy import Policy, parse_policy
from registrar.events import ModelPackageEvent, ProcessingJobEvent, parse_event
from registrar.package import ModelPackage
from registrar.reports import Report, ReportUnreadableError
from registrar.updates import PackageUpdate

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "registrar-test-reports"
MODELS = "registrar-test-models"
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"

POLICY_TEXT = """\
version: 1
rules:
  - groups: ["churn-*"]
    approve_when:
      - metric: binary_classification_metrics.auc.value
        min: 0.85
      - metric: binary_classification_metrics.recall.value
        min: 0.6
    on_failure: reject
    on_approval:
      model_life_cycle: {stage: Production, stage_status: Approved}
  - groups: ["fraud-*"]
    approve_when:
      - metric: binary_classification_metrics.auc.value
        min: 0.8
    beat_champion: {metric: binary_classification_metrics.auc.value, by: 0.01}
    on_failure: hold
  - groups: ["credit-risk"]
    approve_when:
      - metric: binary_classification_metrics.auc.value
        min: 0.8
    evaluation: {output_name: evaluation, file: evaluation.json}
    on_failure: reject
  - groups: ["legacy-*"]
    approve_when:
      - metric: binary_classification_metrics.auc.value
        min: 0.7
    on_failure: reject
    redecide: true
"""


def package_arn(group: str, version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


def report_uri(group: str, version: int) -> str:
    return f"s3://{BUCKET}/{group}/{version}/evaluation.json"


def model_uri(group: str, version: int) -> str:
    """The version's own model artifact (its primary container's ModelDataUrl): one per version."""
    return f"s3://{MODELS}/{group}/{version}/output/model.tar.gz"


def _quality_report(**metrics: Any) -> dict[str, Any]:
    """A report in SageMaker's model-quality format: ``quality_report(auc=0.91, recall=0.72)``."""
    return {
        "binary_classification_metrics": {
            name: {"value": value, "standard_deviation": "NaN"} for name, value in metrics.items()
        }
    }


def client_error(code: str, message: str = "refused", operation: str = "DescribeModelPackage") -> ClientError:
    """A botocore ClientError as the service returns it."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeRegistry:
    """In memory, the calls :class:`registrar.registry.Registry` makes; counts every call.

    ``update`` applies a request as SageMaker does (sagemaker-facts.md §3): members left out are
    unchanged, metadata is merged and the removed keys deleted, the life cycle and card replaced.
    """

    def __init__(self) -> None:
        self.packages: dict[str, ModelPackage] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.resource_tags: dict[str, dict[str, str]] = {}
        self.calls: Counter[str] = Counter()
        self.job_accounts: list[str | None] = []
        self.updates: list[PackageUpdate] = []

    def add_package(self, package: ModelPackage) -> ModelPackage:
        self.packages[package.ModelPackageArn] = package
        return package

    def add_job(self, job: dict[str, Any], tags: dict[str, str] | None = None) -> dict[str, Any]:
        self.jobs[job["ProcessingJobName"]] = job
        self.resource_tags[job["ProcessingJobArn"]] = dict(tags or {})
        return job

    def describe(self, model_package_arn: str) -> ModelPackage:
        self.calls["describe"] += 1
        if model_package_arn not in self.packages:
            # SageMaker answers DescribeModelPackage of a missing version with a ValidationException
            raise client_error("ValidationException", f"ModelPackage {model_package_arn} does not exist.")
        return self.packages[model_package_arn]

    def describe_processing_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        self.calls["describe_processing_job"] += 1
        self.job_accounts.append(account)
        if name not in self.jobs:
            raise client_error("ValidationException", f"Could not find requested job with name {name}")
        return copy.deepcopy(self.jobs[name])

    def tags(self, resource_arn: str) -> dict[str, str]:
        self.calls["tags"] += 1
        return dict(self.resource_tags.get(resource_arn, {}))

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        self.calls["latest_approved"] += 1
        approved = [
            package
            for package in self.packages.values()
            if package.ModelPackageGroupName == group_name
            and package.ModelApprovalStatus == "Approved"
            and package.ModelPackageArn != excluding
        ]
        return max(approved, key=lambda package: package.ModelPackageVersion or 0, default=None)

    def update(self, update: PackageUpdate) -> str:
        self.calls["update"] += 1
        self.updates.append(update)
        request = update.to_request()
        state = self.packages[update.ModelPackageArn].model_dump(exclude_none=True)
        for member in ("ModelApprovalStatus", "ApprovalDescription", "ModelLifeCycle", "ModelCard"):
            if member in request:
                state[member] = copy.deepcopy(request[member])
        metadata = {**state.get("CustomerMetadataProperties", {}), **request.get("CustomerMetadataProperties", {})}
        for key in request.get("CustomerMetadataPropertiesToRemove", []):
            metadata.pop(key, None)
        state["CustomerMetadataProperties"] = metadata
        self.packages[update.ModelPackageArn] = ModelPackage.model_validate(state)
        return update.ModelPackageArn


class FakeReportStore:
    """In memory, :meth:`registrar.reports.ReportStore.read`: each URI holds the versions of its object.

    ``put`` writes a new version (the last one is the current object) and returns its version as S3
    would give it: ``etag:<md5 of the body>``, or ``version:<id>`` when ``versioned`` (a bucket with
    versioning on). A version may be an exception to raise instead (an
    :class:`~registrar.errors.EvidenceError`, a :class:`~registrar.errors.DeploymentError`).
    ``read(uri, version=...)`` reads that version as S3 does: a VersionId that is gone, or an ETag
    that no longer matches the current object (IfMatch), cannot be read.
    """

    def __init__(self, *, versioned: bool = False) -> None:
        self.versioned = versioned
        self.objects: dict[str, list[tuple[str, Any]]] = {}
        self.reads: list[str] = []
        self.versions_read: list[str | None] = []

    def put(self, uri: str, report: Any) -> str:
        """Store a new version of ``uri`` (a report, or an exception reading it raises); return its version."""
        history = self.objects.setdefault(uri, [])
        if self.versioned:
            opaque = hashlib.sha1(f"{uri}#{len(history)}".encode(), usedforsecurity=False).hexdigest()[:32]
            version = f"version:{opaque}"
        else:
            body = json.dumps(report, default=repr, sort_keys=True).encode()
            version = "etag:" + hashlib.md5(body, usedforsecurity=False).hexdigest()
        history.append((version, report))
        return version

    def read(self, uri: str, *, version: str | None = None) -> Report:
        self.reads.append(uri)
        self.versions_read.append(version)
        history = self.objects.get(uri)
        if not history:
            raise ReportUnreadableError(f"report {uri} cannot be read: NoSuchKey (The specified key does not exist.)")
        found, value = history[-1]
        if version is not None and version.startswith("version:"):
            kept = dict(history)
            if version not in kept:
                raise ReportUnreadableError(f"report {uri} at {version} cannot be read: NoSuchVersion (gone)")
            found, value = version, kept[version]
        elif version is not None and version != found:
            raise ReportUnreadableError(f"report {uri} changed since {version} was recorded")
        if isinstance(value, Exception):
            raise value
        return Report(document=copy.deepcopy(value), version=found)


PackageBuilder = Callable[..., ModelPackage]


def _new_package(
    group: str = "churn-model",
    version: int = 1,
    *,
    approval: str = "PendingManualApproval",
    status: str = "Completed",
    report: str | None = "default",
    model: str | None = "default",
    metadata: dict[str, str] | None = None,
    **fields: Any,
) -> ModelPackage:
    description: dict[str, Any] = {
        "ModelPackageArn": package_arn(group, version),
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageStatus": status,
        "ModelApprovalStatus": approval,
        "CustomerMetadataProperties": dict(metadata or {}),
    }
    uri = report_uri(group, version) if report == "default" else report
    if uri is not None:
        description["ModelMetrics"] = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
        }
    artifact = model_uri(group, version) if model == "default" else model
    if artifact is not None:
        description["InferenceSpecification"] = {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": artifact}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        }
    description.update(fields)
    return ModelPackage.model_validate(description)


def _package_event(package: ModelPackage, updated_fields: tuple[str, ...] = ()) -> ModelPackageEvent:
    event = parse_event(
        {
            "version": "0",
            "id": "11111111-2222-3333-4444-555555555555",
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": "2025-03-04T09:15:27Z",
            "region": REGION,
            "resources": [package.ModelPackageArn],
            "detail": {
                "ModelPackageArn": package.ModelPackageArn,
                "ModelPackageGroupName": package.ModelPackageGroupName,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": "PendingManualApproval",
                "UpdatedModelPackageFields": list(updated_fields),
                "LastModifiedTime": "2025-03-04T09:15:27Z",
            },
        }
    )
    assert isinstance(event, ModelPackageEvent)
    return event


def _job(
    name: str,
    status: str = "Completed",
    *,
    output: str = "evaluation",
    model: ModelPackage | str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """DescribeProcessingJob's answer for a job writing its report under ``s3://.../<name>/<output>``.

    ``model`` is what the job evaluated, given as its input ``model``: a version (its ModelDataUrl) or
    an S3 URI. Without it the job has no inputs, and evaluated no version's model.
    """
    job: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{name}",
        "ProcessingJobStatus": status,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": output,
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/jobs/{name}/{output}",
                        "LocalPath": "/opt/ml/processing/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    artifact = model.primary_container.get("ModelDataUrl") if isinstance(model, ModelPackage) else model
    if artifact is not None:
        job["ProcessingInputs"] = [
            {
                "InputName": "model",
                "S3Input": {
                    "S3Uri": artifact,
                    "LocalPath": "/opt/ml/processing/model",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ]
    job.update(fields)
    return job


def _job_event(job: dict[str, Any], status: str | None = None) -> ProcessingJobEvent:
    event = parse_event(
        {
            "version": "0",
            "id": "66666666-7777-8888-9999-000000000000",
            "detail-type": "SageMaker Processing Job State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": "2025-03-06T08:30:12Z",
            "region": REGION,
            "resources": [job["ProcessingJobArn"]],
            "detail": {
                "ProcessingJobArn": job["ProcessingJobArn"],
                "ProcessingJobName": job["ProcessingJobName"],
                "ProcessingJobStatus": status or job["ProcessingJobStatus"],
                "LastModifiedTime": 1741251012000,
            },
        }
    )
    assert isinstance(event, ProcessingJobEvent)
    return event


@pytest.fixture
def policy() -> Policy:
    """The unit tests' policy: churn-* reject, fraud-* hold + champion, credit-risk by job, legacy-* redecide."""
    return parse_policy(POLICY_TEXT, source="test-policy.yaml")


@pytest.fixture
def new_package() -> PackageBuilder:
    """Builder: ``new_package(group, version, approval=..., status=..., report=uri|None, model=uri|None,
    metadata={...})``; by default each version has its own report and its own model artifact (:func:`model_uri`)."""
    return _new_package


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def reports() -> FakeReportStore:
    return FakeReportStore()


@pytest.fixture
def package_event() -> Callable[..., ModelPackageEvent]:
    """Builder: ``package_event(package, updated_fields=(...))`` -> a parsed Model Package State Change."""
    return _package_event


@pytest.fixture
def processing_job() -> Callable[..., dict[str, Any]]:
    """Builder: ``processing_job(name, status, output=..., model=package|uri, **fields)`` -> DescribeProcessingJob."""
    return _job


@pytest.fixture
def job_event() -> Callable[..., ProcessingJobEvent]:
    """Builder: ``job_event(job, status=None)`` -> a parsed Processing Job State Change for ``job``."""
    return _job_event


@pytest.fixture
def quality_report() -> Callable[..., dict[str, Any]]:
    """Builder: ``quality_report(auc=0.91, recall=0.72)`` -> a SageMaker model-quality report."""
    return _quality_report


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    """A botocore S3 client, never connected, answered by its Stubber; every queued answer must be used."""
    client = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
