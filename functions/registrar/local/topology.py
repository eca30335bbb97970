"""Build the deployed event flow on the emulator: the same rule patterns, queues with DLQs, and table.

The CDK app (``infra/``) builds the same shape in AWS from the same ``registrar.patterns``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from registrar import aws
from registrar.patterns import FLOWS

MAX_RECEIVE_COUNT = 3  # the deployed queues use 5; the local demo gives up sooner to stay short
IDEMPOTENCY_TABLE = "registrar-local"


@dataclass(frozen=True)
class FlowQueues:
    """A flow's queue and dead-letter queues (its own, and its rules' target DLQ)."""

    name: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    rule_dead_letter_url: str
    rules: tuple[str, ...]


@dataclass
class Topology:
    """The local copy of the deployed resources."""

    flows: dict[str, FlowQueues] = field(default_factory=dict)
    table_name: str = IDEMPOTENCY_TABLE
    event_bus_name: str = "default"

    def all_queue_urls(self) -> dict[str, str]:
        urls: dict[str, str] = {}
        for flow in self.flows.values():
            urls[f"{flow.name}"] = flow.queue_url
            urls[f"{flow.name}-dlq"] = flow.dead_letter_url
            urls[f"{flow.name}-rule-dlq"] = flow.rule_dead_letter_url
        return urls


def build_topology(*, endpoint_url: str, region: str = "us-east-1", visibility_timeout: int = 5) -> Topology:
    """Create, on the emulator at ``endpoint_url``, every rule, queue, DLQ and the idempotency table.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    visibility_timeout
        Seconds a received message stays hidden: how soon a failed record is retried.
    """
    sqs = aws.client("sqs", endpoint_url, region)
    events = aws.client("events", endpoint_url, region)
    dynamodb = aws.client("dynamodb", endpoint_url, region)
    topology = Topology()
    for flow, patterns in FLOWS.items():
        dead_letter = _queue(sqs, f"registrar-{flow}-dlq", {"MessageRetentionPeriod": "1209600"})
        rule_dead_letter = _queue(sqs, f"registrar-{flow}-rule-dlq", {"MessageRetentionPeriod": "1209600"})
        queue = _queue(
            sqs,
            f"registrar-{flow}",
            {
                "VisibilityTimeout": str(visibility_timeout),
                "MessageRetentionPeriod": "345600",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dead_letter["arn"], "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )
        rule_names = []
        for index, pattern in enumerate(patterns):
            rule_name = f"registrar-{flow}-{index}"
            events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(
                Rule=rule_name,
                Targets=[
                    {
                        "Id": "queue",
                        "Arn": queue["arn"],
                        "DeadLetterConfig": {"Arn": rule_dead_letter["arn"]},
                        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                    }
                ],
            )
            rule_names.append(rule_name)
        topology.flows[flow] = FlowQueues(
            name=flow,
            queue_url=queue["url"],
            queue_arn=queue["arn"],
            dead_letter_url=dead_letter["url"],
            rule_dead_letter_url=rule_dead_letter["url"],
            rules=tuple(rule_names),
        )
    dynamodb.create_table(
        TableName=topology.table_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return topology


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> dict[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn}
