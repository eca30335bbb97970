"""The local event source mapping treats a handler's answer, and its timeout, as Lambda's SQS event source does.

Lambda's rules for a partial batch response (``ReportBatchItemFailures``), from the Lambda developer guide's
"Success and failure conditions": a null or empty response, or a null, missing or empty ``batchItemFailures``,
is a complete success; an entry whose ``itemIdentifier`` is empty, null, under another key or not a message id
of the batch is a complete failure. An invocation that outlives the function's timeout fails, and so does its
whole batch. Each test polls a real emulator queue once and looks at what was deleted and what will come back.
Time is the test's own (:class:`Clock`): a handler "takes" seconds by moving it, so no outcome depends on how
fast the machine is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from registrar.errors import ConfigurationError
from registrar_cli.queues import Queue
from registrar_dev.emulator import Emulator
from registrar_dev.runner import LocalEventSourceMapping

BODIES = ("a", "b", "c")


class Clock:
    """The runner's clock in these tests: it stands still unless a handler moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A handler answering ``answer(message ids by body)``; remembers each event's records and context.

    ``takes`` seconds pass on ``clock`` while it runs; ``remaining`` keeps what the context said was left then.
    """

    def __init__(
        self, answer: Callable[[dict[str, str]], Any], *, takes: float = 0.0, clock: Clock | None = None
    ) -> None:
        self.answer = answer
        self.takes = takes
        self.clock = clock or Clock()
        self.records: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.remaining: list[int] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.records.extend(event["Records"])
        self.contexts.append(context)
        self.remaining.append(context.get_remaining_time_in_millis())
        self.clock.now += self.takes
        return self.answer({record["body"]: record["messageId"] for record in event["Records"]})

    def receipt(self, body: str) -> str:
        return next(str(record["receiptHandle"]) for record in self.records if record["body"] == body)


def _queue(aws: Emulator, *, visibility: int = 30) -> Queue:
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    url = sqs.create_queue(QueueName="registrar-runner", Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
    return Queue(url=url, client=sqs)


def _poll(aws: Emulator, handler: Recorder, *, timeout_seconds: int = 5) -> tuple[Queue, LocalEventSourceMapping]:
    """Send the three bodies, then let a mapping receive them as one batch and hand them to ``handler``."""
    queue = _queue(aws)
    for body in BODIES:
        queue.send(body)
    mapping = LocalEventSourceMapping(
        queue=queue,
        queue_arn="arn:aws:sqs:us-east-1:123456789012:registrar-runner",
        handler=handler,
        function_name="registrar-runner",
        timeout_seconds=timeout_seconds,
        clock=handler.clock,
    )
    assert mapping.poll_once() == len(BODIES)
    return queue, mapping


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}, {"statusCode": 200}],
    ids=["null response", "empty response", "null list", "empty list", "no list"],
)
def test_a_response_reporting_no_failure_deletes_the_whole_batch(aws: Emulator, response: Any) -> None:
    # GIVEN three messages WHEN the handler answers without naming a failure
    queue, mapping = _poll(aws, Recorder(lambda ids: response))
    # THEN Lambda counts a complete success: every record is deleted
    assert queue.depth() == (0, 0)
    assert mapping.failed_records == 0


def test_only_the_records_named_by_their_message_id_come_back(aws: Emulator) -> None:
    # GIVEN three messages WHEN the handler reports the second one failed
    handler = Recorder(lambda ids: {"batchItemFailures": [{"itemIdentifier": ids["b"]}]})
    queue, mapping = _poll(aws, handler)
    # THEN the two others are deleted and that one alone stays in flight, to come back after the visibility timeout
    assert queue.depth() == (0, 1)
    queue.release(handler.receipt("b"))
    assert [message["Body"] for message in queue.receive()] == ["b"]
    assert mapping.failed_records == 1


@pytest.mark.parametrize(
    "failures",
    [
        lambda ids: [{"itemIdentifier": ""}],
        lambda ids: [{"itemIdentifier": None}],
        lambda ids: [{"itemIdentifier": "not-a-message-of-this-batch"}],
        lambda ids: [{"itemIdentifier": ids["b"]}, {"itemIdentifier": "not-a-message-of-this-batch"}],
        lambda ids: [{"messageId": ids["b"]}],
        lambda ids: [ids["b"]],
        lambda ids: ids["b"],
    ],
    ids=["empty", "null", "unknown id", "one valid one unknown", "bad key name", "bare id", "not a list"],
)
def test_a_malformed_failure_entry_fails_the_whole_batch(
    aws: Emulator, failures: Callable[[dict[str, str]], Any]
) -> None:
    # GIVEN three messages WHEN the handler's batchItemFailures names no record of the batch properly
    queue, mapping = _poll(aws, Recorder(lambda ids: {"batchItemFailures": failures(ids)}))
    # THEN Lambda counts a complete failure: nothing is deleted, every record comes back
    assert queue.depth() == (0, 3)
    assert mapping.failed_records == 3


@pytest.mark.parametrize("response", [["b"], "ok"], ids=["a list", "a string"])
def test_a_response_that_is_not_an_object_fails_the_whole_batch(aws: Emulator, response: Any) -> None:
    queue, _ = _poll(aws, Recorder(lambda ids: response))
    assert queue.depth() == (0, 3)


def test_an_unhandled_error_fails_the_whole_batch(aws: Emulator) -> None:
    def fail(ids: dict[str, str]) -> Any:
        raise RuntimeError("the function broke")

    queue, _ = _poll(aws, Recorder(fail))
    assert queue.depth() == (0, 3)


def test_an_invocation_that_outlives_its_timeout_fails_the_whole_batch(aws: Emulator) -> None:
    # GIVEN a function timeout of 1 s WHEN the handler takes longer, then reports every record handled
    queue, mapping = _poll(aws, Recorder(lambda ids: {"batchItemFailures": []}, takes=1.001), timeout_seconds=1)
    # THEN the invocation counts as failed, as Lambda would have stopped it: every record comes back
    assert queue.depth() == (0, 3)
    assert (mapping.timed_out, mapping.failed_records) == (1, 3)


def test_an_invocation_within_its_timeout_is_judged_by_its_answer(aws: Emulator) -> None:
    queue, mapping = _poll(aws, Recorder(lambda ids: {"batchItemFailures": []}, takes=1.0), timeout_seconds=1)
    assert queue.depth() == (0, 0)
    assert mapping.timed_out == 0


def test_the_handler_is_given_the_function_timeout_in_its_context(aws: Emulator) -> None:
    # GIVEN a mapping for a function whose timeout is 2 s WHEN it invokes the handler
    handler = Recorder(lambda ids: None)
    _poll(aws, handler, timeout_seconds=2)
    # THEN the context says so, and the remaining time Powertools' in-progress records last is that
    (context,) = handler.contexts
    assert context.timeout_seconds == 2
    assert handler.remaining == [2000]


def test_the_invocations_time_counts_from_the_receive(aws: Emulator) -> None:
    # GIVEN a receive that takes 0.5 s: the records' visibility timeout starts during it
    handler = Recorder(lambda ids: None)
    queue = _queue(aws)
    queue.send("a")
    receive = queue.receive

    def slow_receive(**kwargs: Any) -> list[dict[str, Any]]:
        handler.clock.now += 0.5
        return receive(**kwargs)

    queue.receive = slow_receive  # type: ignore[method-assign]
    mapping = LocalEventSourceMapping(
        queue=queue, queue_arn="arn", handler=handler, function_name="f", timeout_seconds=2, clock=handler.clock
    )
    # WHEN the mapping invokes the handler
    mapping.poll_once()
    # THEN the function's time started before the receive: no record comes back while its invocation is in time
    assert handler.remaining == [1500]


def test_a_queue_whose_visibility_timeout_is_shorter_than_the_function_timeout_is_refused(aws: Emulator) -> None:
    # GIVEN a queue whose records come back after 1 s
    queue = _queue(aws, visibility=1)
    # WHEN a mapping for a function with a 2 s timeout is made for it THEN it is refused, saying why
    with pytest.raises(ConfigurationError, match=r"visibility timeout .*\(1 s\) is shorter than the function timeout"):
        LocalEventSourceMapping(
            queue=queue, queue_arn="arn", handler=Recorder(lambda ids: None), function_name="f", timeout_seconds=2
        )


def test_a_visibility_timeout_as_long_as_the_function_timeout_is_accepted(aws: Emulator) -> None:
    queue = _queue(aws, visibility=2)
    mapping = LocalEventSourceMapping(
        queue=queue, queue_arn="arn", handler=Recorder(lambda ids: None), function_name="f", timeout_seconds=2
    )
    assert mapping.timeout_seconds == 2
