"""Decisions come only from state re-read from AWS: an event that claims good evidence changes nothing.

Anyone who can put events on the bus can send a ``registrar`` event, and an ``aws.sagemaker`` event can be
stale, replayed or (on a custom bus) forged. Each forged event below names a real pending version whose
real report fails, or a real job whose real state is not what the event says; or it disagrees with itself
(a decoy's name with a real job's ARN), or it is about another account or region than the function's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import approval, neo_registration
from registrar_dev.support import ACCOUNT, REGION, CallCounter
from tests.reliability.world import (
    FAILING,
    PASSING,
    REPORT_BUCKET,
    REPORTS,
    World,
    compilation_event,
    envelope,
    failed_records,
    invoke,
    with_new_id,
)

OTHER_ACCOUNT = "210987654321"


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
    world.processing_job("credit-risk-eval-failed", linked_to=arn, fail=True)
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


# Events that disagree with themselves, or are about another account (issue #14) ---------------------------


def test_a_decoy_naming_a_real_jobs_arn_is_refused_and_cannot_hide_the_real_event(
    world: World, calls: CallCounter
) -> None:
    # GIVEN a finished compilation of a version, and an attacker's own job (of no version) to act as a decoy
    arn = world.package()
    job = world.compile("churn-1-ml-c5", arn)
    world.compile_model("decoy-ml-c5", model=world.model_of(arn), tagged="")
    # AND a registrar event naming the decoy, with the real job's ARN and time (its duplicate key, were it the event's)
    decoy = compilation_event(job)
    decoy["detail"]["CompilationJobName"] = "decoy-ml-c5"
    # WHEN the decoy is handled, then the real job's event
    refused = invoke(neo_registration.handler, decoy)
    described_jobs = calls.count("DescribeCompilationJob")
    genuine = invoke(neo_registration.handler, compilation_event(job))
    # THEN the decoy is poison, refused before any call: its name is not the job its ARN names
    assert failed_records(refused) == 1
    assert described_jobs == 0
    # AND the real event is not taken for its duplicate: the job is attached to its version
    assert failed_records(genuine) == 0
    assert len(world.describe(arn)["AdditionalInferenceSpecifications"]) == 1


def test_a_processing_decoy_naming_a_real_jobs_arn_is_refused_and_cannot_hide_the_real_event(
    world: World, calls: CallCounter
) -> None:
    # GIVEN a credit-risk version evaluated by a job whose report passes
    arn = world.package("credit-risk", report=None)
    world.processing_job("credit-risk-eval", linked_to=arn)
    world.upload("evaluations/credit-risk-eval/evaluation.json", (REPORTS / "processing.json").read_bytes())
    real = world.processing_event("credit-risk-eval")
    decoy = with_new_id(real)
    decoy["detail"]["ProcessingJobName"] = "decoy-eval"
    # WHEN the decoy is handled, then the real event
    refused = invoke(approval.handler, decoy)
    described_jobs = calls.count("DescribeProcessingJob")
    genuine = invoke(approval.handler, real)
    # THEN the decoy was refused before any call, and the real evaluation decides the version
    assert (failed_records(refused), described_jobs) == (1, 0)
    assert failed_records(genuine) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"


@pytest.mark.parametrize(
    ("account", "region"),
    [pytest.param(OTHER_ACCOUNT, REGION, id="account"), pytest.param(ACCOUNT, "eu-west-1", id="region")],
)
def test_an_event_of_another_account_or_region_is_poison_beside_the_batchs_own(
    account: str, region: str, world: World, calls: CallCounter
) -> None:
    # GIVEN a pending version's event, and the same event as another account's (or region's) SageMaker would send it
    arn = world.package(report=FAILING)
    own = world.creation_event(arn)
    foreign = json.loads(json.dumps(with_new_id(own)).replace(f":{REGION}:{ACCOUNT}:", f":{region}:{account}:"))
    foreign["account"], foreign["region"] = account, region
    # WHEN both reach the function in one batch (a rule that lets another account's events through)
    response = invoke(approval.handler, foreign, own)
    # THEN the foreign event is poison, refused before any call: only the function's own version was described
    assert failed_records(response) == 1
    assert [params["ModelPackageName"] for params in calls.of("DescribeModelPackage")] == [arn]
    # AND the version is decided once, on its own report
    assert world.describe(arn)["ModelApprovalStatus"] == "Rejected"
