"""Registrar Decision events reach people as in AWS: SQS, SNS e-mail and chat targets, input transformers, DLQ.

docs/sagemaker.md#departures-corrected, fixes 12-14 (``registrar_dev.emulator.targets``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from registrar.decisions.contract import DECISION_PATTERN, EMAIL_INPUT_TEMPLATE, DecisionDetail, put_events_entry
from registrar.errors import ConfigurationError
from registrar.patterns import for_account
from registrar_dev.chat import ChatReceiver
from registrar_dev.emulator import Emulator
from registrar_dev.topology import build_notifications

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# One attempt: a PutEvents that fails must show as a failure, not be sent again by botocore's retries.
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})
REASON = 'report "evaluation.json" is stale\\old: see <resources> & <id>'


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def decision(verdict: str = "Rejected", **members: Any) -> DecisionDetail:
    """A decision whose summary has several lines, quotes, a backslash and template placeholders."""
    values: dict[str, Any] = {
        "decision_id": unique("decision"),
        "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3",
        "model_package_group": "churn-model",
        "model_package_version": 3,
        "verdict": verdict,
        "status": "Rejected",
        "previous_status": "PendingManualApproval",
        "reasons": ["auc 0.81 < min 0.85", REASON],
        "evidence": "s3://registrar-test-artifacts/churn-model/3/evaluation.json",
        "flow": "approval",
        "decided_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        **members,
    }
    return DecisionDetail(**values)


def email_text(body: str) -> str:
    """The summary an e-mail carries: a quoted-string template delivers a JSON string, a plain one the text."""
    return str(json.loads(body)) if EMAIL_INPUT_TEMPLATE.lstrip().startswith('"') else body


def publish(aws: Emulator, *details: DecisionDetail) -> None:
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region, config=ONE_ATTEMPT)
    response = events.put_events(Entries=[put_events_entry(detail) for detail in details])  # type: ignore[misc]
    assert response["FailedEntryCount"] == 0, response


class Queue:
    """An SQS queue of the emulator, read as a target's owner reads it."""

    def __init__(self, aws: Emulator, name: str) -> None:
        self.sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def receive(self, wait: float = 10.0) -> list[MessageTypeDef]:
        """The messages that arrive within ``wait`` seconds (at least one, unless none came), deleted."""
        deadline = time.monotonic() + wait
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if messages or time.monotonic() >= deadline:
                break
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def bodies(self, wait: float = 10.0) -> list[str]:
        return [message["Body"] for message in self.receive(wait)]


def rule(aws: Emulator, name: str, targets: list[dict[str, Any]]) -> str:
    """A rule on the default bus for this account's decisions, with ``targets``; returns its ARN."""
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    pattern = for_account(DECISION_PATTERN, aws.account_id)
    arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule=name, Targets=targets)  # type: ignore[arg-type]
    return arn


def api_destination(aws: Emulator, name: str, url: str) -> str:
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    connection = events.create_connection(
        Name=name,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "local-key"}},
    )["ConnectionArn"]
    return events.create_api_destination(
        Name=name, ConnectionArn=connection, InvocationEndpoint=url, HttpMethod="POST"
    )["ApiDestinationArn"]


@pytest.fixture
def chat() -> Iterator[ChatReceiver]:
    with ChatReceiver() as receiver:
        yield receiver


# Routing ----------------------------------------------------------------------------------------------------


def test_decision_reaches_queue_target_exactly_once(aws: Emulator) -> None:
    # GIVEN a rule on the decision pattern whose target is a queue
    queue = Queue(aws, unique("decisions"))
    rule(aws, unique("decisions"), [{"Id": "queue", "Arn": queue.arn}])
    detail = decision()

    # WHEN the decision is published
    publish(aws, detail)

    # THEN the queue receives the whole event once, its detail as published
    [body] = queue.bodies()
    event = json.loads(body)
    assert (event["source"], event["detail-type"], event["account"]) == (
        "registrar",
        "Registrar Decision",
        "123456789012",
    )
    assert event["detail"] == detail.to_json()
    assert queue.bodies(wait=1) == []


