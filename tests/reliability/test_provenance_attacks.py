"""Evidence and compiled models count for a version only when they are bound to it (issue #14).

A tag ``registrar:model-package-arn`` is a pointer anyone who can start a job may set; only what the job
was given says what it evaluated or compiled. Each test is one attack as it was found, through the deployed
handlers against the emulator: a job of another model tagged with a version's ARN neither decides nor
attaches anything (the refusal is recorded on the version instead), and a report the deployment does not let
registrar read earns no verdict: the version is held, the event dead-lettered, and a redrive after the fix
decides it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from handlers import approval, neo_registration
from registrar_cli.queues import redrive
from registrar_dev.emulator import Emulator
from registrar_dev.topology import Topology, build_topology
from tests.reliability.world import (
    PASSING,
    REPORT_BUCKET,
    REPORTS,
    TABLE,
    World,
    compilation_event,
    drain,
    failed_records,
    invoke,
    lambda_environment,
)

OTHER_MODEL = f"s3://{REPORT_BUCKET}/models/fraud-team/scratch/model.tar.gz"
ATTACKER_BUCKET = "attacker-bucket"
BACKDOORED = f"s3://{ATTACKER_BUCKET}/backdoored/model.tar.gz"
# Where another team's scratch evaluations go: inside the allowed report locations (evaluations/).
SCRATCH = f"s3://{REPORT_BUCKET}/evaluations/fraud-team/scratch/"


def credit_report(auc: float) -> bytes:
    """The credit-risk evaluation of ``events/approval/reports/processing.json`` with its AUC set to ``auc``."""
    report = json.loads((REPORTS / "processing.json").read_text())
    report["binary_classification_metrics"]["auc"]["value"] = auc
    return json.dumps(report).encode()


def evaluated(world: World, job: str, *, linked_to: str, report: bytes, **job_options: Any) -> dict[str, Any]:
    """A finished evaluation job tagged ``linked_to`` with ``report`` as its output; its state-change event."""
    world.processing_job(job, linked_to=linked_to, **job_options)
    prefix = str(job_options.get("output") or f"s3://{REPORT_BUCKET}/evaluations/{job}/")
    world.upload(f"{prefix.removeprefix(f's3://{REPORT_BUCKET}/')}evaluation.json", report)
    return world.processing_event(job)


def metadata(world: World, arn: str) -> dict[str, str]:
    properties: dict[str, str] = world.describe(arn).get("CustomerMetadataProperties", {})
    return properties


# Evaluations (attack 1) ---------------------------------------------------------------------------------


def test_an_evaluation_of_another_model_cannot_approve_a_held_version(world: World, outcomes: list[Any]) -> None:
    # GIVEN a credit-risk version held on its own evaluation (auc 0.51 < min 0.8)
    arn = world.package("credit-risk", report=None)
    invoke(approval.handler, evaluated(world, "credit-risk-eval", linked_to=arn, report=credit_report(0.51)))
    assert world.describe(arn)["ApprovalDescription"].startswith("registrar: Held")
    # AND another team's job, evaluating its own model and writing a passing report in its scratch space inside
    # the allowed location, tagged with the version's ARN
    event = evaluated(
        world, "fraud-team-scratch", linked_to=arn, report=credit_report(0.99), model=OTHER_MODEL, output=SCRATCH
    )
    # WHEN its event is handled
    response = invoke(approval.handler, event)
    # THEN the version is still held on its own evaluation: the other job's report was refused, not weighed
    assert failed_records(response) == 0
    described = world.describe(arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ApprovalDescription"].startswith("registrar: Held")
    assert "auc 0.51" in described["ApprovalDescription"]
    # AND the refusal is recorded on the version and in the outcome, saying why
    assert "fraud-team-scratch did not evaluate" in metadata(world, arn)["registrar:refused"]
    assert (outcomes[-1].outcome, outcomes[-1].verdict) == ("skipped", "Refused")


def test_a_failed_evaluation_of_another_model_cannot_reject_a_passing_version(world: World) -> None:
    # GIVEN a churn version whose own report passes, and a Failed job of another model tagged with its ARN
    arn = world.package()
    world.processing_job("someone-elses-failed-job", linked_to=arn, model=OTHER_MODEL, fail=True)
    # WHEN the job's event is handled first, then the version's own
    refused = invoke(approval.handler, world.processing_event("someone-elses-failed-job"))
    # THEN the failed job rejected nothing (a reject rule would have, on a job's failure)
    assert failed_records(refused) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"
    assert "registrar:verdict" not in metadata(world, arn)
    # AND the version is decided on its own report: Approved, with the refusal kept beside the decision
    assert failed_records(invoke(approval.handler, world.creation_event(arn))) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert "someone-elses-failed-job did not evaluate" in metadata(world, arn)["registrar:refused"]


# Compilations (attack 2) --------------------------------------------------------------------------------


@pytest.fixture
def approved(world: World) -> str:
    """An Approved churn version, and an attacker's bucket in the same account."""
    arn = world.package()
    assert failed_records(invoke(approval.handler, world.creation_event(arn))) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"
    world.s3.create_bucket(Bucket=ATTACKER_BUCKET)
    return arn


