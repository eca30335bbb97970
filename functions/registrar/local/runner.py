"""A local event source mapping: polls a queue and calls a Lambda handler as AWS would.

It builds the SQS event Lambda receives, passes a Lambda context, deletes the records the handler
did not report in ``batchItemFailures``, and leaves the others to come back after the visibility
timeout, so the queue's redrive policy moves a record that keeps failing to its DLQ.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from registrar.local.support import sqs_record
from registrar.queues import Queue

Handler = Callable[[dict[str, Any], Any], Any]


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
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

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
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalEventSourceMapping:
    """Polls ``queue`` and invokes ``handler`` with batches of up to ``batch_size`` records."""

    queue: Queue
    queue_arn: str
    handler: Handler
    function_name: str
    batch_size: int = 10
    region: str = "us-east-1"
    invocations: int = 0
    failed_records: int = 0

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and invoke the handler with it; returns how many records it carried."""
        messages = self.queue.receive(max_messages=self.batch_size, wait_seconds=wait_seconds)
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        context = LocalLambdaContext(function_name=self.function_name, region=self.region)
        self.invocations += 1
        try:
            response = self.handler(event, context) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:
            # An unhandled error fails the whole batch, as in Lambda: every record comes back.
            failed = {message["MessageId"] for message in messages}
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