def test_decision_reaches_email_subscribers_with_the_summary(aws: Emulator) -> None:
    # GIVEN the notifications as the stack builds them, two people subscribed by e-mail
    notifications = build_notifications(
        aws.endpoint, email=["ml-lead@example.com", "risk@example.com"], name=unique("notify")
    )
    detail = decision()

    # WHEN a decision is published
    publish(aws, detail)

    # THEN each subscriber was sent one e-mail whose text is the decision's summary, its lines, quotes and
    # placeholders untouched
    emails = notifications.sent_emails()
    assert sorted(email.to for email in emails) == ["ml-lead@example.com", "risk@example.com"]
    for email in emails:
        assert email_text(email.body) == detail.summary
        assert email.subject == "AWS Notification Message"
    assert REASON in detail.summary and "\n" in detail.summary


def test_decision_reaches_chat_as_text_json(aws: Emulator, chat: ChatReceiver) -> None:
    # GIVEN the notifications with a chat webhook
    build_notifications(aws.endpoint, chat_url=chat.url, name=unique("notify"))
    detail = decision()

    # WHEN a decision is published
    publish(aws, detail)

    # THEN the webhook receives {"text": <summary>}: newlines, quotes and backslashes intact after decoding
    [message] = chat.wait_for(1)
    assert message == {"text": detail.summary}
    [headers] = chat.headers()
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Registrar-Notification"] == "registrar"  # the connection's API key header, as the stack's


def test_unlisted_verdict_notifies_nobody(aws: Emulator, chat: ChatReceiver) -> None:
    # GIVEN notifications of rejections only
    notifications = build_notifications(
        aws.endpoint, email=["ml-lead@example.com"], chat_url=chat.url, verdicts=["Rejected"], name=unique("notify")
    )
    approved, rejected = decision("Approved", status="Approved"), decision("Rejected")

    # WHEN an approval, then a rejection, are published
    publish(aws, approved)
    publish(aws, rejected)

    # THEN only the rejection reached the e-mail subscriber and the chat
    assert chat.wait_for(1) == [{"text": rejected.summary}]
    assert [email_text(email.body) for email in notifications.sent_emails()] == [rejected.summary]


def test_local_notifications_refuse_a_chat_url_off_this_machine(aws: Emulator) -> None:
    # GIVEN/WHEN the local notifications are asked to post to a real webhook
    name = unique("notify")
    with pytest.raises(ConfigurationError, match="loopback"):
        build_notifications(
            aws.endpoint, email=["ml-lead@example.com"], chat_url="https://hooks.example.com/x", name=name
        )

    # THEN nothing was created
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    assert events.list_rules(NamePrefix=name)["Rules"] == []


# API destinations: loopback only, retries, dead-letter queue -------------------------------------------------