def specifications(world: World, arn: str) -> list[str]:
    return [spec["Name"] for spec in world.describe(arn).get("AdditionalInferenceSpecifications", [])]


def test_a_compilation_of_another_model_tagged_with_an_approved_version_attaches_nothing(
    world: World, approved: str, outcomes: list[Any]
) -> None:
    # GIVEN a compilation of an unrelated model, tagged with the Approved version's ARN, its output the attacker's
    job = world.compile_model(
        "backdoored-ml-c5", model=BACKDOORED, tagged=approved, output=f"s3://{ATTACKER_BUCKET}/out/"
    )
    # WHEN its event is handled
    response = invoke(neo_registration.handler, compilation_event(job))
    # THEN nothing is attached nor recorded for its target; the refusal is recorded, saying what it compiled
    assert failed_records(response) == 0
    assert specifications(world, approved) == []
    recorded = metadata(world, approved)
    assert "registrar:neo:ml_c5" not in recorded
    assert recorded["registrar:neo:refused"].startswith("refused backdoored-ml-c5: ")
    assert BACKDOORED in recorded["registrar:neo:refused"]
    assert (outcomes[-1].outcome, outcomes[-1].verdict) == ("skipped", "Refused")


def test_a_tagged_compilation_of_the_versions_own_model_is_attached(world: World, approved: str) -> None:
    # GIVEN a compilation of the version's own model artifact, linked by the tag
    job = world.compile_model("churn-own-ml-c5", model=world.model_of(approved), tagged=approved)
    # WHEN its event is handled THEN it is attached as before
    assert failed_records(invoke(neo_registration.handler, compilation_event(job))) == 0
    assert len(specifications(world, approved)) == 1
    assert "registrar:neo:refused" not in metadata(world, approved)


def test_compilations_of_another_model_cannot_fill_the_versions_slots(world: World, approved: str) -> None:
    # GIVEN fifteen compilations of an unrelated model tagged with the version (its 15 specification slots)
    for n in range(15):
        job = world.compile_model(f"filler-{n}-ml-c5", model=BACKDOORED, tagged=approved)
        assert failed_records(invoke(neo_registration.handler, compilation_event(job))) == 0
    # WHEN the version's own compilation finishes
    own = world.compile("churn-own-ml-inf2", approved, target="ml_inf2")
    response = invoke(neo_registration.handler, compilation_event(own))
    # THEN it is the one specification attached: the fillers took no slot
    assert failed_records(response) == 0
    assert len(specifications(world, approved)) == 1
    assert not any("filler" in name for name in specifications(world, approved))


