"""The Neo flow's Registrar Decision events: Attached, Recorded, Failed, OverCap and Refused, one per write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registrar.decisions.announce import Announcer
from registrar.decisions.contract import DecisionDetail
from registrar.decisions.journal import MemoryJournal
from registrar.neo.service import NeoFlow
from registrar.outcome import Outcome
from tests.unit.decisions.fakes import RecordingBus
from tests.unit.neo.fakes import PACKAGE_ARN, FakeRegistry, compilation_job, job_arn, model_package

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


def register(registry: FakeRegistry, bus: RecordingBus, name: str) -> Outcome:
    announcer = Announcer(bus=bus, journal=MemoryJournal(), clock=lambda: NOW)
    return NeoFlow(registry=registry, announcer=announcer).register(name)


def only(bus: RecordingBus) -> DecisionDetail:
    [detail] = bus.published
    return DecisionDetail.model_validate(detail.to_json())


def test_an_attached_specification_is_published_with_its_job_target_and_name(
    registry: FakeRegistry, bus: RecordingBus
) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    outcome = register(registry, bus, "churn-model-1-ml-c5")
    detail = only(bus)
    assert outcome.request is not None
    assert (detail.verdict, detail.flow, detail.compilation_job, detail.target) == (
        "Attached",
        "neo",
        "churn-model-1-ml-c5",
        "ml_c5",
    )
    assert detail.specification == outcome.request["AdditionalInferenceSpecificationsToAdd"][0]["Name"]
    assert detail.model_package_arn == PACKAGE_ARN and detail.decision_id == outcome.request["ClientToken"]


def test_an_edge_target_is_recorded(registry: FakeRegistry, bus: RecordingBus) -> None:
    name = "churn-model-1-jetson-nano"
    registry.jobs[name] = compilation_job(name=name, target="jetson_nano", image=None)
    register(registry, bus, name)
    assert (only(bus).verdict, only(bus).specification) == ("Recorded", None)


@pytest.mark.parametrize("status", ["FAILED", "STOPPED"])
def test_a_compilation_that_did_not_finish_well_is_published_as_failed(
    registry: FakeRegistry, bus: RecordingBus, status: str
) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(status=status, failure_reason="out of memory")
    register(registry, bus, "churn-model-1-ml-c5")
    assert only(bus).verdict == "Failed"


def test_a_full_version_is_published_over_the_cap(bus: RecordingBus) -> None:
    registry = FakeRegistry(jobs=[compilation_job()], packages=[model_package(specifications=15)])
    register(registry, bus, "churn-model-1-ml-c5")
    assert only(bus).verdict == "OverCap"


def test_a_refused_job_is_published_as_refused_and_once(bus: RecordingBus) -> None:
    registry = FakeRegistry(packages=[model_package()])
    name = "backdoor-ml-c5"
    registry.jobs[name] = compilation_job(
        name=name,
        package_arn=None,
        source="s3://attacker-bucket/backdoored/model.tar.gz",
        artifact="s3://attacker-bucket/out/model-ml_c5.tar.gz",
    )
    registry.job_tags[job_arn(name)] = {"registrar:model-package-arn": PACKAGE_ARN}
    register(registry, bus, name)
    register(registry, bus, name)
    assert only(bus).verdict == "Refused"


def test_the_same_job_again_publishes_nothing_new(registry: FakeRegistry, bus: RecordingBus) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    register(registry, bus, "churn-model-1-ml-c5")
    again = register(registry, bus, "churn-model-1-ml-c5")
    assert again.outcome == "unchanged"
    assert [detail.verdict for detail in bus.published] == ["Attached"]
