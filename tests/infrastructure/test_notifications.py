"""Notifications: Registrar Decision events → rules → an encrypted SNS topic (e-mail) and an API destination (chat)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cfnlint.api import lint_file

from infra import nag
from infra.config import DEFAULT_NOTIFY_VERDICTS, NotifyConfig, load_config
from infra.names import APPROVAL_HANDLER, CONTEXT_KEY, NEO_REGISTRATION_HANDLER, STACK, SWEEPER_HANDLER
from infra.notifications import Notifications
from registrar.decisions.contract import (
    CHAT_INPUT_PATHS,
    CHAT_INPUT_TEMPLATE,
    DECISION_DETAIL_TYPE,
    EMAIL_INPUT_PATHS,
    EMAIL_INPUT_TEMPLATE,
    DecisionDetail,
    MetricReading,
)
from registrar.errors import ConfigurationError
from registrar.events import REGISTRAR_SOURCE

from .conftest import ROOT, Synthesized, cdk_json_context, synthesize
from .test_config import MINIMAL

STACK_ACCOUNT = {"Ref": "AWS::AccountId"}
EMAILS = ["ml-leads@example.com", "model-risk@example.org"]
CHAT_SECRET = "registrar/chat-webhook"
DEFAULT_BUS = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}
PLACEHOLDER = re.compile(r"<([^<>]+)>")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def invalid(notify: Any) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load_config({**MINIMAL, "notify": notify}, root=ROOT)
    return str(raised.value)


@pytest.fixture(scope="module")
def notifying(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app synthesized with cdk.json's context plus e-mail and chat notifications (default verdicts)."""
    context = cdk_json_context()
    context[CONTEXT_KEY] = {**context[CONTEXT_KEY], "notify": {"email": EMAILS, "chat": CHAT_SECRET}}
    return synthesize(tmp_path_factory.mktemp("notifying"), context)