def test_a_compiled_model_outside_the_neo_output_locations_is_not_attached(world: World, approved: str) -> None:
    # GIVEN compiled models may only lie under compiled/, and a compilation of the version's model written elsewhere
    job = world.compile_model(
        "churn-misplaced-ml-c5",
        model=world.model_of(approved),
        tagged=approved,
        output=f"s3://{ATTACKER_BUCKET}/out/",
    )
    with lambda_environment(
        world.emulator, REGISTRAR_TABLE_NAME=TABLE, REGISTRAR_NEO_OUTPUT_LOCATIONS=f"s3://{REPORT_BUCKET}/compiled/"
    ):
        # WHEN its event is handled
        response = invoke(neo_registration.handler, compilation_event(job))
    # THEN nothing is attached, the refusal is recorded, and the event fails (for an operator to fix and redrive)
    assert failed_records(response) == 1
    assert specifications(world, approved) == []
    assert "outside the configured Neo output locations" in metadata(world, approved)["registrar:neo:refused"]


# Reports the deployment keeps registrar from reading (attack 5) -------------------------------------------

STAGING_BUCKET = "registrar-reliability-staging"
FUNCTION_TIMEOUT = 6
# Receives before the DLQ: 2 instead of the deployed 5 (each costs a visibility timeout); the count is not the point.
RECEIVES = 2


@pytest.fixture
def topology(world: World, emulator: Emulator) -> Iterator[Topology]:
    """The deployed queues and rules, a record dead-lettered after its second receive."""
    built = build_topology(
        endpoint_url=emulator.endpoint, visibility_timeout=FUNCTION_TIMEOUT, function_timeout=FUNCTION_TIMEOUT
    )
    flow = built.flows["approval"]
    dead_letter_arn = world.sqs.get_queue_attributes(QueueUrl=flow.dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive_policy = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(RECEIVES)}
    world.sqs.set_queue_attributes(QueueUrl=flow.queue_url, Attributes={"RedrivePolicy": json.dumps(redrive_policy)})
    yield built


def test_a_report_outside_the_allowed_locations_holds_the_version_until_a_redrive_after_the_fix(
    world: World, topology: Topology
) -> None:
    # GIVEN a version whose passing report was written to a bucket the deployment does not allow (a mistake in
    # the stack's report locations), under the churn rule, which rejects on failure
    world.s3.create_bucket(Bucket=STAGING_BUCKET)
    report = world.upload("evaluations/churn-model/staging/evaluation.json", PASSING, bucket=STAGING_BUCKET)
    arn = world.package(uri=report)
    event_id = world.creation_event(arn)["id"]
    # WHEN its event reaches the approval queue through the deployed rule and is handled until the queue is empty
    drained = drain(topology, {"approval": approval.handler}, timeout=RECEIVES * FUNCTION_TIMEOUT + 60)
    # THEN the version is held, saying why, not rejected: the deployment's mistake is not the model's
    described = world.describe(arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ApprovalDescription"].startswith("registrar: Held")
    assert "may not read its evidence" in described["ApprovalDescription"]
    # AND the event failed on every receive, and is in the dead-letter queue for an operator
    dead = drained.dead_letters["approval"]
    assert [json.loads(message["Body"])["id"] for message in dead] == [event_id]
    for message in dead:  # drain read them; let the redrive see them again
        world.sqs.change_message_visibility(
            QueueUrl=topology.flows["approval"].dead_letter_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    # WHEN the operator fixes the report locations and redrives the dead-letter queue
    fixed = f"s3://{REPORT_BUCKET}/evaluations/,s3://{STAGING_BUCKET}/evaluations/"
    with lambda_environment(world.emulator, REGISTRAR_TABLE_NAME=TABLE, REGISTRAR_REPORT_LOCATIONS=fixed):
        moved = list(redrive(topology.flows["approval"].dead_letter_url))
        again = drain(topology, {"approval": approval.handler}, timeout=RECEIVES * FUNCTION_TIMEOUT + 60)
    # THEN the version is decided on its report, not answered "already Rejected"
    assert len(moved) == 1
    assert again.dead_letters["approval"] == []
    described = world.describe(arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"].startswith("registrar: Approved")
