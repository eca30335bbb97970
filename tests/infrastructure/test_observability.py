"""Alarms on every way registrar can fail quietly, the topic they notify, and the dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.names import (
    APPROVAL_HANDLER,
    DECISION_METRICS,
    FAILURE_METRIC,
    NEO_METRICS,
    NEO_REGISTRATION_HANDLER,
    SKIP_METRICS,
    SWEEP_METRIC,
    SWEEPER_HANDLER,
)

from .conftest import ROOT, Synthesized

OPERATIONS = ROOT / "docs" / "operations.md"


def alarming(synthesized: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of ``resource_type`` of the alarms, not the notify block's (``Notify…``) nor the links' key."""
    return {
        name: p
        for name, p in synthesized.properties(resource_type).items()
        if not name.startswith(("Notify", "DecisionLinks"))
    }


def alarms(synthesized: Synthesized) -> list[dict[str, Any]]:
    return list(synthesized.properties("AWS::CloudWatch::Alarm").values())


def dead_letter_queue_ids(synthesized: Synthesized) -> set[str]:
    queues = synthesized.properties("AWS::SQS::Queue").values()
    rules = synthesized.properties("AWS::Events::Rule").values()
    return {q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in queues if "RedrivePolicy" in q} | {
        t["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] for r in rules for t in r["Targets"]
    }


def test_every_dead_letter_queue_alarms_on_its_first_message(synthesized: Synthesized) -> None:
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a
        for a in alarms(synthesized)
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert set(watched) == dead_letter_queue_ids(synthesized)
    for alarm in watched.values():
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("handler", [APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER, SWEEPER_HANDLER])
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(synthesized: Synthesized, handler: str, metric: str) -> None:
    function_id, _function = synthesized.function(handler)
    [alarm] = [
        a
        for a in alarms(synthesized)
        if a.get("MetricName") == metric
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    ]
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["Statistic"] == "Sum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_missing_sweeps_alarm_after_three_intervals(synthesized: Synthesized) -> None:
    [alarm] = [a for a in alarms(synthesized) if a.get("MetricName") == SWEEP_METRIC]
    assert alarm["Namespace"] == "registrar"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "registrar"}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 3 * synthesized.config.sweep_rate_minutes * 60
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    # No data at all is the failure this alarm exists for
    assert alarm["TreatMissingData"] == "breaching"


def test_every_flow_queue_alarms_when_an_event_waits_longer_than_its_visibility_timeout(
    synthesized: Synthesized,
) -> None:
    # GIVEN each flow's queue (the queues an event source mapping reads) and every age alarm
    queues = synthesized.properties("AWS::SQS::Queue")
    flow_queues = set(synthesized.consumers())
    age_alarms = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a
        for a in alarms(synthesized)
        if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    # THEN there is one per flow queue, and none on a dead-letter queue (their depth alarm says more, sooner)
    assert set(age_alarms) == flow_queues
    [(topic_id, _topic)] = alarming(synthesized, "AWS::SNS::Topic").items()
    for queue_id, alarm in age_alarms.items():
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
        # AND it fires when the oldest event is older than one visibility timeout (the longest one receive may take,
        # six function timeouts) for three consecutive minutes: not for an event handed back once and then handled
        assert alarm["Threshold"] == queues[queue_id]["VisibilityTimeout"]
        assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 60, 3)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        # an idle queue publishes nothing: nothing is waiting
        assert alarm["TreatMissingData"] == "notBreaching"
        # AND it notifies the alarm topic when it fires and when it clears, like the others
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id}]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def cloudwatch_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]


THIS_ACCOUNTS_ALARMS = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":cloudwatch:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":alarm:*",
                ],
            ]
        }
    },
}


def test_only_this_accounts_alarms_may_use_the_alarm_topics_key(synthesized: Synthesized) -> None:
    # GIVEN the key that encrypts the alarm topic
    [key] = alarming(synthesized, "AWS::KMS::Key").values()
    # WHEN its policy's grants to CloudWatch are read
    [statement] = cloudwatch_statements(key["KeyPolicy"])
    # THEN CloudWatch may encrypt for the topic, and only on behalf of an alarm of the stack's account and region
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == THIS_ACCOUNTS_ALARMS


def test_only_this_accounts_alarms_may_publish_to_the_alarm_topic(synthesized: Synthesized) -> None:
    [policy] = alarming(synthesized, "AWS::SNS::TopicPolicy").values()
    [statement] = cloudwatch_statements(policy["PolicyDocument"])
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == THIS_ACCOUNTS_ALARMS


def test_every_alarm_has_a_runbook_entry(synthesized: Synthesized) -> None:
    # GIVEN the runbook's alarm headings, e.g. "### Function errors — `<Function>Errors`"
    text = OPERATIONS.read_text(encoding="utf-8")
    names = re.findall(r"^### .+ — `([^`]+)`$", text, flags=re.MULTILINE)
    entries = [re.compile(re.sub(r"<\w+>", r"\\w+", name)) for name in names]
    # WHEN every alarm's construct id is read from its logical id (Observability<id><8 hex digits>)
    ids = [
        re.fullmatch(r"Observability(\w+?)[0-9A-F]{8}", logical_id)
        for logical_id in synthesized.resources("AWS::CloudWatch::Alarm")
    ]
    # THEN each one has an entry that says what it means and what to do
    assert ids and all(ids)
    missing = [m.group(1) for m in ids if m and not any(entry.fullmatch(m.group(1)) for entry in entries)]
    assert not missing, f"alarms without a runbook entry in docs/operations.md: {missing}"


def test_every_alarm_notifies_the_encrypted_tls_only_topic(synthesized: Synthesized) -> None:
    [(topic_id, topic)] = alarming(synthesized, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic
    [key] = alarming(synthesized, "AWS::KMS::Key").values()
    assert key["EnableKeyRotation"] is True
    for alarm in alarms(synthesized):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    [policy] = alarming(synthesized, "AWS::SNS::TopicPolicy").values()
    statements = policy["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    assert any(s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_alarm_topic_has_an_email_subscription_only_when_configured(synthesized: Synthesized) -> None:
    subscriptions = alarming(synthesized, "AWS::SNS::Subscription")
    assert len(subscriptions) == (1 if synthesized.config.alarm_email else 0)


def test_dashboard_shows_decisions_specifications_skips_errors_and_latency(synthesized: Synthesized) -> None:
    [dashboard] = synthesized.properties("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["DashboardBody"])
    for metric in (
        *DECISION_METRICS,
        *NEO_METRICS,
        *SKIP_METRICS,
        FAILURE_METRIC,
        "Errors",
        "Duration",
        "ApproximateAgeOfOldestMessage",
    ):
        assert f'\\"{metric}\\"' in body, metric
    assert "p95" in body and "p50" in body
