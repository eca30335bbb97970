"""In-memory fakes and builders for the Neo unit tests: SageMaker, the bus and sample jobs/packages."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from registrar.events import CompilationJobStateChange
from registrar.package import ModelPackage
from registrar.updates import PackageUpdate
from registrar.watermark import MemoryWatermark

ACCOUNT = "123456789012"
REGION = "us-east-1"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/1"
IMAGE = f"763104351884.dkr.ecr.{REGION}.amazonaws.com/tensorflow-inference-neo:2.9-cpu-py3"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# churn-model/1's model artifact (its primary container's ModelDataUrl), which its compilation jobs compile.
MODEL_DATA_URL = "s3://churn-artifacts/train/model.tar.gz"


def client_error(code: str, message: str = "refused", operation: str = "UpdateModelPackage") -> ClientError:
    """A botocore ClientError as the service returns it."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def job_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:compilation-job/{name}"


def compilation_job(
    name: str = "churn-model-1-ml-c5",
    *,
    target: str | None = "ml_c5",
    platform: dict[str, str] | None = None,
    status: str = "COMPLETED",
    package_arn: str | None = PACKAGE_ARN,
    framework: str | None = "TENSORFLOW",
    framework_version: str | None = "2.9",
    image: str | None = IMAGE,
    artifact: str | None = "s3://churn-artifacts/neo/model-ml_c5.tar.gz",
    failure_reason: str = "",
    modified: datetime = T0,
    created: datetime | None = None,
    source: str = MODEL_DATA_URL,
) -> dict[str, Any]:
    """A DescribeCompilationJob response (the members registrar reads, plus a few it does not).

    ``source`` is the model it compiled (``InputConfig.S3Uri``): by default the package's own ModelDataUrl.
    """
    output: dict[str, Any] = {"S3OutputLocation": "s3://churn-artifacts/neo/"}
    if target is not None:
        output["TargetDevice"] = target
    if platform is not None:
        output["TargetPlatform"] = platform
    job: dict[str, Any] = {
        "CompilationJobName": name,
        "CompilationJobArn": job_arn(name),
        "CompilationJobStatus": status,
        "CreationTime": created or modified - timedelta(minutes=10),
        "LastModifiedTime": modified,
        "FailureReason": failure_reason,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/neo",
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
        "OutputConfig": output,
        "ModelArtifacts": {"S3ModelArtifacts": artifact} if artifact and status == "COMPLETED" else {},
    }
    if package_arn is not None:
        job["ModelPackageVersionArn"] = package_arn
    if package_arn is None or framework is not None:
        input_config: dict[str, Any] = {"S3Uri": source}
        if framework:
            input_config["Framework"] = framework
        if framework_version:
            input_config["FrameworkVersion"] = framework_version
        job["InputConfig"] = input_config
    if image is not None and status == "COMPLETED":
        job["InferenceImage"] = image
    return job


def model_package(
    arn: str = PACKAGE_ARN,
    *,
    specifications: int = 0,
    metadata: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
    framework: str | None = "PYTORCH",
    framework_version: str | None = "1.13.1",
) -> dict[str, Any]:
    """A DescribeModelPackage response with ``specifications`` additional specifications attached."""
    container: dict[str, Any] = {
        "Image": f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-inference:1.13-cpu-py3",
        "ModelDataUrl": MODEL_DATA_URL,
    }
    if framework:
        container["Framework"] = framework
    if framework_version:
        container["FrameworkVersion"] = framework_version
    if environment is not None:
        container["Environment"] = environment
    return {
        "ModelPackageArn": arn,
        "ModelPackageGroupName": arn.split("/")[-2],
        "ModelPackageVersion": int(arn.split("/")[-1]),
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": dict(metadata or {}),
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "AdditionalInferenceSpecifications": [
            {"Name": f"existing-{index}", "Containers": [{"Image": "example/image:1"}]}
            for index in range(specifications)
        ],
    }


def package_model(**kwargs: Any) -> ModelPackage:
    return ModelPackage.model_validate(model_package(**kwargs))


