"""Faults, injected through botocore's own hooks (registrar_dev.faults), and what registrar makes of them.

Transient faults (throttling, 500, a read timeout, a lost connection) are retried by the client and the
decision is applied once. A ConflictException fails the record so SQS redelivers it (approval), or is
re-planned from fresh state (Neo). A transient S3 failure that outlives the retries never turns into a
decision. (A permanent failure, which ends in the dead-letter queue, is in test_dead_letters.py.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from handlers import approval, neo_registration
from registrar_dev.faults import RETRIED_KINDS, FaultInjector, FaultKind
from registrar_dev.support import CallCounter
from tests.reliability.world import World, compilation_event, failed_records, invoke

RETRIED: tuple[FaultKind, ...] = tuple(sorted(RETRIED_KINDS))
# Each call of the approval flow, struck by a transient fault (the update is covered with every kind above).
CALL_FAULTS: tuple[tuple[FaultKind, str, str], ...] = (
    ("throttling", "s3", "GetObject"),
    ("server_error", "sagemaker", "DescribeModelPackage"),
    ("connection_error", "dynamodb", "PutItem"),
    ("read_timeout", "sagemaker", "DescribeModelPackage"),
    ("read_timeout", "s3", "GetObject"),
    ("server_error", "dynamodb", "UpdateItem"),
)


# Transient faults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", RETRIED)
def test_transient_fault_on_the_update_is_retried_and_applied(
    kind: FaultKind, world: World, faults: FaultInjector
) -> None:
    # GIVEN a passing version, and UpdateModelPackage failing twice with the fault
    arn = world.package()
    faults.fail_next(kind, operation="UpdateModelPackage", times=2)
    # WHEN its event is handled
    response = invoke(approval.handler, world.creation_event(arn))
    # THEN the client retried within the one call, the record succeeded and the version is Approved
    assert failed_records(response) == 0
    assert (
        faults.stats.calls["sagemaker.UpdateModelPackage"],
        faults.stats.attempts["sagemaker.UpdateModelPackage"],
    ) == (
        1,
        3,
    )
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"


@pytest.mark.parametrize(("kind", "service", "operation"), CALL_FAULTS)
def test_transient_fault_on_any_call_leaves_one_applied_change(
    kind: FaultKind, service: str, operation: str, world: World, faults: FaultInjector
) -> None:  # GIVEN a passing version, and one call of the approval flow failing once with the fault
    arn = world.package()
    faults.fail_next(kind, service=service, operation=operation)
    # WHEN its event is handled
    response = invoke(approval.handler, world.creation_event(arn))
    # THEN the record succeeded and exactly one change reached SageMaker
    assert failed_records(response) == 0
    assert faults.stats.injected_into(operation, kind) == 1
    assert world.applied_updates() == 1


def test_update_whose_answer_is_lost_is_applied_once(world: World, faults: FaultInjector) -> None:
    # GIVEN UpdateModelPackage reaching SageMaker but its answer lost (a read timeout after the send)
    arn = world.package()
    faults.fail_next("read_timeout", operation="UpdateModelPackage")
    # WHEN the event is handled (botocore sends the same request, with the same ClientToken, again)
    invoke(approval.handler, world.creation_event(arn))
    # THEN SageMaker saw the request twice and applied it once
    assert faults.stats.attempts["sagemaker.UpdateModelPackage"] == 2
    assert world.applied_updates() == 1
    assert len(world.update_events(arn)) == 1


def test_lost_answer_to_the_idempotency_write_defers_the_record(world: World, faults: FaultInjector) -> None:
    # GIVEN Powertools' in-progress record written, but DynamoDB's answer lost (the retry finds the record)
    arn = world.package()
    faults.fail_next("read_timeout", service="dynamodb", operation="PutItem")
    # WHEN the event is handled
    response = invoke(approval.handler, world.creation_event(arn))
    # THEN the record fails as "already in progress", to come back after the visibility timeout; nothing is written
    assert failed_records(response) == 1
    assert world.applied_updates() == 0


def test_deferred_record_is_decided_once_its_lock_has_expired(world: World, faults: FaultInjector) -> None:
    # GIVEN a first delivery deferred by its own in-progress record, held for the function's timeout (1 s here)
    arn = world.package()
    event = world.creation_event(arn)
    faults.fail_next("read_timeout", service="dynamodb", operation="PutItem")
    invoke(approval.handler, event, timeout_seconds=1)
    time.sleep(1.1)
    # WHEN SQS redelivers it after the visibility timeout (deployed: 6 x the function timeout)
    response = invoke(approval.handler, event)
    # THEN the expired lock is taken over and the version decided, once
    assert failed_records(response) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert world.applied_updates() == 1


def test_report_unreadable_for_a_moment_fails_the_record_and_decides_nothing(
    world: World, faults: FaultInjector, calls: CallCounter
) -> None:
    # GIVEN S3 answering 500 on every attempt (more than the client retries)
    arn = world.package()
    faults.always_fail("server_error", service="s3")
    # WHEN the event is handled
    response = invoke(approval.handler, world.creation_event(arn))
    # THEN the record fails for SQS to redeliver, and nothing is written: a blip is not evidence
    assert failed_records(response) == 1
    assert calls.count("UpdateModelPackage") == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_report_readable_again_on_redelivery_is_decided(world: World, faults: FaultInjector) -> None:
    # GIVEN a first delivery that failed because S3 answered 500 on every attempt
    arn = world.package()
    event = world.creation_event(arn)
    faults.always_fail("server_error", service="s3")
    invoke(approval.handler, event)
    faults.clear()
    # WHEN SQS redelivers the event
    response = invoke(approval.handler, event)
    # THEN the failed attempt left no idempotency record in the way: the version is decided
    assert failed_records(response) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"


# Conflicts ------------------------------------------------------------------------------------------------


def test_conflict_on_an_approval_update_fails_the_record(world: World, faults: FaultInjector) -> None:
    # GIVEN UpdateModelPackage refusing the request once with ConflictException (not retried by botocore)
    arn = world.package()
    faults.fail_next("conflict", operation="UpdateModelPackage")
    # WHEN the event is handled
    response = invoke(approval.handler, world.creation_event(arn))
    # THEN the record fails, to be redelivered, and the version is not changed
    assert failed_records(response) == 1
    assert world.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_conflict_on_an_approval_update_is_applied_on_redelivery(world: World, faults: FaultInjector) -> None:
    # GIVEN a first delivery refused with ConflictException
    arn = world.package()
    event = world.creation_event(arn)
    faults.fail_next("conflict", operation="UpdateModelPackage")
    invoke(approval.handler, event)
    # WHEN SQS redelivers it
    response = invoke(approval.handler, event)
    # THEN the decision is applied, once
    assert failed_records(response) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert world.applied_updates() == 1


def test_conflict_on_a_neo_update_is_replanned_from_fresh_state(
    world: World, faults: FaultInjector, outcomes: list[Any]
) -> None:
    # GIVEN a finished compilation, and UpdateModelPackage refusing its first request with ConflictException
    arn = world.package()
    job = world.compile("churn-1-ml-c5", arn)
    faults.fail_next("conflict", operation="UpdateModelPackage")
    # WHEN its event is handled
    response = invoke(neo_registration.handler, compilation_event(job))
    # THEN the package was described again, the change planned again and applied: one specification
    assert failed_records(response) == 0
    assert any("re-planned" in reason for reason in outcomes[-1].reasons)
    assert faults.stats.calls["sagemaker.DescribeModelPackage"] == 2
    assert len(world.describe(arn)["AdditionalInferenceSpecifications"]) == 1
