"""EventBridge rules → one SQS queue with a dead-letter queue → a function: how an event reaches a handler."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from registrar.patterns import for_registry

BATCH_SIZE = 10
MAX_RECEIVE_COUNT = 5
# Long enough to outlast a weekend nobody looks at the alarms.
RETENTION = cdk.Duration.days(4)
# SQS keeps a message's first enqueue time when it moves it to a dead-letter queue, so the DLQ must keep
# messages longer than the source queue does; 14 days is the most SQS allows.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)
# Lambda's guidance for SQS event sources: visibility timeout at least six times the function timeout.
VISIBILITY_FACTOR = 6
# EventBridge's own maxima; spelled out so the template documents them.
TARGET_RETRY_ATTEMPTS = 185
TARGET_MAX_EVENT_AGE = cdk.Duration.hours(24)

_PATTERN_KEYS = {"account": "account", "source": "source", "detail-type": "detail_type", "detail": "detail"}
_TARGET_DLQ_REASON = (
    "This queue is the dead-letter queue of an EventBridge rule target; a dead-letter queue for a dead-letter "
    "queue adds nothing, and an alarm fires on its first message"
)


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """A pattern from ``registrar.patterns`` as CDK's EventPattern; it synthesizes to the same dict.

    Raises
    ------
    ValueError
        For a top-level key this conversion does not carry over (the template would silently differ).
    """
    unknown = set(pattern) - set(_PATTERN_KEYS)
    if unknown:
        raise ValueError(f"event pattern keys {sorted(unknown)} are not supported; use {sorted(_PATTERN_KEYS)}")
    return events.EventPattern(**{_PATTERN_KEYS[key]: copy.deepcopy(value) for key, value in pattern.items()})


def encrypted_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    """An SQS queue with SQS-managed encryption that refuses requests without TLS."""
    return sqs.Queue(scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **props)


def target_dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """The dead-letter queue of one EventBridge rule target."""
    queue = encrypted_queue(scope, construct_id, retention_period=DEAD_LETTER_RETENTION)
    nag.acknowledge(queue, "SQS3", _TARGET_DLQ_REASON)
    return queue


def rule_id(pattern: Mapping[str, Any]) -> str:
    """A construct id from a pattern's detail-type: ``Compilation Job State Change`` → ``CompilationJobStateChange``."""
    detail_types = pattern.get("detail-type") or ["Any"]
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", str(detail_types[0])) if word)


class RoutedQueue(Construct):
    """Rules on the default event bus that feed one queue, which feeds one function in batches.

    Each rule matches only events of the stack's account (:func:`registrar.patterns.for_registry`): the
    default bus also receives what other accounts deliver to it, and none of that may reach a flow,
    except the forwarded events (:data:`registrar.patterns.FORWARDED`) of the workload accounts the
    configuration lists. Each rule target has its own dead-letter queue (events EventBridge could not deliver); the
    queue has another (messages the function failed ``MAX_RECEIVE_COUNT`` times). The function
    reports partial batch failures, so one bad message does not send its whole batch back.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    flow
        The flow's name (``approval``, ``neo``), used in descriptions.
    patterns
        The rules' event patterns, from ``registrar.patterns.FLOWS`` (without an account: the rules add the
        stack's).
    consumer
        The function that handles the queue's messages.
    timeout
        The consumer's timeout, which sets the queue's visibility timeout.
    max_concurrency
        The most concurrent invocations the event source mapping starts.
    workloads
        With several accounts, the workload accounts whose forwarded events the rules also match.

    Attributes
    ----------
    queue, dead_letter_queue
        The flow's queue and its dead-letter queue.
    visibility_timeout
        The queue's visibility timeout: the longest one receive of a message may take before SQS hands
        the message out again.
    mapping
        The event source mapping from the queue to ``consumer``.
    rules
        The EventBridge rules, in the order of ``patterns``.
    target_dead_letter_queues
        Each rule target's dead-letter queue, in the order of ``patterns``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        flow: str,
        patterns: Sequence[Mapping[str, Any]],
        consumer: lambda_.Function,
        timeout: cdk.Duration,
        max_concurrency: int,
        workloads: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        self.visibility_timeout = cdk.Duration.seconds(timeout.to_seconds() * VISIBILITY_FACTOR)
        self.dead_letter_queue = encrypted_queue(self, "DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION)
        self.queue = encrypted_queue(
            self,
            "Queue",
            retention_period=RETENTION,
            visibility_timeout=self.visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue),
        )
        self.rules: list[events.Rule] = []
        self.target_dead_letter_queues: list[sqs.Queue] = []
        for pattern in patterns:
            name = rule_id(pattern)
            dead_letters = target_dead_letter_queue(self, f"{name}DeadLetterQueue")
            rule = events.Rule(
                self,
                name,
                description=f"registrar {flow} flow: {', '.join(pattern.get('detail-type', []))}",
                event_pattern=event_pattern(for_registry(pattern, account, workloads)),
                targets=[
                    targets.SqsQueue(
                        self.queue,
                        dead_letter_queue=dead_letters,
                        retry_attempts=TARGET_RETRY_ATTEMPTS,
                        max_event_age=TARGET_MAX_EVENT_AGE,
                    )
                ],
            )
            self.rules.append(rule)
            self.target_dead_letter_queues.append(dead_letters)
        source = sources.SqsEventSource(
            self.queue,
            batch_size=BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
        )
        consumer.add_event_source(source)
        # The source creates the mapping under the function; found again by its id so callers can order it after
        # grants the function itself cannot wait for (infra.permissions.use_idempotency_records).
        [self.mapping] = [
            child
            for child in consumer.node.children
            if isinstance(child, lambda_.EventSourceMapping)
            and child.event_source_mapping_id == source.event_source_mapping_id
        ]