class FakeRegistry:
    """SageMaker in memory, with the calls :class:`registrar.registry.Registry` makes.

    UpdateModelPackage behaves as SageMaker documents it: additional specifications are added (a
    name already attached, or a 16th specification, is a ValidationException) and metadata is merged.

    Attributes
    ----------
    fail_updates
        Errors the next UpdateModelPackage calls raise, in order (after ``before_update`` runs).
    before_update
        Called with the registry before an update is applied: a concurrent handler's write.
    pages_read
        ListCompilationJobs pages fetched, per status.
    """

    def __init__(
        self,
        jobs: Sequence[dict[str, Any]] = (),
        packages: Sequence[dict[str, Any]] = (),
        tags: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.jobs = {job["CompilationJobName"]: copy.deepcopy(job) for job in jobs}
        self.packages = {package["ModelPackageArn"]: copy.deepcopy(package) for package in packages}
        self.job_tags = dict(tags or {})
        self.updates: list[PackageUpdate] = []
        self.fail_updates: list[Exception] = []
        self.before_update: Callable[[FakeRegistry], None] | None = None
        self.tag_calls: list[str] = []
        self.described_jobs: list[str] = []
        self.job_accounts: list[str | None] = []
        self.described_packages: list[str] = []
        self.pages_read: dict[str, int] = {}
        self.listed: list[dict[str, Any]] = []

    # DescribeModelPackage / UpdateModelPackage
    def describe(self, model_package_arn: str) -> ModelPackage:
        self.described_packages.append(model_package_arn)
        if model_package_arn not in self.packages:
            raise client_error("ValidationException", f"ModelPackage {model_package_arn} does not exist.")
        return ModelPackage.model_validate(copy.deepcopy(self.packages[model_package_arn]))

    def update(self, update: PackageUpdate) -> str:
        if self.before_update is not None:
            hook, self.before_update = self.before_update, None
            hook(self)
        if self.fail_updates:
            raise self.fail_updates.pop(0)
        package = self.packages[update.ModelPackageArn]
        specs = package["AdditionalInferenceSpecifications"]
        for spec in update.AdditionalInferenceSpecificationsToAdd or []:
            if spec.Name in {existing["Name"] for existing in specs}:
                raise client_error("ValidationException", f"Name {spec.Name} already exists")
            if len(specs) >= 15:
                raise client_error("ValidationException", "at most 15 additional inference specifications")
            specs.append(spec.model_dump(exclude_none=True))
        package["CustomerMetadataProperties"].update(update.CustomerMetadataProperties or {})
        for key in update.CustomerMetadataPropertiesToRemove or []:
            package["CustomerMetadataProperties"].pop(key, None)
        self.updates.append(update.with_client_token())
        return update.ModelPackageArn

    def attach(self, arn: str, name: str, record: dict[str, str] | None = None) -> None:
        """A specification attached by someone else (with the record that handler wrote beside it)."""
        self.packages[arn]["AdditionalInferenceSpecifications"].append(
            {"Name": name, "Containers": [{"Image": "example/image:1"}]}
        )
        self.packages[arn].setdefault("CustomerMetadataProperties", {}).update(record or {})

    # DescribeCompilationJob / ListTags / ListCompilationJobs
    def describe_compilation_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        self.described_jobs.append(name)
        self.job_accounts.append(account)
        if name not in self.jobs:
            raise client_error(
                "ResourceNotFound", f"Could not find compilation job '{name}'.", "DescribeCompilationJob"
            )
        return copy.deepcopy(self.jobs[name])

    def tags(self, resource_arn: str) -> dict[str, str]:
        self.tag_calls.append(resource_arn)
        return dict(self.job_tags.get(resource_arn, {}))

    def list_compilation_jobs(
        self, *, status: str, modified_after: datetime, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Filtered by the service, sorted by CreationTime ascending, fetched a page at a time."""
        matching = sorted(
            (
                job
                for job in self.jobs.values()
                if job["CompilationJobStatus"] == status and job["LastModifiedTime"] > modified_after
            ),
            key=lambda job: (job["CreationTime"], job["CompilationJobName"]),
        )
        for offset in range(0, len(matching), page_size):
            self.pages_read[status] = self.pages_read.get(status, 0) + 1
            for job in matching[offset : offset + page_size]:
                summary = {
                    key: job[key]
                    for key in (
                        "CompilationJobName",
                        "CompilationJobArn",
                        "CompilationJobStatus",
                        "CreationTime",
                        "LastModifiedTime",
                    )
                }
                if job["OutputConfig"].get("TargetDevice"):
                    summary["CompilationTargetDevice"] = job["OutputConfig"]["TargetDevice"]
                self.listed.append(summary)
                yield summary


class FakeBus:
    """The bus in memory: records what was published; can refuse."""

    def __init__(self, error: Exception | None = None) -> None:
        self.published: list[CompilationJobStateChange] = []
        self.error = error

    def publish(self, details: Sequence[CompilationJobStateChange]) -> int:
        if self.error is not None:
            raise self.error
        self.published.extend(details)
        return len(details)


class CountingWatermark(MemoryWatermark):
    """A memory watermark that counts its writes."""

    def __init__(self, initial: datetime | None = None, announced: Mapping[str, int] | None = None) -> None:
        super().__init__(initial, announced)
        self.writes = 0

    def advance(self, to: datetime, announced: Mapping[str, int] | None = None) -> None:
        self.writes += 1
        super().advance(to, announced)


def load_neo_event(name: str) -> dict[str, Any]:
    """A sample event from ``events/neo/``."""
    import json
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[3]
    event: dict[str, Any] = json.loads((root / "events" / "neo" / name).read_text())
    return event
