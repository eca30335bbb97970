"""Answers the idempotency store must not keep: an event ahead of its job, and an event naming nothing usable.

Powertools keeps a handled event's result for a week and answers every later event about the same
subject from it. That is right for a decision, and wrong for an answer that depends on state that is
still changing: a job SageMaker still describes as running when the event says it finished, or a
job whose tag names no version yet. Kept, such an answer would turn the sweeper's later announcement,
a redelivery or an operator's redrive into a replay of the old answer: the event would be lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from moto.sagemaker.models import sagemaker_backends

from handlers import approval, neo_registration
from registrar.approval.service import PACKAGE_TAG
from registrar.batch import idempotency_key_prefix
from registrar.events import utc
from registrar.outcome import Outcome
from registrar_dev.support import ACCOUNT, REGION, CallCounter
from tests.reliability.world import (
    REPORT_BUCKET,
    ROLE,
    TABLE,
    World,
    compilation_event,
    failed_records,
    invoke,
    subject_hash,
    with_new_id,
)

EVALUATION = {
    "binary_classification_metrics": {
        "auc": {"value": 0.91, "standard_deviation": "NaN"},
        "f1": {"value": 0.7, "standard_deviation": "NaN"},
    }
}


def evaluation_event(world: World, job: str, *, linked_to: str, model: str | None = None) -> dict[str, Any]:
    """A finished processing job tagged ``linked_to`` whose passing evaluation is in place; its state-change event.

    The job evaluates ``model``, by default the linked version's own.
    """
    world.processing_job(job, linked_to=linked_to, model=model)
    world.upload(f"evaluations/{job}/evaluation.json", json.dumps(EVALUATION).encode())
    return world.processing_event(job)


def idempotency_records(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.dynamodb.scan(TableName=TABLE)["Items"]
    return items


@contextlib.contextmanager
def described_as(job: Any, attribute: str, status: str) -> Iterator[None]:
    """SageMaker's answer lagging behind the event: the job describes as ``status`` inside the block."""
    finished = getattr(job, attribute)
    setattr(job, attribute, status)
    try:
        yield
    finally:
        setattr(job, attribute, finished)


def test_a_compilation_event_ahead_of_its_job_is_retried_and_then_registered(world: World, calls: CallCounter) -> None:
    # GIVEN a finished compilation whose event arrives while SageMaker still describes the job as running
    arn = world.package()
    job = world.compile("churn-early-ml-c5", arn)
    event = compilation_event(job)
    backend_job = sagemaker_backends[ACCOUNT][REGION].compilation_jobs["churn-early-ml-c5"]
    with described_as(backend_job, "compilation_job_status", "INPROGRESS"):
        early = invoke(neo_registration.handler, event)
    # THEN the record fails (SQS brings it back after the visibility timeout), nothing is written, nothing kept
    assert failed_records(early) == 1
    assert calls.count("UpdateModelPackage") == 0
    assert idempotency_records(world) == []
    # WHEN the same job is announced again once SageMaker describes it as finished (redelivery or the sweeper)
    later = invoke(neo_registration.handler, with_new_id(event))
    # THEN it is registered: the specification is on the version
    assert failed_records(later) == 0
    assert calls.count("UpdateModelPackage") == 1
    assert len(world.describe(arn)["AdditionalInferenceSpecifications"]) == 1


def test_a_processing_event_ahead_of_its_job_is_retried_and_then_decided(world: World) -> None:
    # GIVEN a credit-risk version evaluated by a processing job whose event arrives before its Describe says so
    arn = world.package("credit-risk", report=None)
    event = evaluation_event(world, "credit-risk-eval-early", linked_to=arn)
    backend_job = sagemaker_backends[ACCOUNT][REGION].processing_jobs["credit-risk-eval-early"]
    with described_as(backend_job, "processing_job_status", "InProgress"):
        early = invoke(approval.handler, event)
    # THEN the record fails to come back later, the version is untouched and nothing is kept
    assert failed_records(early) == 1
    assert world.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"
    assert idempotency_records(world) == []
    # WHEN it comes back after the job has finished
    later = invoke(approval.handler, with_new_id(event))
    # THEN the version is decided from the job's report
    assert failed_records(later) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"


def test_a_poison_event_is_not_remembered_so_a_redrive_after_the_repair_is_handled(world: World) -> None:
    # GIVEN a processing job of a version's model whose tag names no version ARN: its event is poison
    arn = world.package("credit-risk", report=None)
    event = evaluation_event(world, "credit-risk-eval-mistagged", linked_to="credit-risk/3", model=world.model_of(arn))
    first = invoke(approval.handler, event)
    again = invoke(approval.handler, event)
    # THEN every receive fails and looks again (nothing is answered from a stored result)
    assert failed_records(first) == failed_records(again) == 1
    assert idempotency_records(world) == []
    # WHEN the tag is repaired and an operator redrives the message from the dead-letter queue
    job = world.sagemaker.describe_processing_job(ProcessingJobName="credit-risk-eval-mistagged")
    job_arn = job["ProcessingJobArn"]
    world.sagemaker.add_tags(ResourceArn=job_arn, Tags=[{"Key": PACKAGE_TAG, "Value": arn}])
    redriven = invoke(approval.handler, event)
    # THEN the event is handled and the version decided
    assert failed_records(redriven) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert len(idempotency_records(world)) == 1


