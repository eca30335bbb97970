"""The emulator's compilation jobs end as Neo's do (sagemaker-facts.md §4, §5.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from registrar_dev.emulator import Emulator

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

MakePackage = Callable[..., str]
ROLE = "arn:aws:iam::123456789012:role/registrar-neo"
OUTPUT = "s3://registrar-test-compiled/out/"


def compile_job(sagemaker: SageMakerClient, name: str, target: str = "ml_c5", **members: Any) -> dict[str, Any]:
    """Create a compilation job (a PyTorch input model unless members say otherwise) and describe it."""
    request: dict[str, Any] = {
        "CompilationJobName": name,
        "RoleArn": ROLE,
        "OutputConfig": {"S3OutputLocation": OUTPUT, "TargetDevice": target},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
        **members,
    }
    if "InputConfig" not in request and "ModelPackageVersionArn" not in request:
        request["InputConfig"] = {
            "S3Uri": "s3://registrar-test-artifacts/resnet50.tar.gz",
            "Framework": "PYTORCH",
            "FrameworkVersion": "1.13.1",
            "DataInputConfig": '{"input0": [1, 3, 224, 224]}',
        }
    sagemaker.create_compilation_job(**request)
    return dict(sagemaker.describe_compilation_job(CompilationJobName=name))


def test_job_on_package_returns_package_arn(sagemaker: SageMakerClient, make_package: MakePackage) -> None:
    # GIVEN a versioned package
    arn = make_package()

    # WHEN a job compiles it
    described = compile_job(sagemaker, "on-package", ModelPackageVersionArn=arn)

    # THEN DescribeCompilationJob names the package
    assert described["ModelPackageVersionArn"] == arn


def test_job_on_package_names_artifact_after_model_and_target(
    sagemaker: SageMakerClient, make_package: MakePackage
) -> None:
    # GIVEN a versioned package whose model is model.tar.gz
    arn = make_package()

    # WHEN a job compiles it for ml_c5
    described = compile_job(sagemaker, "on-package", ModelPackageVersionArn=arn)

    # THEN the artifact is model-ml_c5.tar.gz under the output location
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == "s3://registrar-test-compiled/out/model-ml_c5.tar.gz"


def test_job_on_input_names_artifact_after_input(sagemaker: SageMakerClient) -> None:
    # GIVEN an input model resnet50.tar.gz
    # WHEN a job compiles it for ml_inf2
    described = compile_job(sagemaker, "on-input", target="ml_inf2")

    # THEN the artifact is resnet50-ml_inf2.tar.gz
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == "s3://registrar-test-compiled/out/resnet50-ml_inf2.tar.gz"


def test_job_on_input_returns_framework(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a job compiling a PyTorch 1.13.1 input model
    described = compile_job(sagemaker, "on-input")

    # THEN DescribeCompilationJob returns the framework and its version
    assert (described["InputConfig"]["Framework"], described["InputConfig"]["FrameworkVersion"]) == (
        "PYTORCH",
        "1.13.1",
    )


def test_completed_job_puts_artifact_in_s3(aws: Emulator, sagemaker: SageMakerClient) -> None:
    # GIVEN the output bucket exists
    s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name=aws.region)
    s3.create_bucket(Bucket="registrar-test-compiled")

    # WHEN a job completes
    compile_job(sagemaker, "puts-artifact")

    # THEN an (empty) object is at the artifact's key
    assert s3.head_object(Bucket="registrar-test-compiled", Key="out/resnet50-ml_c5.tar.gz")["ContentLength"] == 0


@pytest.mark.parametrize(
    ("target", "image"),
    [
        ("ml_c5", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neo:1.13-cpu-py3"),
        ("ml_g4dn", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neo:1.13-gpu-py3"),
        ("ml_inf1", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neuron:1.13-neuron-py3"),
        ("ml_inf2", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neuronx:1.13-neuronx-py3"),
        ("ml_c6g", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-graviton:1.13-cpu-py3"),
    ],
)
def test_cloud_target_gets_inference_image(sagemaker: SageMakerClient, target: str, image: str) -> None:
    # GIVEN/WHEN a PyTorch 1.13.1 model compiled for an instance family
    described = compile_job(sagemaker, f"image-{target.replace('_', '-')}", target=target)

    # THEN the job names the image serving that family
    assert described["InferenceImage"] == image


def test_edge_target_gets_no_inference_image(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a model compiled for an edge device
    described = compile_job(sagemaker, "edge", target="jetson_nano")

    # THEN the job has artifacts but no inference image
    assert ("InferenceImage" in described, "ModelArtifacts" in described) == (False, True)


def test_failed_outcome_tag_fails_job(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a job tagged to fail
    described = compile_job(sagemaker, "fails", Tags=[{"Key": "emulator:outcome", "Value": "FAILED"}])

    # THEN it is FAILED, says why, and has no artifacts
    assert described["CompilationJobStatus"] == "FAILED"
    assert described["FailureReason"] == "ClientError: emulator:outcome=FAILED: compilation failed as requested"
    assert "ModelArtifacts" not in described


def test_stopped_outcome_tag_stops_job(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a job tagged to be stopped
    described = compile_job(sagemaker, "stops", Tags=[{"Key": "emulator:outcome", "Value": "STOPPED"}])

    # THEN it is STOPPED
    assert described["CompilationJobStatus"] == "STOPPED"


def test_completed_job_has_end_times(sagemaker: SageMakerClient) -> None:
    # GIVEN/WHEN a job that completes
    described = compile_job(sagemaker, "ends")

    # THEN its end and last-modified times are set, not before its start
    assert described["CompilationEndTime"] == described["LastModifiedTime"] >= described["CompilationStartTime"]


def test_list_filters_on_status_and_last_modified_time(sagemaker: SageMakerClient) -> None:
    # GIVEN a failed job, then a completed and a failed job modified after it
    cutoff = compile_job(sagemaker, "old-failed", Tags=[{"Key": "emulator:outcome", "Value": "FAILED"}])
    compile_job(sagemaker, "new-completed")
    compile_job(sagemaker, "new-failed", Tags=[{"Key": "emulator:outcome", "Value": "FAILED"}])

    # WHEN failed jobs modified after the first one's LastModifiedTime are listed
    listed = sagemaker.list_compilation_jobs(StatusEquals="FAILED", LastModifiedTimeAfter=cutoff["LastModifiedTime"])

    # THEN only the new failed job is listed
    assert [summary["CompilationJobName"] for summary in listed["CompilationJobSummaries"]] == ["new-failed"]


def test_list_pages_with_next_token(sagemaker: SageMakerClient) -> None:
    # GIVEN three jobs
    for name in ("page-1", "page-2", "page-3"):
        compile_job(sagemaker, name)

    # WHEN they are listed two at a time
    first = sagemaker.list_compilation_jobs(MaxResults=2)
    second = sagemaker.list_compilation_jobs(MaxResults=2, NextToken=first["NextToken"])

    # THEN the second page holds the third job, and no further token
    names = [s["CompilationJobName"] for s in first["CompilationJobSummaries"] + second["CompilationJobSummaries"]]
    assert (sorted(names), "NextToken" in second) == (["page-1", "page-2", "page-3"], False)


def test_list_tags_of_job(sagemaker: SageMakerClient) -> None:
    # GIVEN a tagged job
    described = compile_job(sagemaker, "tagged", Tags=[{"Key": "team", "Value": "ml"}])

    # WHEN its tags are listed
    tags = sagemaker.list_tags(ResourceArn=described["CompilationJobArn"])["Tags"]

    # THEN the tag is there
    assert tags == [{"Key": "team", "Value": "ml"}]