def test_non_loopback_api_destination_is_not_called(aws: Emulator, chat: ChatReceiver) -> None:
    # GIVEN a rule with two chat targets: the local receiver, and an address outside this machine
    dead_letters = Queue(aws, unique("chat-dlq"))
    name = unique("chat")
    local = api_destination(aws, f"{name}-local", chat.url)
    remote = api_destination(aws, f"{name}-remote", "https://hooks.example.com/services/T000/B000")
    template = {"InputPathsMap": {"summary": "$.detail.summary"}, "InputTemplate": '{"text": "<summary>"}'}
    rule(
        aws,
        name,
        [
            {"Id": target_id, "Arn": arn, "InputTransformer": template, "DeadLetterConfig": {"Arn": dead_letters.arn}}
            for target_id, arn in (("local", local), ("remote", remote))
        ],
    )
    detail = decision()

    # WHEN a decision is published
    publish(aws, detail)

    # THEN the local receiver is called; the remote address is refused without a call, its event dead-lettered
    assert chat.wait_for(1) == [{"text": detail.summary}]
    [dead] = dead_letters.receive()
    attributes = {key: value["StringValue"] for key, value in dead["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == remote
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("EndpointRefused", "0")
    assert "hooks.example.com was not called" in attributes["ERROR_MESSAGE"]
    assert json.loads(dead["Body"])["detail"] == detail.to_json()


def test_failing_chat_receiver_leads_to_dead_letter_after_retries(aws: Emulator) -> None:
    # GIVEN a chat webhook that answers 500, behind a target retried twice with a dead-letter queue
    dead_letters = Queue(aws, unique("chat-dlq"))
    name = unique("chat")
    with ChatReceiver(status=500) as failing:
        destination = api_destination(aws, name, failing.url)
        rule_arn = rule(
            aws,
            name,
            [
                {
                    "Id": "chat",
                    "Arn": destination,
                    "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
                    "DeadLetterConfig": {"Arn": dead_letters.arn},
                }
            ],
        )
        detail = decision()

        # WHEN a decision is published
        publish(aws, detail)

        # THEN the webhook was tried three times (the call and two retries), then the event went to the DLQ
        [dead] = dead_letters.receive()
        assert len(failing.messages()) == 3
    attributes = {key: value["StringValue"] for key, value in dead["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == destination
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert (attributes["ERROR_CODE"], attributes["EXHAUSTED_RETRY_CONDITION"]) == ("HTTPError", "MaximumRetryAttempts")
    assert "answered 500" in attributes["ERROR_MESSAGE"]
    assert json.loads(dead["Body"])["detail"]["decision_id"] == detail.decision_id


# Target input: Input, InputPath, InputTransformer ------------------------------------------------------------


def test_constant_input_is_delivered_verbatim(aws: Emulator) -> None:
    # GIVEN a queue target with a constant Input
    queue = Queue(aws, unique("constant"))
    rule(aws, unique("constant"), [{"Id": "queue", "Arn": queue.arn, "Input": '{"wake": "up"}'}])

    # WHEN a decision is published
    publish(aws, decision())

    # THEN the queue receives the constant, not the event
    assert queue.bodies() == ['{"wake": "up"}']


def test_input_path_delivers_the_selected_value(aws: Emulator) -> None:
    # GIVEN a queue target whose InputPath selects the detail
    queue = Queue(aws, unique("input-path"))
    rule(aws, unique("input-path"), [{"Id": "queue", "Arn": queue.arn, "InputPath": "$.detail"}])
    detail = decision()

    # WHEN a decision is published
    publish(aws, detail)

    # THEN the queue receives the detail alone
    [body] = queue.bodies()
    assert json.loads(body) == detail.to_json()


@pytest.mark.parametrize(
    ("template", "read"),
    [('"<summary>"', json.loads), ("<summary>", str)],
    ids=["quoted-string: a JSON string", "plain text: the text"],
)
def test_text_template_delivers_the_value_whole(aws: Emulator, template: str, read: Callable[[str], Any]) -> None:
    # GIVEN a queue target transforming the decision with a template that is not JSON
    queue = Queue(aws, unique("text"))
    transformer = {"InputPathsMap": {"summary": "$.detail.summary"}, "InputTemplate": template}
    rule(aws, unique("text"), [{"Id": "queue", "Arn": queue.arn, "InputTransformer": transformer}])
    detail = decision()

    # WHEN a decision whose summary has newlines, quotes, a backslash and placeholders is published
    publish(aws, detail)

    # THEN the queue receives the summary: escaped inside the quotes, as is in plain text; nothing substituted in it
    [body] = queue.bodies()
    assert read(body) == detail.summary


def test_json_template_inserts_values_by_position(aws: Emulator) -> None:
    # GIVEN a JSON template with values inside strings, bare values, predefined variables and a missing path
    queue = Queue(aws, unique("json"))
    name = unique("json")
    transformer = {
        "InputPathsMap": {
            "verdict": "$.detail.verdict",
            "version": "$.detail.model_package_version",
            "reasons": "$.detail.reasons",
            "time": "$.time",
            "missing": "$.detail.no_such_member",
        },
        "InputTemplate": (
            '{"line": "<verdict> v<version> at <time>", "verdict": <verdict>, "version": <version>, '
            '"reasons": <reasons>, "rule": "<aws.events.rule-name>", "missing": "<missing>", '
            '"event": <aws.events.event.json>}'
        ),
    }
    rule(aws, name, [{"Id": "queue", "Arn": queue.arn, "InputTransformer": transformer}])
    detail = decision()

    # WHEN a decision is published
    publish(aws, detail)

    # THEN strings are quoted and escaped where they are bare, escaped inside strings; numbers and arrays stay JSON;
    # the rule's name and the whole event are there; a path matching nothing inserts nothing; the output is minified
    [body] = queue.bodies()
    delivered = json.loads(body)
    event_time = delivered["event"]["time"]
    assert delivered == {
        "line": f"Rejected v3 at {event_time}",
        "verdict": "Rejected",
        "version": 3,
        "reasons": detail.reasons,
        "rule": name,
        "missing": "",
        "event": delivered["event"],
    }
    assert delivered["event"]["detail"] == detail.to_json()
    assert datetime.strptime(event_time, "%Y-%m-%dT%H:%M:%SZ")  # ISO 8601, as EventBridge writes `time`
    assert body == json.dumps(delivered, separators=(",", ":"), ensure_ascii=False)  # minified