def test_a_job_tagged_after_its_event_is_registered_when_announced_again(world: World, calls: CallCounter) -> None:
    # GIVEN a finished compilation that names no version yet (no ModelPackageVersionArn, no tag)
    arn = world.package()
    world.sagemaker.create_compilation_job(
        CompilationJobName="churn-untagged-ml-c5",
        RoleArn=ROLE,
        InputConfig={
            "S3Uri": world.model_of(arn),
            "Framework": "XGBOOST",
            "DataInputConfig": '{"data": [1, 10]}',
        },
        OutputConfig={"S3OutputLocation": f"s3://{REPORT_BUCKET}/compiled/", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
    )
    job = world.sagemaker.describe_compilation_job(CompilationJobName="churn-untagged-ml-c5")
    event = compilation_event(job)
    # WHEN its event is handled THEN it is skipped as unlinked (handled, not retried) and not kept
    assert failed_records(invoke(neo_registration.handler, event)) == 0
    assert calls.count("UpdateModelPackage") == 0
    assert idempotency_records(world) == []
    # WHEN the job is tagged with its version and announced again under the same subject
    world.sagemaker.add_tags(ResourceArn=job["CompilationJobArn"], Tags=[{"Key": PACKAGE_TAG, "Value": arn}])
    assert failed_records(invoke(neo_registration.handler, with_new_id(event))) == 0
    # THEN it is registered
    assert calls.count("UpdateModelPackage") == 1
    assert len(world.describe(arn)["AdditionalInferenceSpecifications"]) == 1


def test_a_record_an_earlier_registrar_kept_is_never_replayed(world: World) -> None:
    # GIVEN the records earlier registrars kept for a poison event (the invalid answer, stored COMPLETED), under the
    # keys they used: Powertools' default prefix (the function's name and registrar.batch._handle), then record
    # version 2's. Each hashes the very subject this registrar reads back, so only the prefix tells them apart.
    arn = world.package("credit-risk", report=None)
    event = evaluation_event(world, "credit-risk-eval-upgraded", linked_to=arn)
    job = world.sagemaker.describe_processing_job(ProcessingJobName="credit-risk-eval-upgraded")
    modified = utc(job["LastModifiedTime"])
    assert modified is not None
    subject = f"{job['ProcessingJobArn']}|{job['ProcessingJobStatus']}|{modified.isoformat()}"
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "test-func")
    stale = {"outcome": "invalid", "model_package_arn": None, "request": None, "reasons": ["tag was wrong"]}
    for prefix in (f"{function}.registrar.batch._handle", f"{function}.registrar.batch.v2"):
        world.dynamodb.put_item(
            TableName=TABLE,
            Item={
                "id": {"S": f"{prefix}#{subject_hash(subject)}"},
                "expiration": {"N": str(int(time.time()) + 3600)},
                "status": {"S": "COMPLETED"},
                "data": {"S": json.dumps(stale)},
            },
        )
    # WHEN the (repaired) event is redriven to this registrar
    redriven = invoke(approval.handler, event)
    # THEN it is handled on the real state, not answered from an old record
    assert failed_records(redriven) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"
    # AND this registrar's own record carries the record version, keyed on the same subject
    keys = [item["id"]["S"] for item in idempotency_records(world)]
    assert f"{idempotency_key_prefix()}#{subject_hash(subject)}" in keys


def test_a_decision_is_still_remembered(world: World, calls: CallCounter, outcomes: list[Outcome]) -> None:
    # GIVEN a version whose event was handled (the usual case)
    arn = world.package()
    described = world.describe(arn)
    event = world.creation_event(arn)
    assert failed_records(invoke(approval.handler, event)) == 0
    # THEN the decision is kept, under the version as it was read back (pending, at its own time)
    modified = utc(described["LastModifiedTime"])
    assert modified is not None
    subject = f"{arn}|Completed|PendingManualApproval|{modified.isoformat()}"
    kept = {item["id"]["S"]: item for item in idempotency_records(world)}[
        f"{idempotency_key_prefix()}#{subject_hash(subject)}"
    ]
    assert kept["status"]["S"] == "COMPLETED"
    assert json.loads(kept["data"]["S"])["outcome"] == "updated"
    # WHEN it is delivered twice more
    for _ in range(2):
        assert failed_records(invoke(approval.handler, with_new_id(event))) == 0
    # THEN the version as registrar left it is looked at once (found decided, and that kept too), and the last
    # delivery is answered from the stored result: no report read again, no second update
    assert [outcome.outcome for outcome in outcomes] == ["updated", "unchanged"]
    assert calls.count("GetObject", service="s3") == 1
    assert calls.count("UpdateModelPackage") == 1
    assert REPORT_BUCKET in world.describe(arn)["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
