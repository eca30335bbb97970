"""Alarms on every way registrar can fail quietly, the topic they notify, and the dashboard."""

from __future__ import annotations

import json
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

from .conftest import Synthesized


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


def test_every_alarm_notifies_the_encrypted_tls_only_topic(synthesized: Synthesized) -> None:
    [(topic_id, topic)] = synthesized.properties("AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic
    [key] = synthesized.properties("AWS::KMS::Key").values()
    assert key["EnableKeyRotation"] is True
    for alarm in alarms(synthesized):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    [policy] = synthesized.properties("AWS::SNS::TopicPolicy").values()
    statements = policy["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    assert any(s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_alarm_topic_has_an_email_subscription_only_when_configured(synthesized: Synthesized) -> None:
    subscriptions = synthesized.properties("AWS::SNS::Subscription")
    assert len(subscriptions) == (1 if synthesized.config.alarm_email else 0)


def test_dashboard_shows_decisions_specifications_skips_errors_and_latency(synthesized: Synthesized) -> None:
    [dashboard] = synthesized.properties("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["DashboardBody"])
    for metric in (*DECISION_METRICS, *NEO_METRICS, *SKIP_METRICS, FAILURE_METRIC, "Errors", "Duration"):
        assert f'\\"{metric}\\"' in body, metric
    assert "p95" in body and "p50" in body
