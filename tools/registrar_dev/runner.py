"""A local event source mapping: polls a queue and calls a Lambda handler as AWS would.

It builds the SQS event Lambda receives, passes a Lambda context with the function's timeout, reads
the handler's partial batch response as Lambda does (``ReportBatchItemFailures``), deletes the records
that succeeded and leaves the others to come back after the visibility timeout, so the queue's redrive
policy moves a record that keeps failing to its DLQ. An invocation that outlives its timeout fails
its whole batch, as in Lambda; the handler runs to its end in this process, and is judged afterwards.

The invocation's time is counted from before the receive, when the queue's visibility timeout starts too:
with a visibility timeout at least as long as the function timeout, a record never comes back while its
invocation is within its timeout, and an in-progress record Powertools holds for the remaining time has
expired by then. Time is read from ``clock`` (``time.monotonic``); tests of the deadline pass a clock they
move themselves, so no outcome depends on how fast the machine is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from registrar.errors import ConfigurationError
from registrar_cli.queues import Queue
from registrar_dev.support import sqs_record

if TYPE_CHECKING:
    from registrar_dev.topology import Topology

Handler = Callable[[dict[str, Any], Any], Any]

# Each flow of registrar.patterns.FLOWS -> the module of the function the stack deploys for it.
FLOW_HANDLERS: dict[str, str] = {
    "approval": "handlers.approval",
    "neo": "handlers.neo_registration",
    "deployment": "handlers.deployment",
}

# The local stand-in for the deployed 60 s: no longer than build_topology's default visibility timeout.
DEFAULT_TIMEOUT_SECONDS = 5


@dataclass
class LocalLambdaContext:
    """The members of the Lambda context object Powertools reads."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    started: float | None = field(default=None, repr=False)  # on ``clock``; by default, when the context is made
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        started = self.clock() if self.started is None else self.started
        self._deadline = started + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self.clock()) * 1000))

    def expired(self) -> bool:
        """Whether the invocation's timeout has passed (Lambda would have stopped it)."""
        return self.clock() > self._deadline


