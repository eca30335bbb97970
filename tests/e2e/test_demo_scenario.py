"""The demo's scenario, without the pretty output: every version ends where the policy says, the poison in its DLQ,
and the scene of several accounts ends where the policy says, the forged event refused."""

from __future__ import annotations

import json
import os
from collections import Counter

import boto3
import pytest

from registrar.approval.policy import deployable_json, load_policy
from registrar_dev.demo import (
    APPROVER,
    APPROVER_COMMENT,
    HELD,
    MISSING_VERSION,
    POLICY_FILE,
    SENDER,
    UNLISTED,
    WORKLOAD,
    WORKLOAD_LOCATIONS,
    CrossAccountScene,
    ScenarioResult,
    run_scenario,
)
from registrar_dev.emulator import Emulator
from registrar_dev.topology import MAX_RECEIVE_COUNT, POLICY_PARAMETER


@pytest.fixture(scope="module")
def result(emulator: Emulator, isolated_environment: None) -> ScenarioResult:
    # GIVEN the demo's versions, processing job and Neo compilations registered through the SageMaker API
    # WHEN their events flow through the local rules, queues, handlers and sweeper
    return run_scenario(emulator.endpoint, sweep_interval=1.0, timeout=120)


def test_every_version_ends_where_the_policy_says(result: ScenarioResult) -> None:
    # THEN no version differs from its expectation, no queue holds a message, and each DLQ holds only the poison
    assert result.mismatches() == []


