"""Exactly-once effects, one layer at a time.

1. Powertools Idempotency on DynamoDB, keyed on what the event is about (the subject), not its id.
2. The deterministic ClientToken on every UpdateModelPackage: the same change sent twice is applied once.
3. plan: a change the package already has plans to nothing.

Each layer is exercised with the other two unable to help: duplicates of one subject (layer 1 alone
stops the second decision), the very same request sent twice (layer 2 alone, below the handler), and
two subjects about one package (layer 1 cannot match them; layer 3 does).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from handlers import approval, neo_registration
from registrar.approval import service as approval_flow
from registrar.events import utc
from registrar.neo import service as neo_flow
from registrar.outcome import Outcome
from registrar.registry import Registry
from registrar.updates import PackageUpdate
from registrar_dev.support import CallCounter
from tests.reliability.world import (
    FAILING,
    TABLE,
    World,
    compilation_event,
    failed_records,
    invoke,
    subject_hash,
    with_new_id,
)


def idempotency_keys(world: World) -> list[str]:
    items = world.dynamodb.scan(TableName=TABLE)["Items"]
    return [item["id"]["S"] for item in items]


def decided(event: dict[str, Any], *, apply: bool) -> Outcome:
    """The approval flow of the function's container, without the idempotency layer (the CLI's path)."""
    return approval_flow.deployed().handle(approval_flow.parse(event), apply=apply)


def registered(event: dict[str, Any]) -> Outcome:
    """The Neo flow of the function's container, without the idempotency layer (the CLI's sweep, a replay)."""
    return neo_flow.deployed().handle(neo_flow.parse(event), apply=True)


# Layer 1: Powertools Idempotency, keyed on the subject ---------------------------------------------------


def test_same_package_event_with_new_ids_is_decided_once(world: World, calls: CallCounter, outcomes: list[Any]) -> None:
    # GIVEN a pending version whose report passes, and its event delivered three times with three ids
    arn = world.package()
    event = world.creation_event(arn)
    # WHEN each delivery reaches the handler in its own invocation
    responses = [invoke(approval.handler, delivery) for delivery in (event, with_new_id(event), with_new_id(event))]
    # THEN every record succeeds, the version was decided once, and one UpdateModelPackage was sent
    assert [failed_records(response) for response in responses] == [0, 0, 0]
    # The subject is the version as read back: registrar's own write made it a new one, so the second delivery
    # is looked at again (found decided: unchanged) and the third is answered from the second's record.
    assert [outcome.outcome for outcome in outcomes] == ["updated", "unchanged"]
    assert calls.count("UpdateModelPackage") == 1


def test_a_duplicate_costs_one_describe_and_nothing_more(world: World, calls: CallCounter) -> None:
    # GIVEN an event already handled
    arn = world.package()
    event = world.creation_event(arn)
    invoke(approval.handler, event)
    described_before = calls.count("DescribeModelPackage")
    # WHEN a duplicate with another id arrives
    invoke(approval.handler, with_new_id(event))
    # THEN it costs the read that resolves its subject: one DescribeModelPackage, no report read, no update
    assert calls.count("DescribeModelPackage") == described_before + 1
    assert calls.count("GetObject", service="s3") == 1
    assert calls.count("UpdateModelPackage") == 1


def test_idempotency_record_is_keyed_on_the_subject_not_the_event_id(world: World) -> None:
    # GIVEN a package event, and the version as SageMaker describes it when the event is handled
    arn = world.package()
    event = world.creation_event(arn)
    described = world.describe(arn)
    # WHEN the event is handled and the idempotency table is read
    invoke(approval.handler, event)
    keys = idempotency_keys(world)
    # THEN its one record is keyed on the hash of "ARN|status|approval status|last-modified time" as read back
    # from SageMaker, not on the event's id
    stamp = utc(described["LastModifiedTime"])
    assert stamp is not None
    subject = f"{arn}|{described['ModelPackageStatus']}|{described['ModelApprovalStatus']}|{stamp.isoformat()}"
    assert len(keys) == 1
    assert keys[0].endswith("#" + subject_hash(subject))
    assert event["id"] not in keys[0]


def test_idempotency_record_is_keyed_on_the_state_read_back_not_the_events_claims(world: World) -> None:
    # GIVEN a pending version's event, rewritten to claim another approval status and another time
    arn = world.package()
    described = world.describe(arn)
    forged = with_new_id(world.creation_event(arn))
    forged["detail"]["ModelApprovalStatus"] = "Rejected"
    forged["detail"]["LastModifiedTime"] = "2020-01-01T00:00:00Z"
    # WHEN it is handled
    invoke(approval.handler, forged)
    # THEN the record's key is the version as SageMaker described it: pending, at its own time
    stamp = utc(described["LastModifiedTime"])
    assert stamp is not None
    subject = f"{arn}|Completed|PendingManualApproval|{stamp.isoformat()}"
    keys = idempotency_keys(world)
    assert len(keys) == 1
    assert keys[0].endswith("#" + subject_hash(subject))


def test_compilation_job_event_is_keyed_on_job_and_status(
    world: World, calls: CallCounter, outcomes: list[Any]
) -> None:
    # GIVEN a finished compilation of a version, announced twice (the sweeper and a user's own event)
    arn = world.package()
    job = world.compile("churn-1-ml-c5", arn)
    event = compilation_event(job)
    # WHEN both reach the Neo handler
    invoke(neo_registration.handler, event)
    invoke(neo_registration.handler, with_new_id(event))
    # THEN one registration ran, one update was sent, and the record's key is the job ARN, status and time
    assert len(outcomes) == 1
    assert calls.count("UpdateModelPackage") == 1
    stamp = job["LastModifiedTime"].astimezone(UTC).isoformat()
    assert idempotency_keys(world)[0].endswith("#" + subject_hash(f"{job['CompilationJobArn']}|COMPLETED|{stamp}"))


# Layer 2: the ClientToken ------------------------------------------------------------------------------


def test_the_same_change_sent_twice_is_applied_once(world: World) -> None:
    # GIVEN two handlers that planned the same decision against the same pending version (a race layer 1
    # cannot see: different subjects, both read the package before either wrote)
    arn = world.package()
    event = world.creation_event(arn)
    first = decided(event, apply=False)
    second = decided(with_new_id(event), apply=False)
    assert first.request == second.request
    # WHEN both send their request
    registry = Registry()
    assert first.request is not None
    for _ in range(2):
        registry.update(PackageUpdate.from_request(first.request))
    # THEN SageMaker applied one change: one state-change event, one remembered token
    assert len(world.update_events(arn)) == 1
    assert world.applied_updates() == 1


def test_a_corrected_decision_gets_its_own_token(world: World) -> None:
    # GIVEN a version approved by registrar, then reset to pending by a person with a failing report in place
    arn = world.package()
    approved = decided(world.creation_event(arn), apply=True)
    uri = world.describe(arn)["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    world.upload(uri.split("/", 3)[3], FAILING)
    world.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="PendingManualApproval")
    # WHEN the version is decided again
    rejected = decided(world.update_events(arn)[-1], apply=True)
    # THEN the new decision is a different request with a different token, and it is applied
    assert approved.request is not None and rejected.request is not None
    assert approved.request["ClientToken"] != rejected.request["ClientToken"]
    assert world.describe(arn)["ModelApprovalStatus"] == "Rejected"


# Layer 3: plan ------------------------------------------------------------------------------------------


def test_an_older_event_about_a_decided_package_writes_nothing(
    world: World, calls: CallCounter, outcomes: list[Any]
) -> None:
    # GIVEN a version decided from its event
    arn = world.package()
    event = world.creation_event(arn)
    invoke(approval.handler, event)
    # WHEN an event about the same package with another time arrives (another subject, since registrar's own
    # write changed the version it resolves to: layer 1 lets it through)
    stale = with_new_id(event)
    stale["detail"]["LastModifiedTime"] = "2020-01-01T00:00:00Z"
    invoke(approval.handler, stale)
    # THEN it is handled, found already decided, and nothing more is written
    assert [outcome.outcome for outcome in outcomes] == ["updated", "unchanged"]
    assert calls.count("UpdateModelPackage") == 1


def test_a_registered_compilation_handled_again_plans_nothing(
    world: World, calls: CallCounter, outcomes: list[Any]
) -> None:
    # GIVEN a compilation attached to its version
    arn = world.package()
    job = world.compile("churn-1-ml-c5", arn)
    registered(compilation_event(job))
    # WHEN the same job is registered again without the idempotency layer (the CLI's sweep, a replay)
    again = registered(compilation_event(job))
    # THEN the plan is empty: unchanged, and one update in all
    assert again.outcome == "unchanged"
    assert calls.count("UpdateModelPackage") == 1
    assert len(world.describe(arn)["AdditionalInferenceSpecifications"]) == 1