@dataclass
class LocalEventSourceMapping:
    """Polls ``queue`` and invokes ``handler`` with batches of up to ``batch_size`` records.

    ``timeout_seconds`` is the function's timeout: the context's, and the limit past which an
    invocation fails its batch. The queue's visibility timeout must be at least that long (AWS sets it
    to six times the function timeout), or a record would come back while its invocation is still
    running and Powertools' in-progress record still holds it; construction refuses such a queue.

    Raises
    ------
    ConfigurationError
        The queue's visibility timeout is shorter than ``timeout_seconds``.
    """

    queue: Queue
    queue_arn: str
    handler: Handler
    function_name: str
    batch_size: int = 10
    region: str = "us-east-1"
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    invocations: int = 0
    failed_records: int = 0
    timed_out: int = 0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.timeout_seconds < 1:
            raise ConfigurationError(f"{self.function_name}: timeout_seconds must be at least 1 (a Lambda timeout)")
        attributes = self.queue.client.get_queue_attributes(
            QueueUrl=self.queue.url, AttributeNames=["VisibilityTimeout"]
        )
        visibility = int(attributes["Attributes"]["VisibilityTimeout"])
        if visibility < self.timeout_seconds:
            raise ConfigurationError(
                f"{self.function_name}: the visibility timeout of {self.queue.url} ({visibility} s) is shorter than "
                f"the function timeout ({self.timeout_seconds} s): a record would come back while its invocation "
                f"still runs; give timeout_seconds <= {visibility} or the queue a longer visibility timeout"
            )

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and invoke the handler with it; returns how many records it carried."""
        # The records' visibility timeout starts during the receive: the invocation's time counts from before it
        # (after a long poll, from its answer: it may wait up to ``wait_seconds`` for the first message).
        before = self.clock()
        messages = self.queue.receive(max_messages=self.batch_size, wait_seconds=wait_seconds)
        received = self.clock() if wait_seconds else before
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        message_ids = [message["MessageId"] for message in messages]
        context = LocalLambdaContext(
            function_name=self.function_name,
            timeout_seconds=self.timeout_seconds,
            region=self.region,
            clock=self.clock,
            started=received,
        )
        self.invocations += 1
        try:
            response = self.handler(event, context)
        except Exception:
            # An unhandled error fails the whole batch, as in Lambda: every record comes back.
            failed = set(message_ids)
        else:
            failed = failed_message_ids(response, message_ids)
        if context.expired():
            # Lambda would have stopped the invocation at its timeout and failed it: the whole batch comes back.
            self.timed_out += 1
            failed = set(message_ids)
        self.failed_records += len(failed)
        done = [message["ReceiptHandle"] for message in messages if message["MessageId"] not in failed]
        if done:
            self.queue.delete(done)
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_record(
            message["Body"],
            queue_arn=self.queue_arn,
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            attributes=message.get("Attributes", {}),
            region=self.region,
        )


def failed_message_ids(response: Any, message_ids: list[str]) -> set[str]:
    """The records Lambda returns to the queue for a handler's ``response`` (``ReportBatchItemFailures`` on).

    Delivery is at least once (docs/sagemaker.md#sqs-to-lambda, after the Lambda developer guide's "Handling errors
    for an SQS event source in Lambda", "Success and failure conditions"): a null or empty response, and a null,
    missing or empty ``batchItemFailures`` list, are a complete success; an invalid response (here: not a JSON
    object) and an entry whose ``itemIdentifier`` is empty, null, under another key name, or not the message id
    of a record of the batch, are a complete failure: every record comes back. Otherwise exactly the
    records named come back.
    """
    everything = set(message_ids)
    if response is None:
        return set()
    if not isinstance(response, dict):
        return everything
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything
        failed.add(identifier)
    return failed


def flow_handler(flow: str) -> Handler:
    """The Lambda handler of one flow's function (:data:`FLOW_HANDLERS`), imported on first use."""
    import importlib

    return cast(Handler, importlib.import_module(FLOW_HANDLERS[flow]).handler)


def flow_mappings(topology: Topology, sqs: Any, *, region: str = "us-east-1") -> dict[str, LocalEventSourceMapping]:
    """One local event source mapping per flow of ``topology``: its queue, polled into its flow's handler.

    Parameters
    ----------
    topology
        What :func:`registrar_dev.topology.build_topology` made (its queues follow ``registrar.patterns.FLOWS``).
    sqs
        A botocore SQS client of the emulator.
    region
        The functions' region.
    """
    return {
        name: LocalEventSourceMapping(
            queue=Queue(url=flow.queue_url, client=sqs),
            queue_arn=flow.queue_arn,
            handler=flow_handler(name),
            function_name=f"registrar-{name}",
            region=region,
            timeout_seconds=topology.function_timeout,
        )
        for name, flow in topology.flows.items()
    }


# The approver e-mails' function (infra/approver_mail.py): not a flow of registrar.patterns.FLOWS, its rule is built
# from cdk.json's approvers_notified_of (registrar_dev.topology.build_decision_page).
APPROVER_MAIL_HANDLER = "handlers.approver_mail"


def approver_mail_mapping(
    queue_url: str,
    queue_arn: str,
    sqs: Any,
    *,
    region: str = "us-east-1",
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
) -> LocalEventSourceMapping:
    """The local event source mapping of the approver e-mails: the mail queue polled into ``handlers.approver_mail``.

    The handler reads its settings from ``REGISTRAR_*`` variables on its first invocation
    (:meth:`registrar_dev.topology.DecisionPageTopology.environment`): set them before the first poll.
    """
    import importlib

    return LocalEventSourceMapping(
        queue=Queue(url=queue_url, client=sqs),
        queue_arn=queue_arn,
        handler=cast(Handler, importlib.import_module(APPROVER_MAIL_HANDLER).handler),
        function_name="registrar-approver-mail",
        region=region,
        timeout_seconds=timeout_seconds,
    )


# Consecutive looks, ``pause`` apart, that must find every queue empty and nothing received: moto counts a message whose
# visibility timeout ends between the two counts of one look in neither.
QUIET_LOOKS = 3


def run_until_quiet(
    mappings: Mapping[str, LocalEventSourceMapping], *, timeout: float = 30.0, pause: float = 0.2
) -> int:
    """Poll ``mappings`` as Lambda would until their queues hold nothing, visible or in flight; returns the records.

    A record that keeps failing comes back after each visibility timeout until its queue's redrive policy moves
    it to the dead-letter queue: the queues are quiet only once every such record has gone there.

    Raises
    ------
    TimeoutError
        A queue still held messages after ``timeout`` seconds; the message says how many, per mapping.
    """
    started = time.monotonic()
    handled = 0
    quiet = 0
    while quiet < QUIET_LOOKS:
        busy = sum(mapping.poll_once() for mapping in mappings.values())
        handled += busy
        pending = {name: sum(mapping.queue.depth()) for name, mapping in mappings.items()}
        quiet = quiet + 1 if busy == 0 and not any(pending.values()) else 0
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"queues not quiet after {timeout:.0f} s: messages left per mapping {pending}")
        if busy == 0:
            time.sleep(pause)
    return handled