def test_each_decision_is_applied_by_exactly_one_update(result: ScenarioResult) -> None:
    # THEN there are as many UpdateModelPackage calls as updated outcomes, and none for the human's version
    updated = [handled for handled in result.handled if handled.outcome.outcome == "updated"]
    # and one more: the approver's decision, made through the decision page (not an event's outcome)
    assert result.calls["sagemaker:UpdateModelPackage"] == len(updated) + 1
    per_package = {label: result.updates_per_package[arn] for label, arn in result.versions.items()}
    assert per_package == {
        "churn v1 (passes)": 5,  # approval, ml_c5, ml_inf2, the edge target and the failed job
        "churn v2 (fails)": 1,
        "churn v3 (no report)": 1,
        "churn v4 (human approved)": 0,
        "fraud v1 (processing job)": 1,
        "fraud v2 (job failed)": 2,  # held (the explanation, no status change), then approved by its approver
        "fraud v3 (held for you)": 1,  # held, and left for whoever runs the demo with --keep
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


def test_the_poison_event_is_dead_lettered_after_its_receives(result: ScenarioResult) -> None:
    # THEN the evaluation job's event naming a version that does not exist was handled as invalid on each
    # of its receives, then the approval queue's redrive policy moved it to the approval DLQ; nothing else
    # is in a DLQ
    assert {flow: len(bodies) for flow, bodies in result.dead_letters.items()} == {
        "approval": 1,
        "neo": 0,
        "deployment": 0,
    }
    (dead,) = result.dead_letters["approval"]
    assert json.loads(dead)["detail"]["ProcessingJobName"] == "churn-model-eval-of-a-missing-version"
    poisoned = [h for h in result.handled if h.outcome.model_package_arn == MISSING_VERSION]
    assert [(h.flow, h.outcome.outcome) for h in poisoned] == [("approval", "invalid")] * MAX_RECEIVE_COUNT


def test_the_approval_policy_is_read_from_its_ssm_parameter_as_deployed(
    result: ScenarioResult, emulator: Emulator
) -> None:
    # THEN the parameter holds the policy file as the stack deploys it, the function was pointed at the
    # parameter and not at the file, and it read it once per container (Powertools caches it): the story's, and the
    # one of the scene of several accounts, which runs as the approval function's role
    ssm = boto3.client("ssm", endpoint_url=emulator.endpoint, region_name=emulator.region)
    stored = ssm.get_parameter(Name=POLICY_PARAMETER)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("String", deployable_json(POLICY_FILE))
    assert result.policy_parameter == POLICY_PARAMETER
    assert os.environ.get("REGISTRAR_POLICY_PARAMETER") == POLICY_PARAMETER
    assert "REGISTRAR_POLICY_FILE" not in os.environ
    assert result.calls["ssm:GetParameter"] == 2
    # AND the decisions name the policy file's digest
    description = result.after["churn v1 (passes)"]["ApprovalDescription"]
    assert description.endswith(f"(policy {load_policy(POLICY_FILE).digest})")


def test_the_neo_specifications_point_at_the_compiled_artifacts(result: ScenarioResult) -> None:
    # THEN exactly the two hostable targets are attached, each with an ECR image and its .tar.gz artifact
    specs = result.after["churn v1 (passes)"]["AdditionalInferenceSpecifications"]
    assert sorted(spec["Name"].split("-")[2] for spec in specs) == ["c5", "inf2"]
    for spec in specs:
        container = spec["Containers"][0]
        assert container["ModelDataUrl"].endswith(".tar.gz")
        assert ".dkr.ecr." in container["Image"]


def test_every_write_is_announced_mailed_and_posted_once(result: ScenarioResult) -> None:
    # THEN a subscriber got one Registrar Decision per write, and each reached the e-mail subscriber (SNS, through
    # the contract's input transformer) and the chat webhook (API destination) exactly once, word for word
    assert result.notification_mismatches() == []
    assert len(result.decisions) == result.calls["sagemaker:UpdateModelPackage"] == 13
    verdicts = Counter((decision.verdict, decision.flow) for decision in result.decisions)
    assert verdicts == {
        ("Approved", "approval"): 3,  # the scene of several accounts' version among them
        ("Rejected", "approval"): 2,
        ("Held", "approval"): 2,
        ("Approved", "person"): 1,
        ("Attached", "neo"): 3,
        ("Recorded", "neo"): 1,
        ("Failed", "neo"): 1,
    }
    assert sorted(text.strip() for _, text in result.emails) == sorted(d.summary for d in result.decisions)
    assert sorted(result.chat_messages) == sorted(d.summary for d in result.decisions)


def test_the_held_versions_approver_decides_it_from_the_link_e_mailed_to_them(result: ScenarioResult) -> None:
    # THEN SES sent the approver one e-mail, for the held version, whose personal link opened the page with the
    # evidence, approved it once (the second use refused), and the version records who decided, through the link
    # (the other e-mail is about the version left held for --keep)
    assert sorted(m["subject"].split(":")[1].strip() for m in result.approver_emails) == [
        "fraud-detector version 2 held for a human",
        "fraud-detector version 3 held for a human",
    ]
    [mail] = [m for m in result.approver_emails if "fraud-detector version 2" in m["subject"]]
    assert (mail["to"], mail["from"]) == (APPROVER, SENDER)
    person = result.person
    assert person is not None and person.link in mail["body"]
    assert (person.shown, person.evidence_shown, person.decided, person.again) == (200, True, 200, 403)
    held = result.after[HELD]
    assert held["ModelApprovalStatus"] == "Approved"
    assert held["CustomerMetadataProperties"]["registrar:decided-by"] == f"person:{APPROVER}"
    assert held["ApprovalDescription"] == f"Approved by {APPROVER} via link: {APPROVER_COMMENT}"
    [announced] = [d for d in result.decisions if d.flow == "person"]
    assert (announced.decided_by, announced.previous_status) == (APPROVER, "PendingManualApproval")


def _scene(result: ScenarioResult) -> CrossAccountScene:
    assert result.cross_account is not None
    return result.cross_account


def test_the_workloads_version_is_decided_in_the_registry_from_the_workloads_evidence(result: ScenarioResult) -> None:
    # THEN the version the workload registered into the registry's group is the registry's, Approved as the
    # credit-risk rule says, on the report in the workload's bucket, read through the workload's evidence role, which
    # each function (running as its own role) assumed once
    scene = _scene(result)
    assert scene.mismatches() == []
    assert scene.version_arn == "arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-risk/1"
    assert f":{WORKLOAD}:" in scene.evaluation_job and f":{WORKLOAD}:" in scene.compilation_job
    assert (scene.before["ModelApprovalStatus"], scene.after["ModelApprovalStatus"]) == (
        "PendingManualApproval",
        "Approved",
    )
    assert scene.after["CustomerMetadataProperties"]["registrar:evidence"] == scene.report_uri
    assert scene.report_uri.startswith(WORKLOAD_LOCATIONS.report_locations[0])
    evidence_role = f"arn:aws:iam::{WORKLOAD}:role/registrar-evidence-reader"
    assert scene.assumed == {"approval": [evidence_role], "neo": [evidence_role]}
    assert scene.function_roles == {
        "approval": "arn:aws:iam::123456789012:role/registrar-approval-us-east-1",
        "neo": "arn:aws:iam::123456789012:role/registrar-neo-registration-us-east-1",
    }


def test_the_workloads_compilation_is_attached_to_its_version(result: ScenarioResult) -> None:
    # THEN the workload's sweeper announced its compilation, and the compiled model, in the workload's Neo output
    # location, is attached to the version
    scene = _scene(result)
    assert scene.swept == 1
    [specification] = scene.after["AdditionalInferenceSpecifications"]
    assert specification["Containers"][0]["ModelDataUrl"].startswith(WORKLOAD_LOCATIONS.neo_output_locations[0])


def test_the_forged_event_of_an_unlisted_account_changes_nothing(result: ScenarioResult) -> None:
    # THEN the unlisted account's evaluation, forwarded to the registry's bus, was refused by its policy, reached no
    # function, and left the version as it was
    scene = _scene(result)
    [refused] = scene.forged
    assert (refused.error_code, refused.event["account"]) == ("AccessDenied", UNLISTED)
    assert scene.forged_received == 0
    assert scene.after_forged == scene.after
