"""The demo's final check: the poison must be in its DLQ after its receives, and anything else off fails the demo.

``ScenarioResult.mismatches`` decides the demo's exit status; these cases build a result by hand (no emulator).
"""

from __future__ import annotations

import json
import os

import pytest

from registrar.outcome import Outcome
from registrar.settings import Settings
from registrar_dev.demo import (
    CrossAccountScene,
    ExpectedDeadLetter,
    HandledEvent,
    ScenarioResult,
    _configure_environment,
)

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


def _scene(**changes: object) -> CrossAccountScene:
    """A scene of several accounts that ended where the policy says, but for ``changes``."""
    from registrar_dev.demo import WORKLOAD_LOCATIONS
    from registrar_dev.topology import Undelivered

    evidence_role = "arn:aws:iam::111111111111:role/registrar-evidence-reader"
    compiled = f"{WORKLOAD_LOCATIONS.neo_output_locations[0]}credit-risk-1-ml-c5/model-ml_c5.tar.gz"
    after = {
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": {"registrar:evidence": "s3://w/evaluations/credit-risk/1/evaluation.json"},
        "AdditionalInferenceSpecifications": [{"Name": "neo-ml-c5", "Containers": [{"ModelDataUrl": compiled}]}],
    }
    scene = CrossAccountScene(
        report_uri="s3://w/evaluations/credit-risk/1/evaluation.json",
        evidence_role=evidence_role,
        function_roles={
            "approval": "arn:aws:iam::123456789012:role/registrar-approval-us-east-1",
            "neo": "arn:aws:iam::123456789012:role/registrar-neo-registration-us-east-1",
        },
        after=after,
        after_forged=after,
        assumed={"approval": [evidence_role], "neo": [evidence_role]},
        swept=1,
        forged=[Undelivered("SageMakerProcessingJobStateChange", {}, "AccessDenied", "not authorized")],
    )
    for name, value in changes.items():
        setattr(scene, name, value)
    return scene


def test_the_scene_of_several_accounts_ending_as_the_policy_says_passes() -> None:
    result = _result()
    result.cross_account = _scene()
    assert result.mismatches() == []


def test_a_workload_version_not_approved_fails_the_demo() -> None:
    scene = _scene()
    scene.after = {**scene.after, "ModelApprovalStatus": "PendingManualApproval"}
    scene.after_forged = scene.after
    result = _result()
    result.cross_account = scene
    assert result.mismatches() == ["credit-risk v1 (from the workload): PendingManualApproval, expected Approved"]


def test_a_forged_event_that_got_through_fails_the_demo() -> None:
    result = _result()
    result.cross_account = _scene(forged=[], forged_received=1, after_forged={"ModelApprovalStatus": "Rejected"})
    assert result.mismatches() == [
        "forged event from 999999999999: not refused, expected AccessDenied once",
        "forged event from 999999999999: 1 reached a function",
        "forged event from 999999999999: credit-risk v1 (from the workload) changed",
    ]


def test_the_evidence_assumed_per_event_fails_the_demo() -> None:
    result = _result()
    role = "arn:aws:iam::111111111111:role/registrar-evidence-reader"
    result.cross_account = _scene(assumed={"approval": [role, role], "neo": [role]})
    [problem] = result.mismatches()
    assert "expected the evidence role once each" in problem


def test_the_story_tells_which_account_did_what(capsys: pytest.CaptureFixture[str]) -> None:
    from registrar_dev.demo_output import Story

    result = _result()
    result.cross_account = _scene(
        version_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-risk/1",
        evaluation_job="arn:aws:sagemaker:us-east-1:111111111111:processing-job/credit-risk-eval-1",
        before={"ModelApprovalStatus": "PendingManualApproval"},
    )
    Story().cross_account(result)
    told = capsys.readouterr().out
    assert "several accounts — registry 123456789012, workload 111111111111" in told
    assert "111111111111 registered credit-risk/1 into the registry's credit-risk group" in told
    assert "the approval function (role registrar-approval-us-east-1) read the job and the report through" in told
    assert "PendingManualApproval → Approved" in told
    assert "the Neo function (role registrar-neo-registration-us-east-1, 1 AssumeRole) attached neo-ml-c5" in told
    assert "forged event from 999999999999: refused by the bus policy, nothing changed" in told
