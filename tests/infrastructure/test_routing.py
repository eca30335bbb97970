"""Rules, queues and event source mappings: which event reaches which handler, and how."""

from __future__ import annotations

import json
import pathlib
from typing import Any, cast

import pytest
from moto.events.models import EventPattern
from moto.events.utils import EventMessageType

from infra.names import APPROVAL_HANDLER, APPROVER_MAIL_HANDLER, DEPLOYMENT_HANDLER, NEO_REGISTRATION_HANDLER
from registrar.patterns import FLOWS, for_account

from .conftest import ROOT, Synthesized

EVENTS = ROOT / "events"
HANDLER_OF_FLOW = {"approval": APPROVAL_HANDLER, "neo": NEO_REGISTRATION_HANDLER, "deployment": DEPLOYMENT_HANDLER}
# The account of every sample event; the rules are evaluated as if the stack were deployed there.
STACK_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
STACK_ACCOUNT_TOKEN = {"Ref": "AWS::AccountId"}

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
    "deployment/in-service.json": DEPLOYMENT_HANDLER,
    # An endpoint still updating: the event of its end (IN_SERVICE) is the one registrar reads.
    "deployment/updating.json": None,
    # registrar's own decisions reach no handler (only the notification rules, tested below).
    "decisions/approved.json": None,
    "decisions/failed-compilation.json": None,
    # cdk.json names approvers: a held decision e-mails them (infra/approver_mail.py)
    "decisions/held.json": APPROVER_MAIL_HANDLER,
}


def event_files() -> list[str]:
    return sorted(path.relative_to(EVENTS).as_posix() for path in EVENTS.rglob("*.json"))


def deployed_in(value: Any, account: str) -> Any:
    """A synthesized pattern as EventBridge sees it in ``account``: the stack's account token resolved.

    Any other intrinsic function fails the test: left in, the matcher would take it for a content
    filter it does not know and match anything.
    """
    if value == STACK_ACCOUNT_TOKEN:
        return account
    if isinstance(value, dict):
        unresolved = [key for key in value if key == "Ref" or key.startswith("Fn::")]
        assert not unresolved, f"unresolved intrinsic function in an event pattern: {value}"
        return {key: deployed_in(item, account) for key, item in value.items()}
    if isinstance(value, list):
        return [deployed_in(item, account) for item in value]
    return value


def handlers_reached(synthesized: Synthesized, event: Any, *, account: str = STACK_ACCOUNT) -> set[str]:
    """The handlers the synthesized rules route ``event`` to, with the stack deployed in ``account``."""
    return {
        handler
        for _rule, pattern, handler in synthesized.routes()
        if isinstance(event, dict)
        and EventPattern.load(json.dumps(deployed_in(pattern, account))).matches_event(cast(EventMessageType, event))
    }


def routed_samples() -> list[str]:
    return sorted(relative for relative, handler in EXPECTED_ROUTES.items() if handler is not None)


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_each_flow_has_exactly_its_patterns_on_rules_that_reach_its_handler(
    synthesized: Synthesized, flow: str
) -> None:
    # GIVEN the rules whose targets lead, through a queue, to the flow's handler, deployed in some account
    synthesized_patterns = [
        deployed_in(p, STACK_ACCOUNT) for _rule, p, handler in synthesized.routes() if handler == HANDLER_OF_FLOW[flow]
    ]
    # THEN their patterns are registrar.patterns' for that flow, limited to that account, exactly (the synthesized
    # JSON, not CDK's model)
    expected = [for_account(pattern, STACK_ACCOUNT) for pattern in FLOWS[flow]]
    assert sorted(synthesized_patterns, key=json.dumps) == sorted(expected, key=json.dumps)


def test_every_flow_rule_matches_the_stacks_own_account_only(synthesized: Synthesized) -> None:
    # GIVEN every rule that feeds a flow WHEN its synthesized pattern is read
    routes = synthesized.routes()
    assert routes
    for rule, pattern, _handler in routes:
        # THEN it filters on the account the stack is deployed in (resolved at deploy time), and on nothing wider
        assert pattern["account"] == [STACK_ACCOUNT_TOKEN], rule


def test_the_samples_are_events_of_the_account_the_routing_tests_deploy_in() -> None:
    accounts = {json.loads((EVENTS / relative).read_text(encoding="utf-8"))["account"] for relative in routed_samples()}
    assert accounts == {STACK_ACCOUNT}


@pytest.mark.parametrize("relative", routed_samples())
def test_the_same_event_from_another_account_reaches_no_handler(synthesized: Synthesized, relative: str) -> None:
    # GIVEN a sample event that reaches a handler in the stack's account
    event = json.loads((EVENTS / relative).read_text(encoding="utf-8"))
    assert handlers_reached(synthesized, event) == {EXPECTED_ROUTES[relative]}
    # WHEN another account puts the same event on this account's default bus (cross-account delivery keeps the
    # sender's account in the event)
    foreign = {**event, "account": OTHER_ACCOUNT}
    # THEN no rule routes it to any flow
    assert handlers_reached(synthesized, foreign) == set(), f"events/{relative} from {OTHER_ACCOUNT} reached a flow"
    # AND with the stack deployed in that other account, the rules route it again: the filter is the stack's account
    assert handlers_reached(synthesized, foreign, account=OTHER_ACCOUNT) == {EXPECTED_ROUTES[relative]}


def test_for_account_adds_the_account_to_a_copy_and_leaves_the_shared_pattern_alone() -> None:
    # GIVEN a shared pattern WHEN it is narrowed to an account
    [pattern, *_] = FLOWS["approval"]
    before = json.dumps(pattern, sort_keys=True)
    narrowed = for_account(pattern, STACK_ACCOUNT)
    # THEN the copy has the account and everything else of the pattern, and the shared one is unchanged
    assert narrowed == {**pattern, "account": [STACK_ACCOUNT]}
    assert json.dumps(pattern, sort_keys=True) == before and "account" not in pattern
    narrowed["detail"]["changed"] = True
    assert "changed" not in pattern["detail"]


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
    # 4 flow rules, the sweep schedule, the e-mail notification rule cdk.json's notify block asks for, and the
    # approver e-mails' rule its approvers ask for
    assert len(set(dead_letter_queues)) == len(targets) == 7
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


@pytest.mark.parametrize("relative", [name for name in event_files() if name.startswith("decisions/")])
def test_a_decision_reaches_the_notification_rules_when_its_verdict_is_notified(
    synthesized: Synthesized, relative: str
) -> None:
    # GIVEN a Registrar Decision sample and the notification rules of cdk.json's notify block
    event = json.loads((EVENTS / relative).read_text(encoding="utf-8"))
    rules = synthesized.notification_rules()
    assert rules, "cdk.json's notify block deploys at least one notification rule"
    notified = set(json.loads((ROOT / "cdk.json").read_text())["context"]["registrar"]["notify"]["verdicts"])
    for name, rule in rules.items():
        pattern = EventPattern.load(json.dumps(deployed_in(rule["EventPattern"], STACK_ACCOUNT)))
        # THEN each rule matches it exactly when its verdict is one people are told about, and only in the account
        assert pattern.matches_event(cast(EventMessageType, event)) == (event["detail"]["verdict"] in notified), name
        foreign = {**event, "account": OTHER_ACCOUNT}
        assert not pattern.matches_event(cast(EventMessageType, foreign)), name
