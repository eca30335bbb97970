"""The approval flow's Registrar Decision events: one per write, none without one, each matching the contract."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from registrar.approval.policy import Policy
from registrar.approval.service import PACKAGE_TAG, ApprovalFlow
from registrar.decisions.announce import Announcer
from registrar.decisions.contract import DecisionDetail
from registrar.decisions.journal import MemoryJournal
from registrar.outcome import Outcome
from tests.unit.decisions.fakes import RecordingBus

Report = Callable[..., dict[str, Any]]
Builder = Callable[..., Any]
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OTHER_MODEL = "s3://registrar-test-models/fraud-team/scratch/model.tar.gz"


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def decide(registry: Any, reports: Any, policy: Policy, bus: RecordingBus) -> Callable[[Any], Outcome]:
    announcer = Announcer(bus=bus, journal=MemoryJournal(), clock=lambda: NOW)
    flow = ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy, announcer=announcer)
    return flow.handle


def published(bus: RecordingBus) -> list[DecisionDetail]:
    """What went out, read back through the contract as a subscriber would read it."""
    return [DecisionDetail.model_validate(detail.to_json()) for detail in bus.published]


def test_an_approval_publishes_one_decision_with_every_metric_against_its_threshold(
    new_package: Builder, registry: Any, reports: Any, package_event: Any, quality_report: Report, decide: Any, bus: Any
) -> None:
    package = registry.add_package(new_package("churn-model", 1))
    reports.put(package.quality_report_uri, quality_report(auc=0.91, recall=0.72))

    outcome = decide(package_event(package))

    [detail] = published(bus)
    assert (detail.verdict, detail.previous_status, detail.status) == ("Approved", "PendingManualApproval", "Approved")
    assert (detail.model_package_arn, detail.model_package_group, detail.model_package_version) == (
        package.ModelPackageArn,
        "churn-model",
        1,
    )
    assert detail.decision_id == outcome.request["ClientToken"]
    readings = {(m.name, m.value, m.min, m.passed) for m in detail.metrics}
    assert readings == {("auc", 0.91, 0.85, True), ("recall", 0.72, 0.6, True)}
    assert detail.rule == 1 and detail.policy_digest and detail.evidence == package.quality_report_uri
    assert (detail.flow, detail.decided_by, detail.decided_at) == ("approval", "registrar", NOW)
    assert "auc 0.91 ≥ min 0.85" in detail.summary and "churn-model version 1: Approved" in detail.summary


def test_a_rejection_names_the_failing_metric(
    new_package: Builder, registry: Any, reports: Any, package_event: Any, quality_report: Report, decide: Any, bus: Any
) -> None:
    package = registry.add_package(new_package("churn-model", 2))
    reports.put(package.quality_report_uri, quality_report(auc=0.81, recall=0.72))
    decide(package_event(package))
    [detail] = published(bus)
    assert (detail.verdict, detail.status) == ("Rejected", "Rejected")
    assert [m.passed for m in detail.metrics if m.name == "auc"] == [False]
    assert any("auc 0.81 < min 0.85" in reason for reason in detail.reasons)


def test_a_hold_carries_the_champion_compared_with(
    new_package: Builder, registry: Any, reports: Any, package_event: Any, quality_report: Report, decide: Any, bus: Any
) -> None:
    champion = registry.add_package(new_package("fraud-model", 3, approval="Approved"))
    candidate = registry.add_package(new_package("fraud-model", 4))
    reports.put(champion.quality_report_uri, quality_report(auc=0.9))
    reports.put(candidate.quality_report_uri, quality_report(auc=0.905))

    decide(package_event(candidate))

    [detail] = published(bus)
    assert (detail.verdict, detail.status) == ("Held", "PendingManualApproval")
    [compared] = [m for m in detail.metrics if m.champion is not None]
    assert (compared.value, compared.champion_value, compared.champion) == (0.905, 0.9, champion.ModelPackageArn)


def test_deciding_again_without_a_write_publishes_nothing_new(
    new_package: Builder, registry: Any, reports: Any, package_event: Any, quality_report: Report, decide: Any, bus: Any
) -> None:
    package = registry.add_package(new_package("fraud-model", 2))
    reports.put(package.quality_report_uri, quality_report(auc=0.5))
    first, second = decide(package_event(package)), decide(package_event(package))
    assert (first.outcome, second.outcome) == ("updated", "unchanged")
    assert [detail.verdict for detail in bus.published] == ["Held"]


def test_registrars_own_write_event_publishes_nothing(
    new_package: Builder, registry: Any, reports: Any, package_event: Any, decide: Any, bus: Any
) -> None:
    package = registry.add_package(new_package("churn-model", 1))
    outcome = decide(package_event(package, ("CustomerMetadataProperties", "ApprovalDescription")))
    assert outcome.outcome == "skipped" and bus.published == []


def test_a_refusal_is_published_as_refused_with_its_job(
    new_package: Builder,
    registry: Any,
    reports: Any,
    processing_job: Any,
    job_event: Any,
    decide: Any,
    bus: Any,
) -> None:
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = registry.add_job(processing_job("credit-eval-x", model=OTHER_MODEL), {PACKAGE_TAG: package.ModelPackageArn})
    decide(job_event(job))
    [detail] = published(bus)
    assert (detail.verdict, detail.evaluation_job, detail.status) == (
        "Refused",
        "credit-eval-x",
        "PendingManualApproval",
    )


def test_planning_only_publishes_nothing(
    new_package: Builder, registry: Any, reports: Any, package_event: Any, quality_report: Report, policy: Policy
) -> None:
    bus = RecordingBus()
    package = registry.add_package(new_package("churn-model", 1))
    reports.put(package.quality_report_uri, quality_report(auc=0.91, recall=0.72))
    flow = ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy, announcer=Announcer(bus=bus))
    assert flow.handle(package_event(package), apply=False).outcome == "updated"
    assert bus.published == []
