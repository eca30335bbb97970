"""Announcer: a write is followed by exactly one Registrar Decision, across a failed publish and a redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from registrar.decisions.announce import (
    Announcer,
    DecisionInFlightError,
    DecisionNotPublishedError,
    invocation_deadline,
)
from registrar.decisions.journal import MemoryJournal
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.updates import PackageUpdate
from tests.unit.decisions.fakes import RecordingBus

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Registry:
    """One version in memory; UpdateModelPackage sets the status and merges metadata."""

    def __init__(self) -> None:
        self.package = ModelPackage(
            ModelPackageArn=ARN,
            ModelPackageGroupName="churn-model",
            ModelPackageVersion=3,
            ModelPackageStatus="Completed",
            ModelApprovalStatus="PendingManualApproval",
        )
        self.writes = 0

    def update(self, update: PackageUpdate) -> str:
        self.writes += 1
        metadata = {**self.package.CustomerMetadataProperties, **(update.CustomerMetadataProperties or {})}
        self.package = self.package.model_copy(
            update={
                "ModelApprovalStatus": update.ModelApprovalStatus or self.package.ModelApprovalStatus,
                "CustomerMetadataProperties": metadata,
            }
        )
        return ARN


def approve(registry: Registry) -> PackageUpdate:
    desired = PackageUpdate(
        ModelPackageArn=ARN,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"registrar:verdict": "Approved"},
    )
    update = plan(desired, registry.package)
    assert update is not None
    return update


def commit(announcer: Announcer, registry: Registry) -> None:
    update = approve(registry)
    detail = announcer.detail(registry.package, update, verdict="Approved", flow="approval", reasons=["auc 0.9"])
    announcer.commit(registry.update, update, detail)


@pytest.fixture
def clock() -> Iterator[Clock]:
    # No invocation is running: a staged decision's claim is the fallback's, measured on this clock.
    token = invocation_deadline.set(None)
    yield Clock()
    invocation_deadline.reset(token)


def test_a_write_publishes_one_decision_and_leaves_nothing_staged(clock: Clock) -> None:
    bus, journal, registry = RecordingBus(), MemoryJournal(), Registry()
    announcer = Announcer(bus=bus, journal=journal, clock=clock)

    commit(announcer, registry)

    assert registry.writes == 1
    [detail] = bus.published
    assert (detail.verdict, detail.previous_status, detail.status) == ("Approved", "PendingManualApproval", "Approved")
    assert detail.model_package_version == 3
    assert detail.decided_at == NOW
    assert journal.items == {}


def test_the_decision_id_is_the_writes_client_token(clock: Clock) -> None:
    registry = Registry()
    update = approve(registry)
    detail = Announcer(bus=RecordingBus(), clock=clock).detail(
        registry.package, update, verdict="Approved", flow="approval", reasons=[]
    )
    assert detail.decision_id == update.ClientToken


def test_a_failed_publish_keeps_the_decision_for_the_redelivery_which_publishes_it_once(clock: Clock) -> None:
    # GIVEN the write lands and PutEvents fails WHEN the record comes back after the writer's deadline
    bus, journal, registry = RecordingBus(refuse=1), MemoryJournal(), Registry()
    announcer = Announcer(bus=bus, journal=journal, clock=clock)
    with pytest.raises(DecisionNotPublishedError):
        commit(announcer, registry)
    assert registry.writes == 1 and bus.published == [] and ARN in journal.items

    clock.now += timedelta(minutes=16)
    # THEN recovering publishes the staged decision, and a second recovery finds nothing left
    assert announcer.recover(registry.package) == "published"
    assert announcer.recover(registry.package) == "none"
    assert [detail.verdict for detail in bus.published] == ["Approved"]
    assert registry.writes == 1


def test_a_decision_staged_by_a_writer_still_running_is_not_published_by_another(clock: Clock) -> None:
    # GIVEN an invocation (deadline in 30 s) writing a decision, and another handling the same version meanwhile
    journal, registry, first, second = MemoryJournal(), Registry(), RecordingBus(), RecordingBus()
    other = Announcer(bus=second, journal=journal, clock=clock)
    looked: list[str] = []

    def write_while_another_looks(update: PackageUpdate) -> str:
        registry.update(update)
        with pytest.raises(DecisionInFlightError, match="another invocation"):
            other.recover(registry.package)
        looked.append("in flight")
        return ARN

    update = approve(registry)
    announcer = Announcer(bus=first, journal=journal, clock=clock)
    detail = announcer.detail(registry.package, update, verdict="Approved", flow="approval", reasons=[])
    token = invocation_deadline.set(NOW + timedelta(seconds=30))
    try:
        announcer.commit(write_while_another_looks, update, detail)
    finally:
        invocation_deadline.reset(token)
    # THEN the other left it to its writer, which published it once
    assert looked == ["in flight"]
    assert (len(first.published), second.published, journal.items) == (1, [], {})


def test_a_writer_that_fails_releases_its_claim_at_once(clock: Clock) -> None:
    # GIVEN an invocation with 30 s left whose publish fails after the write
    bus, journal, registry = RecordingBus(refuse=1), MemoryJournal(), Registry()
    token = invocation_deadline.set(NOW + timedelta(seconds=30))
    try:
        with pytest.raises(DecisionNotPublishedError):
            commit(Announcer(bus=bus, journal=journal, clock=clock), registry)
    finally:
        invocation_deadline.reset(token)
    # WHEN the record comes back before that deadline THEN its decision is published, not deferred
    assert Announcer(bus=bus, journal=journal, clock=clock).recover(registry.package) == "published"
    assert [detail.verdict for detail in bus.published] == ["Approved"]


def test_a_decision_whose_write_never_landed_is_dropped_not_published(clock: Clock) -> None:
    # GIVEN a decision staged, then the writer died before UpdateModelPackage
    bus, journal, registry = RecordingBus(), MemoryJournal(), Registry()
    announcer = Announcer(bus=bus, journal=journal, clock=clock)

    def crash(update: PackageUpdate) -> str:
        raise TimeoutError("the function timed out")

    update = approve(registry)
    detail = announcer.detail(registry.package, update, verdict="Approved", flow="approval", reasons=[])
    with pytest.raises(TimeoutError):
        announcer.commit(crash, update, detail)
    clock.now += timedelta(minutes=16)

    # THEN nothing is published for it: the flow decides afresh
    assert announcer.recover(registry.package) == "dropped"
    assert bus.published == [] and journal.items == {}


def test_without_a_journal_a_failed_publish_is_the_callers_error_and_nothing_is_kept(clock: Clock) -> None:
    registry = Registry()
    announcer = Announcer(bus=RecordingBus(refuse=1), clock=clock)
    with pytest.raises(DecisionNotPublishedError, match="InternalFailure"):
        commit(announcer, registry)
    assert registry.writes == 1
    assert announcer.recover(registry.package) == "none"


def test_clearing_leaves_a_newer_decision_of_the_same_version(clock: Clock) -> None:
    journal, registry = MemoryJournal(), Registry()
    announcer = Announcer(bus=RecordingBus(refuse=1), journal=journal, clock=clock)
    with pytest.raises(DecisionNotPublishedError):
        commit(announcer, registry)
    journal.clear(ARN, "some-other-decision")
    assert ARN in journal.items
