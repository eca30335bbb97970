"""Rules, queues and event source mappings: which event reaches which handler, and how."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.names import APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER
from registrar.patterns import FLOWS

from .conftest import ROOT, Synthesized

EVENTS = ROOT / "events"
HANDLER_OF_FLOW = {"approval": APPROVAL_HANDLER, "neo": NEO_REGISTRATION_HANDLER}

# Every JSON file under events/ and the handler its rules must route it to (None: no rule may match).
EXPECTED_ROUTES: dict[str, str | None] = {
    "approval/duplicate.json": APPROVAL_HANDLER,
    "approval/failed-job.json": APPROVAL_HANDLER,
    "approval/failing.json": APPROVAL_HANDLER,
    # A human already decided (ModelApprovalStatus Approved): no rule matches, so registrar never sees it.
    "approval/human-decided.json": None,
    "approval/missing-report.json": APPROVAL_HANDLER,
    "approval/nan-metric.json": APPROVAL_HANDLER,
    "approval/passing.json": APPROVAL_HANDLER,
    "approval/processing-completed.json": APPROVAL_HANDLER,
    # Routed like any evaluated package; the handler skips the group it does not manage.
    "approval/unmatched-group.json": APPROVAL_HANDLER,
    # Evaluation reports, not events: nothing may route them.
    "approval/reports/failing.json": None,
    "approval/reports/nan-metric.json": None,
    "approval/reports/passing.json": None,
    "approval/reports/processing.json": None,
    "neo/completed-ml-c5.json": NEO_REGISTRATION_HANDLER,
    "neo/completed-ml-inf2.json": NEO_REGISTRATION_HANDLER,
    "neo/edge-jetson-nano.json": NEO_REGISTRATION_HANDLER,
    "neo/failed.json": NEO_REGISTRATION_HANDLER,
    "neo/unlinked.json": NEO_REGISTRATION_HANDLER,
}


def event_files() -> list[str]:
    return sorted(path.relative_to(EVENTS).as_posix() for path in EVENTS.rglob("*.json"))


def handlers_reached(synthesized: Synthesized, event: Any) -> set[str]:
    return {
        handler
        for _rule, pattern, handler in synthesized.routes()
        if isinstance(event, dict) and EventPattern.load(json.dumps(pattern)).matches_event(event)
    }


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_each_flow_has_exactly_its_patterns_on_rules_that_reach_its_handler(
    synthesized: Synthesized, flow: str
) -> None:
    # GIVEN the rules whose targets lead, through a queue, to the flow's handler
    synthesized_patterns = [p for _rule, p, handler in synthesized.routes() if handler == HANDLER_OF_FLOW[flow]]
    # THEN their patterns are registrar.patterns' for that flow, exactly (the synthesized JSON, not CDK's model)
    assert sorted(synthesized_patterns, key=json.dumps) == sorted(FLOWS[flow], key=json.dumps)


def test_rules_listen_on_the_default_bus(synthesized: Synthesized) -> None:
    for name, rule in synthesized.properties("AWS::Events::Rule").items():
        assert rule.get("EventBusName", "default") == "default", name


@pytest.mark.parametrize("relative", event_files())
def test_sample_event_is_routed_to_the_handler_that_handles_it_and_no_other(
    synthesized: Synthesized, relative: str
) -> None:
    assert relative in EXPECTED_ROUTES, (
        f"events/{relative} is new: add it to EXPECTED_ROUTES in {pathlib.Path(__file__).name} with the handler "
        "its rules must route it to (or None when no rule may match it)"
    )
    # GIVEN a sample event WHEN the synthesized rules' patterns are evaluated against it
    event = json.loads((EVENTS / relative).read_text(encoding="utf-8"))
    reached = handlers_reached(synthesized, event)
    # THEN it reaches exactly the expected handler
    expected = EXPECTED_ROUTES[relative]
    assert reached == ({expected} if expected else set()), f"events/{relative} reached {sorted(reached) or 'nothing'}"


def test_every_expected_route_names_an_existing_file() -> None:
    missing = sorted(set(EXPECTED_ROUTES) - set(event_files()))
    assert not missing, f"EXPECTED_ROUTES lists files that are gone: {missing}; remove them"


def test_each_rule_target_has_its_own_dead_letter_queue_and_retry_policy(synthesized: Synthesized) -> None:
    targets = [t for rule in synthesized.properties("AWS::Events::Rule").values() for t in rule["Targets"]]
    dead_letter_queues = [t["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] for t in targets]
    assert len(set(dead_letter_queues)) == len(targets) == 4  # 3 pattern rules + the sweep schedule
    for target in targets:
        assert set(target["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}


def test_queues_are_encrypted_and_refuse_requests_without_tls(synthesized: Synthesized) -> None:
    queues = synthesized.properties("AWS::SQS::Queue")
    policies = synthesized.properties("AWS::SQS::QueuePolicy").values()
    for name, queue in queues.items():
        assert queue.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue, name
        denies_plain_http = [
            s
            for policy in policies
            if {"Ref": name} in policy["Queues"]
            for s in policy["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies_plain_http, f"{name} accepts requests without TLS"


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_flow_queue_redrives_to_a_dead_letter_queue_and_outlasts_a_weekend(synthesized: Synthesized, flow: str) -> None:
    queues = synthesized.properties("AWS::SQS::Queue")
    [queue_id] = [q for q, handler in synthesized.consumers().items() if handler == HANDLER_OF_FLOW[flow]]
    queue = queues[queue_id]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["MessageRetentionPeriod"] == 4 * 24 * 3600
    dead_letters = queues[queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]]
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600
    # AND a message stays invisible long enough for six function timeouts (Lambda's guidance for SQS)
    _function_id, function = synthesized.function(HANDLER_OF_FLOW[flow])
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]


def test_dead_letter_queues_keep_messages_fourteen_days(synthesized: Synthesized) -> None:
    queues = synthesized.properties("AWS::SQS::Queue")
    redrive_targets = {
        q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in queues.values() if "RedrivePolicy" in q
    }
    target_dlqs = {
        t["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for rule in synthesized.properties("AWS::Events::Rule").values()
        for t in rule["Targets"]
    }
    for name in redrive_targets | target_dlqs:
        assert queues[name]["MessageRetentionPeriod"] == 14 * 24 * 3600, name


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_event_source_mapping_reports_partial_failures_and_caps_concurrency(
    synthesized: Synthesized, flow: str
) -> None:
    function_id, _function = synthesized.function(HANDLER_OF_FLOW[flow])
    [mapping] = [
        m
        for m in synthesized.properties("AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": function_id}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": synthesized.config.max_concurrency}
