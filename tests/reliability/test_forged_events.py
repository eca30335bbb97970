"""Decisions come only from state re-read from AWS: an event that claims good evidence changes nothing.

Anyone who can put events on the bus can send a ``registrar`` event, and an ``aws.sagemaker`` event can be
stale, replayed or (on a custom bus) forged. Each forged event below names a real pending version whose
real report fails, or a real job whose real state is not what the event says.
"""

from __future__ import annotations

from typing import Any

from handlers import approval, neo_registration
from registrar_dev.support import CallCounter
from tests.reliability.world import (
    FAILING,
    PASSING,
    REPORT_BUCKET,
    World,
    envelope,
    failed_records,
    invoke,
    with_new_id,
)


def forged_package_event(world: World, arn: str, forged_report: str) -> dict[str, Any]:
    """The version's own event, rewritten to claim a passing report, good metrics and an approval."""
    event = with_new_id(world.creation_event(arn))
    detail = event["detail"]
    detail["ModelMetrics"] = {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": forged_report}}
    }
    detail["CustomerMetadataProperties"] = {"registrar:verdict": "Approved", "registrar:metric:auc": "0.99"}
    detail["ApprovalDescription"] = "registrar: Approved — auc 0.99 ≥ min 0.85"
    return event


def test_event_claiming_a_passing_report_is_decided_on_the_registered_one(world: World, calls: CallCounter) -> None:
    # GIVEN a pending version whose registered report fails, and a passing report planted in the allowed bucket
    arn = world.package(report=FAILING)
    planted = world.upload("evaluations/planted/evaluation.json", PASSING)
    # WHEN an event pointing at the planted report, claiming approval, is handled
    response = invoke(approval.handler, forged_package_event(world, arn, planted))
    # THEN the version is Rejected on its own report, and the planted one was never read
    assert failed_records(response) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Rejected"
    assert all(params["Key"] != "evaluations/planted/evaluation.json" for params in calls.of("GetObject"))


def test_event_claiming_approval_for_a_pending_version_approves_nothing(world: World) -> None:
    # GIVEN a pending version whose report fails
    arn = world.package(report=FAILING)
    event = with_new_id(world.creation_event(arn))
    event["detail"]["ModelApprovalStatus"] = "Approved"
    # WHEN an event saying it is already Approved is handled
    invoke(approval.handler, event)
    # THEN the description registrar writes is its own rejection, from the real report
    described = world.describe(arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"].startswith("registrar: Rejected")


def test_custom_source_posing_as_sagemaker_is_refused(world: World, calls: CallCounter) -> None:
    # GIVEN an event on the bus with registrar's own source but SageMaker's detail-type, claiming approval
    arn = world.package(report=FAILING)
    forged = envelope(
        "registrar",
        "SageMaker Model Package State Change",
        {"ModelPackageArn": arn, "ModelPackageStatus": "Completed", "ModelApprovalStatus": "PendingManualApproval"},
    )
    # WHEN it reaches the approval handler
    response = invoke(approval.handler, forged)
    # THEN it is poison (not an event registrar handles): the record fails towards the DLQ, nothing is read or written
    assert failed_records(response) == 1
    assert calls.count("DescribeModelPackage") == calls.count("UpdateModelPackage") == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_compilation_event_claiming_success_for_a_failed_job_attaches_nothing(world: World) -> None:
    # GIVEN a compilation job that failed
    arn = world.package()
    world.sagemaker.create_compilation_job(
        CompilationJobName="churn-1-ml-c5-failed",
        RoleArn="arn:aws:iam::123456789012:role/registrar-reliability",
        OutputConfig={"S3OutputLocation": f"s3://{REPORT_BUCKET}/compiled/", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
        ModelPackageVersionArn=arn,
        Tags=[{"Key": "emulator:outcome", "Value": "FAILED"}],
    )
    job = world.sagemaker.describe_compilation_job(CompilationJobName="churn-1-ml-c5-failed")
    # WHEN an event claims it COMPLETED (with a made-up artifact)
    forged = envelope(
        "registrar",
        "Compilation Job State Change",
        {
            "CompilationJobName": job["CompilationJobName"],
            "CompilationJobArn": job["CompilationJobArn"],
            "CompilationJobStatus": "COMPLETED",
            "ModelArtifacts": {"S3ModelArtifacts": "s3://attacker/model.tar.gz"},
        },
    )
    invoke(neo_registration.handler, forged)
    # THEN the job's real state is recorded (FAILED) and no specification is attached
    described = world.describe(arn)
    assert described.get("AdditionalInferenceSpecifications", []) == []
    assert described["CustomerMetadataProperties"]["registrar:neo:ml_c5"].startswith("FAILED churn-1-ml-c5-failed")


def test_processing_event_claiming_completion_of_a_failed_evaluation_approves_nothing(world: World) -> None:
    # GIVEN a credit-risk version whose evaluation job failed (the rule takes its evidence from the job)
    arn = world.package("credit-risk", report=None)
    world.sagemaker.create_processing_job(
        ProcessingJobName="credit-risk-eval-failed",
        RoleArn="arn:aws:iam::123456789012:role/registrar-reliability",
        AppSpecification={"ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": f"s3://{REPORT_BUCKET}/evaluations/credit-risk-eval-failed/",
                        "LocalPath": "/opt/ml/processing/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        Tags=[{"Key": "registrar:model-package-arn", "Value": arn}, {"Key": "emulator:outcome", "Value": "Failed"}],
    )
    world.upload("evaluations/credit-risk-eval-failed/evaluation.json", PASSING)
    event = with_new_id(world.processing_event("credit-risk-eval-failed"))
    event["detail"]["ProcessingJobStatus"] = "Completed"
    event["detail"].pop("FailureReason", None)
    # WHEN an event claims the job Completed (its output even holds a passing report)
    invoke(approval.handler, event)
    # THEN the job's real status decides: held for a human, not approved
    described = world.describe(arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ApprovalDescription"].startswith("registrar: Held")
