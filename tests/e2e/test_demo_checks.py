"""The demo's final check: the poison must be in its DLQ after its receives, and anything else off fails the demo.

``ScenarioResult.mismatches`` decides the demo's exit status; these cases build a result by hand (no emulator).
"""

from __future__ import annotations

import json
import os

from registrar.outcome import Outcome
from registrar.settings import Settings
from registrar_dev.demo import ExpectedDeadLetter, HandledEvent, ScenarioResult, _configure_environment

MISSING = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/99"
POISON = ExpectedDeadLetter("poison", "approval", "eval-of-a-missing-version", MISSING, receives=3)


def _body(job: str) -> str:
    return json.dumps({"detail-type": "SageMaker Processing Job State Change", "detail": {"ProcessingJobName": job}})


def _result(*, receives: int = 3, dead: dict[str, list[str]] | None = None) -> ScenarioResult:
    result = ScenarioResult(expected_dead_letters=[POISON])
    result.handled = [
        HandledEvent("approval", Outcome(outcome="invalid", model_package_arn=MISSING, reasons=["not found"]))
    ] * receives
    result.dead_letters = dead if dead is not None else {"approval": [_body(POISON.processing_job)], "neo": []}
    return result


def test_the_poison_in_its_dlq_after_its_receives_is_as_expected() -> None:
    assert _result().mismatches() == []


def test_a_poison_missing_from_its_dlq_fails_the_demo() -> None:
    assert _result(dead={"approval": [], "neo": []}).mismatches() == [
        "poison: 0 message(s) in the approval DLQ, expected 1"
    ]


def test_a_poison_received_more_or_fewer_times_fails_the_demo() -> None:
    assert _result(receives=2).mismatches() == ["poison: handled 2 time(s), expected 3 receives"]


def test_anything_else_in_a_dlq_fails_the_demo() -> None:
    dead = {"approval": [_body(POISON.processing_job)], "neo": ['{"id": "another"}']}
    assert _result(dead=dead).mismatches() == ['neo DLQ: unexpected message {"id": "another"}']


def test_a_message_left_in_a_flows_queue_fails_the_demo() -> None:
    result = _result()
    result.leftover = {"neo queue": ["(in flight)"]}
    assert result.mismatches() == ["neo queue: 1 message(s) left"]


def test_the_demo_functions_get_the_stacks_environment_not_the_shells() -> None:
    saved = dict(os.environ)
    try:
        # GIVEN a shell with a policy file, a misspelt setting and the synth-time compiler variable exported
        os.environ["REGISTRAR_POLICY_FILE"] = "/tmp/someone-elses-policy.yaml"
        misspelt = "REGISTRAR_REPORT_LOCATIONS"[:-1]  # built, not written: the settings' repository scan reads literals
        os.environ[misspelt] = "s3://typo/"
        os.environ["REGISTRAR_BYTECODE_PYTHON"] = "/usr/bin/python3.13"
        # WHEN the demo configures its functions' environment
        _configure_environment("http://127.0.0.1:1", "demo-table", "/registrar/approval-policy")
        # THEN only the demo's own settings are there, and Settings accepts them
        registrar = {name: value for name, value in os.environ.items() if name.startswith("REGISTRAR_")}
        assert "REGISTRAR_POLICY_FILE" not in registrar and misspelt not in registrar
        assert registrar["REGISTRAR_POLICY_PARAMETER"] == "/registrar/approval-policy"
        assert registrar["REGISTRAR_BYTECODE_PYTHON"] == "/usr/bin/python3.13"  # read by synth, not the functions
        assert Settings.from_environment().policy_parameter == "/registrar/approval-policy"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_held_version_its_approver_could_not_decide_fails_the_demo() -> None:
    from registrar_dev.demo import HELD, Expectation, PersonStep

    result = _result()
    result.expectations = {HELD: Expectation(HELD, "fraud-detector", "Approved", decided_by_registrar=False)}
    result.after = {HELD: {"ModelApprovalStatus": "Approved", "ApprovalDescription": "Approved by a person"}}
    assert result.mismatches() == [f"{HELD}: its approver was not e-mailed a link, or did not follow it"]
    # a link used twice that still decided the second time is as wrong as no link at all
    result.person = PersonStep(
        link="http://127.0.0.1/decide?token=t", shown=200, evidence_shown=True, decided=200, again=200
    )
    [problem] = result.mismatches()
    assert problem.startswith(f"{HELD}: the link answered 200") and "the second use 200" in problem