@pytest.fixture(scope="module")
def silent(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app synthesized with cdk.json's context without its notify block."""
    context = cdk_json_context()
    context[CONTEXT_KEY] = {key: value for key, value in context[CONTEXT_KEY].items() if key != "notify"}
    return synthesize(tmp_path_factory.mktemp("silent"), context)


def decision_rules(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """Rule logical id → Properties, for the rules that match Registrar Decision events."""
    return {
        name: rule
        for name, rule in synthesized.properties("AWS::Events::Rule").items()
        if DECISION_DETAIL_TYPE in rule.get("EventPattern", {}).get("detail-type", [])
        and not name.startswith("ApproverMail")  # the approver e-mails' rule (cdk.json's approvers), not notify's
    }


def rule_targeting(synthesized: Synthesized, kind: str) -> dict[str, Any]:
    """The one decision rule target whose Arn names a resource of ``kind`` (its Ref or GetAtt)."""
    resources = synthesized.resources(kind)
    found = [
        target
        for rule in decision_rules(synthesized).values()
        for target in rule["Targets"]
        if target["Arn"].get("Ref", target["Arn"].get("Fn::GetAtt", [None])[0]) in resources
    ]
    [target] = found
    return target


# --- configuration -------------------------------------------------------------------------------------------------


def test_without_notify_nothing_notifies() -> None:
    assert load_config(MINIMAL, root=ROOT).notify is None


def test_notify_defaults_to_what_a_person_must_act_on_or_look_into() -> None:
    config = load_config({**MINIMAL, "notify": {"email": EMAILS}}, root=ROOT)
    assert config.notify == NotifyConfig(email=EMAILS, chat=None, verdicts=["Held", "Rejected", "Failed"])
    assert tuple(config.notify.verdicts) == DEFAULT_NOTIFY_VERDICTS


@pytest.mark.parametrize(
    ("notify", "where", "message"),
    [
        ({"email": ["ops-at-example.com"]}, "notify.email[0]", "'ops-at-example.com' is not an e-mail address"),
        ({"email": ["a@example.com", "A@Example.com"]}, "notify.email", "'A@Example.com' is listed twice"),
        ({"email": EMAILS, "verdicts": ["Held", "Approve"]}, "notify.verdicts[1]", "Input should be 'Approved'"),
        ({"email": EMAILS, "verdicts": []}, "notify.verdicts", "at least 1 item"),
        ({"email": EMAILS, "verdicts": ["Held", "Held"]}, "notify.verdicts", "'Held' is listed twice"),
        ({"emails": EMAILS}, "notify.emails", "unknown key; the keys are email, chat, verdicts"),
        ({"chat": "arn:aws:secretsmanager:eu-west-1:1:secret:x"}, "notify.chat", "not a Secrets Manager secret name"),
        ({}, "notify", "names nobody to notify"),
        ("ops@example.com", "notify", "valid dictionary"),
    ],
)
def test_a_bad_notify_is_refused_naming_the_key_and_the_rule(notify: Any, where: str, message: str) -> None:
    error = invalid(notify)
    assert f"- {where}: " in error
    assert message in error


def test_a_chat_secret_is_named_not_given() -> None:
    config = load_config({**MINIMAL, "notify": {"chat": CHAT_SECRET, "verdicts": ["Approved"]}}, root=ROOT)
    assert config.notify is not None
    assert (config.notify.chat, config.notify.email, config.notify.verdicts) == (CHAT_SECRET, [], ["Approved"])


# --- the contract's input transformers ------------------------------------------------------------------------------


def sample_decision() -> DecisionDetail:
    """A decision whose summary holds what a template must survive: newlines, quotes, a backslash, a placeholder."""
    return DecisionDetail(
        decision_id="token-1",
        model_package_arn="arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-model/3",
        model_package_group="churn-model",
        model_package_version=3,
        verdict="Held",
        flow="approval",
        decided_at=datetime(2026, 12, 1, tzinfo=UTC),
        reasons=['metric "auc" read from C:\\reports <summary>'],
        metrics=[MetricReading(name="auc", expression="a.b", value=0.8, min=0.85, passed=False, text="auc 0.8 < 0.85")],
    )


@pytest.mark.parametrize(
    ("paths", "template"), [(EMAIL_INPUT_PATHS, EMAIL_INPUT_TEMPLATE), (CHAT_INPUT_PATHS, CHAT_INPUT_TEMPLATE)]
)
def test_every_transformer_path_names_a_member_every_decision_carries(paths: dict[str, str], template: str) -> None:
    # GIVEN the JSON members of the detail (aliases included) and a decision as published (members without a value
    # left out)
    members = {field.alias or name for name, field in DecisionDetail.model_fields.items()}
    published = sample_decision().to_json()
    for name, path in paths.items():
        # THEN each path is $.detail.<member> of the model, and present in what is published: a path that does not
        # resolve drops its variable, and EventBridge the message with it
        assert path.startswith("$.detail."), path
        member = path.removeprefix("$.detail.")
        assert member in members, f"{path} names no member of DecisionDetail"
        assert member in published, f"{path} may be absent from a published decision"
        assert f"<{name}>" in template
    # AND the template uses no variable the paths do not define
    assert set(PLACEHOLDER.findall(template)) <= set(paths)


def render_as_json_values(template: str, paths: dict[str, str], detail: dict[str, Any]) -> Any:
    """EventBridge's documented substitution of an unquoted placeholder: the value as JSON (strings quoted, escaped)."""

    def value(match: re.Match[str]) -> str:
        return json.dumps(detail[paths[match.group(1)].removeprefix("$.detail.")])

    return json.loads(PLACEHOLDER.sub(value, template))


def test_no_placeholder_stands_inside_a_quoted_string() -> None:
    # EventBridge does not escape a value it inserts inside quotes: the summary's newlines and quotes would break
    # the message. Every placeholder stands as a JSON value, which EventBridge inserts as JSON.
    for template in (EMAIL_INPUT_TEMPLATE, CHAT_INPUT_TEMPLATE):
        assert not re.search(r'"[^"]*<[^<>]+>[^"]*"', template), template


def test_the_email_is_the_summary_and_the_chat_message_its_text_whatever_the_summary_holds() -> None:
    detail = sample_decision().to_json()
    assert "\n" in detail["summary"] and '"' in detail["summary"]
    assert render_as_json_values(EMAIL_INPUT_TEMPLATE, EMAIL_INPUT_PATHS, detail) == detail["summary"]
    assert render_as_json_values(CHAT_INPUT_TEMPLATE, CHAT_INPUT_PATHS, detail) == {"text": detail["summary"]}


# --- without notify --------------------------------------------------------------------------------------------------


def test_without_notify_no_topic_rule_or_destination_is_deployed(silent: Synthesized) -> None:
    assert silent.config.notify is None
    assert decision_rules(silent) == {}
    assert len(silent.resources("AWS::SNS::Topic")) == 1  # the alarm topic
    assert silent.resources("AWS::Events::ApiDestination") == {}
    assert silent.resources("AWS::Events::Connection") == {}


def test_cdk_json_notifies_its_subscriber_by_e_mail(synthesized: Synthesized) -> None:
    # GIVEN the repository's cdk.json (make synth) THEN one rule on the decision pattern targets an SNS topic
    [rule] = decision_rules(synthesized).values()
    [target] = rule["Targets"]
    [topic] = [name for name in synthesized.resources("AWS::SNS::Topic") if name.startswith("Notify")]
    assert target["Arn"] == {"Ref": topic}
    assert [s["Endpoint"] for s in synthesized.properties("AWS::SNS::Subscription").values()] == [
        "ml-platform@example.com"
    ]


@pytest.mark.parametrize("handler", [APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER])
def test_the_flows_may_put_decision_events_on_the_default_bus_and_nothing_else(
    synthesized: Synthesized, handler: str
) -> None:
    # GIVEN a flow's role, notifications or not WHEN its PutEvents statements are read
    function_id, _function = synthesized.function(handler)
    puts = [s for s in synthesized.role_statements(function_id) if "events:PutEvents" in as_list(s["Action"])]
    # THEN there is one: the default bus, source registrar and detail-type Registrar Decision only
    [statement] = puts
    assert as_list(statement["Action"]) == ["events:PutEvents"]
    assert as_list(statement["Resource"]) == [DEFAULT_BUS]
    assert statement["Condition"] == {
        "StringEquals": {"events:source": REGISTRAR_SOURCE, "events:detail-type": DECISION_DETAIL_TYPE}
    }


def test_the_sweeper_keeps_its_own_put_events_grant_on_the_default_bus(synthesized: Synthesized) -> None:
    # Its Compilation Job State Change events are another contract: the decision grant is not the sweeper's.
    function_id, _function = synthesized.function(SWEEPER_HANDLER)
    [statement] = [s for s in synthesized.role_statements(function_id) if "events:PutEvents" in as_list(s["Action"])]
    assert "event-bus/default" in json.dumps(statement["Resource"])
    assert DECISION_DETAIL_TYPE not in json.dumps(statement)


# --- with notify -----------------------------------------------------------------------------------------------------


def test_each_channel_has_a_rule_on_this_accounts_decisions_of_the_configured_verdicts(notifying: Synthesized) -> None:
    rules = decision_rules(notifying)
    assert len(rules) == 2  # e-mail and chat
    for rule in rules.values():
        assert "EventBusName" not in rule  # the default bus
        assert rule["EventPattern"] == {
            "source": [REGISTRAR_SOURCE],
            "detail-type": [DECISION_DETAIL_TYPE],
            "account": [STACK_ACCOUNT],
            "detail": {"verdict": list(DEFAULT_NOTIFY_VERDICTS)},
        }


def test_the_configured_verdicts_are_the_ones_that_notify() -> None:
    stack = cdk.Stack(cdk.App(), "Verdicts")
    Notifications(stack, "Notify", notify=NotifyConfig(email=EMAILS, verdicts=["Approved", "Attached"]))
    [rule] = Template.from_stack(stack).find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"]["detail"] == {"verdict": ["Approved", "Attached"]}


def test_email_goes_to_an_encrypted_tls_only_topic_as_the_summary(notifying: Synthesized) -> None:
    # GIVEN the rule target that publishes to SNS
    target = rule_targeting(notifying, "AWS::SNS::Topic")
    topic_id = target["Arn"]["Ref"]
    topic = notifying.properties("AWS::SNS::Topic")[topic_id]
    # THEN it transforms the event with the contract's e-mail transformer, as defined there
    assert target["InputTransformer"] == {"InputPathsMap": EMAIL_INPUT_PATHS, "InputTemplate": EMAIL_INPUT_TEMPLATE}
    # AND the topic is encrypted with a rotated key of its own, and refuses requests without TLS
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert notifying.properties("AWS::KMS::Key")[key_id]["EnableKeyRotation"] is True
    [policy] = [p for p in notifying.properties("AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Topics"]]
    statements = policy["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_only_the_email_rule_may_publish_to_the_decision_topic(notifying: Synthesized) -> None:
    target = rule_targeting(notifying, "AWS::SNS::Topic")
    topic_id = target["Arn"]["Ref"]
    [rule_id] = [n for n, r in decision_rules(notifying).items() if target in r["Targets"]]
    [policy] = [p for p in notifying.properties("AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Topics"]]
    allowed = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allowed == [
        {
            "Sid": "DecisionRulePublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": {"Ref": topic_id},
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
        }
    ]
    # AND EventBridge may use the topic's key for this account only
    key_id = notifying.properties("AWS::SNS::Topic")[topic_id]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_policy = notifying.properties("AWS::KMS::Key")[key_id]["KeyPolicy"]
    [grant] = [s for s in key_policy["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert sorted(as_list(grant["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": STACK_ACCOUNT}}


def test_each_address_is_subscribed_once_by_email(notifying: Synthesized) -> None:
    topic_id = rule_targeting(notifying, "AWS::SNS::Topic")["Arn"]["Ref"]
    subscribed = [
        s for s in notifying.properties("AWS::SNS::Subscription").values() if s["TopicArn"] == {"Ref": topic_id}
    ]
    assert sorted(s["Endpoint"] for s in subscribed) == sorted(EMAILS)
    assert {s["Protocol"] for s in subscribed} == {"email"}


def test_chat_posts_the_summary_to_the_webhook_named_in_secrets_manager(notifying: Synthesized) -> None:
    # GIVEN the API destination and its connection
    [(destination_id, destination)] = notifying.properties("AWS::Events::ApiDestination").items()
    [(connection_id, connection)] = notifying.properties("AWS::Events::Connection").items()
    # THEN it POSTs, at a rate the webhooks accept, to the URL CloudFormation resolves from the secret at deploy time:
    # the URL (which is the webhook's secret) is in neither the template nor the repository
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationRateLimitPerSecond"] == 1
    assert destination["InvocationEndpoint"] == f"{{{{resolve:secretsmanager:{CHAT_SECRET}:SecretString:::}}}}"
    assert destination["ConnectionArn"] == {"Fn::GetAtt": [connection_id, "Arn"]}
    # AND the connection's authorization is a label, not a credential (the webhook needs none besides its URL)
    assert connection["AuthorizationType"] == "API_KEY"
    assert "secretsmanager" not in json.dumps(connection)
    # AND the rule sends the contract's chat transformer, through a role that may invoke this destination only
    target = rule_targeting(notifying, "AWS::Events::ApiDestination")
    assert target["Arn"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    assert target["InputTransformer"] == {"InputPathsMap": CHAT_INPUT_PATHS, "InputTemplate": CHAT_INPUT_TEMPLATE}
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in notifying.properties("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Roles"]
        for s in p["PolicyDocument"]["Statement"]
    ]
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        ("events:InvokeApiDestination", {"Fn::GetAtt": [destination_id, "Arn"]})
    ]


@pytest.mark.parametrize("kind", ["AWS::SNS::Topic", "AWS::Events::ApiDestination"])
def test_each_channel_retries_and_keeps_what_it_could_not_deliver(notifying: Synthesized, kind: str) -> None:
    # GIVEN a channel's rule target
    target = rule_targeting(notifying, kind)
    # THEN EventBridge retries for as long as it can, then leaves the event in a dead-letter queue of its own
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = notifying.properties("AWS::SQS::Queue")[queue_id]
    assert queue["SqsManagedSseEnabled"] is True
    # AND only that rule may send to it, over TLS
    [policy] = [p for p in notifying.properties("AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Queues"]]
    statements = policy["PolicyDocument"]["Statement"]
    [allowed] = [s for s in statements if s["Effect"] == "Allow"]
    assert allowed["Action"] == "sqs:SendMessage"
    assert set(allowed["Condition"]["ArnEquals"]) == {"aws:SourceArn"}
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    # AND its first message raises an alarm, like every other dead-letter queue's
    depth = [
        a
        for a in notifying.properties("AWS::CloudWatch::Alarm").values()
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    ]
    assert len(depth) == 1


def test_the_two_channel_queues_are_distinct(notifying: Synthesized) -> None:
    queues = {
        rule_targeting(notifying, kind)["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for kind in ("AWS::SNS::Topic", "AWS::Events::ApiDestination")
    }
    assert len(queues) == 2


def test_cdk_nag_finds_nothing_unacknowledged_with_notifications(notifying: Synthesized) -> None:
    found = nag.violations(notifying.outdir)
    assert not found, nag.describe(found)
    assert notifying.error is None
    rules = {rule.split("::", 1)[1] for rules in nag.acknowledgements(notifying.outdir).values() for rule in rules}
    # (SMG4: the decision links' signing key, cdk.json's approvers; rotated by hand)
    assert {rule.split("[", 1)[0] for rule in rules} == {
        "AwsSolutions-L1",
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5",
        "AwsSolutions-SMG4",
    }


def test_cfn_lint_finds_nothing_with_notifications(notifying: Synthesized) -> None:
    for template in sorted(notifying.outdir.glob("*.template.json")):
        problems = [m for m in lint_file(template) if m.rule.id[0] in "EW"]
        assert not problems, "\n".join(str(m) for m in problems)


def test_cdk_reports_no_warning_or_error_with_notifications(notifying: Synthesized) -> None:
    metadata = json.loads((notifying.outdir / f"{STACK}.metadata.json").read_text(encoding="utf-8"))
    annotations = [
        f"{path}: {entry['data']}"
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] in {"aws:cdk:warning", "aws:cdk:error"}
    ]
    assert not annotations, "\n".join(annotations)
