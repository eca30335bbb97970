"""The demo's scenario, without the pretty output: every version ends where the policy says."""

from __future__ import annotations

import pytest

from registrar.demo import ScenarioResult, run_scenario
from registrar.emulator import Emulator


@pytest.fixture(scope="module")
def result(emulator: Emulator, isolated_environment: None) -> ScenarioResult:
    # GIVEN the demo's versions, processing job and Neo compilations registered through the SageMaker API
    # WHEN their events flow through the local rules, queues, handlers and sweeper
    return run_scenario(emulator.endpoint, sweep_interval=1.0, timeout=120)


def test_every_version_ends_where_the_policy_says(result: ScenarioResult) -> None:
    # THEN no version differs from its expectation and nothing is left in a queue or DLQ
    assert result.mismatches() == []


def test_each_decision_is_applied_by_exactly_one_update(result: ScenarioResult) -> None:
    # THEN there are as many UpdateModelPackage calls as updated outcomes, and none for the human's version
    updated = [handled for handled in result.handled if handled.outcome.outcome == "updated"]
    assert result.calls["sagemaker:UpdateModelPackage"] == len(updated)
    per_package = {label: result.updates_per_package[arn] for label, arn in result.versions.items()}
    assert per_package == {
        "churn v1 (passes)": 5,  # approval, ml_c5, ml_inf2, the edge target and the failed job
        "churn v2 (fails)": 1,
        "churn v3 (no report)": 1,
        "churn v4 (human approved)": 0,
        "fraud v1 (processing job)": 1,
        "fraud v2 (job failed)": 1,  # held: the explanation, no status change
    }


def test_the_event_of_registrars_own_write_is_ignored_by_the_loop_guard(result: ScenarioResult) -> None:
    # THEN the held version's own update came back as an event, and was skipped without a decision
    held = result.versions["fraud v2 (job failed)"]
    guarded = [
        handled.outcome
        for handled in result.handled
        if handled.outcome.model_package_arn == held and any("loop guard" in r for r in handled.outcome.reasons)
    ]
    assert len(guarded) == 1


def test_no_message_is_left_in_any_queue(result: ScenarioResult) -> None:
    assert result.leftover == {}


def test_the_neo_specifications_point_at_the_compiled_artifacts(result: ScenarioResult) -> None:
    # THEN exactly the two hostable targets are attached, each with an ECR image and its .tar.gz artifact
    specs = result.after["churn v1 (passes)"]["AdditionalInferenceSpecifications"]
    assert sorted(spec["Name"].split("-")[2] for spec in specs) == ["c5", "inf2"]
    for spec in specs:
        container = spec["Containers"][0]
        assert container["ModelDataUrl"].endswith(".tar.gz")
        assert ".dkr.ecr." in container["Image"]
