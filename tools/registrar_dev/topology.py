"""Build the deployed event flow on the emulator: the same rule patterns, queues with DLQs, table and policy.

The CDK app (``infra/``) builds the same shape in AWS from the same ``registrar.patterns``.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field
from typing import Any

from registrar import aws
from registrar.errors import ConfigurationError
from registrar.patterns import FLOWS, for_account
from registrar_dev.runner import DEFAULT_TIMEOUT_SECONDS
from registrar_dev.support import ACCOUNT, emulator_client

MAX_RECEIVE_COUNT = 3  # the deployed queues use 5; the local demo gives up sooner to stay short
IDEMPOTENCY_TABLE = "registrar-local"
POLICY_PARAMETER = "/registrar/approval-policy"
STANDARD_PARAMETER_BYTES = 4096  # an SSM standard parameter's limit; the stack switches to advanced above it


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
    function_timeout: int = DEFAULT_TIMEOUT_SECONDS
    policy_parameter: str | None = None

    def all_queue_urls(self) -> dict[str, str]:
        urls: dict[str, str] = {}
        for flow in self.flows.values():
            urls[f"{flow.name}"] = flow.queue_url
            urls[f"{flow.name}-dlq"] = flow.dead_letter_url
            urls[f"{flow.name}-rule-dlq"] = flow.rule_dead_letter_url
        return urls


def build_topology(
    *,
    endpoint_url: str,
    region: str = "us-east-1",
    visibility_timeout: int = 5,
    function_timeout: int = DEFAULT_TIMEOUT_SECONDS,
    policy_file: str | pathlib.Path | None = None,
    account: str = ACCOUNT,
) -> Topology:
    """Create, on the emulator at ``endpoint_url``, every rule, queue, DLQ and the idempotency table.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    visibility_timeout
        Seconds a received message stays hidden: how soon a failed record is retried.
    function_timeout
        The functions' timeout, for the event source mappings (``Topology.function_timeout``); the
        visibility timeout may not be shorter (the stack makes it six times as long).
    account
        The account the stack is deployed in: the rules' patterns accept its events alone.
    policy_file
        When given, the approval policy is stored as the stack stores it: the file, validated, as the
        compact JSON of :func:`registrar.approval.policy.deployable_json`, in the SSM parameter
        ``Topology.policy_parameter`` (set ``REGISTRAR_POLICY_PARAMETER`` to it).

    Raises
    ------
    ConfigurationError
        The visibility timeout is shorter than the function timeout; nothing was created.
    PolicyError
        The policy file is invalid; nothing was created.
    """
    if visibility_timeout < function_timeout:
        raise ConfigurationError(
            f"visibility timeout {visibility_timeout} s is shorter than the function timeout {function_timeout} s: "
            "a failed or slow record would come back while its invocation still runs; the stack sets the "
            "visibility timeout to 6 x the function timeout"
        )
    policy_text = None
    if policy_file is not None:
        from registrar.approval.policy import deployable_json

        policy_text = deployable_json(policy_file)
    sqs = aws.client("sqs", endpoint_url, region)
    events = aws.client("events", endpoint_url, region)
    dynamodb = aws.client("dynamodb", endpoint_url, region)
    topology = Topology(function_timeout=function_timeout)
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
            # As deployed: only events of the stack's own account reach a flow.
            deployed = for_account(pattern, account)
            events.put_rule(Name=rule_name, EventPattern=json.dumps(deployed), State="ENABLED")
            # As deployed; but the emulator (moto) ignores a target's RetryPolicy and DeadLetterConfig, so nothing
            # ever reaches the rule DLQ locally: an empty rule DLQ here proves nothing.
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
    if policy_text is not None:
        tier = "Standard" if len(policy_text.encode("utf-8")) <= STANDARD_PARAMETER_BYTES else "Advanced"
        # What the stack deploys, not what the function does: registrar's own clients cannot write parameters.
        ssm = emulator_client("ssm", endpoint_url, region=region)
        ssm.put_parameter(Name=POLICY_PARAMETER, Value=policy_text, Type="String", Tier=tier, Overwrite=True)
        topology.policy_parameter = POLICY_PARAMETER
    return topology


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> dict[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn}
