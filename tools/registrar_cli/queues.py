"""The only module that calls SQS: the dead-letter redrive, and the polling the local runner does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from registrar import aws
from registrar.errors import RegistrarError

MAX_MESSAGES_PER_RECEIVE = 10
# A redrive long-polls: a short poll (WaitTimeSeconds=0) asks only a sample of SQS's servers, so it
# can come back empty while the queue still holds messages; a long poll asks them all. An empty long
# poll is the redrive's sign that the dead-letter queue is empty.
REDRIVE_WAIT_SECONDS = 1


class MessageNotDeletedError(Exception):
    """A redriven message was sent to the target queue but could not be deleted from the dead-letter queue.

    It is in both queues: a later redrive sends it again, a duplicate the idempotency store absorbs.
    ``__cause__`` is the AWS error of the delete.
    """


@dataclass
class Queue:
    """One SQS queue, by URL, with the calls registrar makes on it."""

    url: str
    client: Any

    @classmethod
    def named(cls, name_or_url: str, *, endpoint_url: str | None = None, region: str | None = None) -> Queue:
        """Resolve a queue name (or accept a URL) with the process-wide SQS client."""
        client = aws.client("sqs", endpoint_url, region)
        if name_or_url.startswith(("https://", "http://")):
            return cls(url=name_or_url, client=client)
        try:
            url = client.get_queue_url(QueueName=name_or_url)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            raise RegistrarError(f"no queue named {name_or_url!r}") from None
        return cls(url=url, client=client)

    def arn(self) -> str:
        """The queue's ARN: one spelling per queue, whatever URL or name it was given by."""
        try:
            attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        except self.client.exceptions.QueueDoesNotExist:
            raise RegistrarError(f"no queue at {self.url}") from None
        return str(attributes["Attributes"]["QueueArn"])

    def receive(self, *, max_messages: int = MAX_MESSAGES_PER_RECEIVE, wait_seconds: int = 0) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), MAX_MESSAGES_PER_RECEIVE):
            chunk = receipt_handles[start : start + MAX_MESSAGES_PER_RECEIVE]
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
            self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)

    def delete_one(self, receipt_handle: str) -> None:
        """Delete one received message; raises when SQS does not (a batch delete reports it and goes on)."""
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def release(self, receipt_handle: str, *, after_seconds: int = 0) -> None:
        """Make a received message visible again after ``after_seconds`` (a failed record's retry)."""
        self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=after_seconds
        )

    def send(self, body: str, attributes: dict[str, Any] | None = None) -> str:
        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if attributes:
            kwargs["MessageAttributes"] = attributes
        return str(self.client.send_message(**kwargs)["MessageId"])

    def depth(self) -> tuple[int, int]:
        """(visible, in flight) message counts."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def sources(self) -> list[str]:
        """The queues whose redrive policy sends failures here."""
        response = self.client.list_dead_letter_source_queues(QueueUrl=self.url)
        return list(response.get("queueUrls", []))


def redrive(
    dead_letter_queue: str, *, endpoint_url: str | None = None, region: str | None = None, source: str | None = None
) -> Iterator[dict[str, str]]:
    """Move every message of a dead-letter queue back to its source queue, one by one.

    The queues are resolved and checked at once, when this is called; the messages move as the
    returned iterator is consumed, each yielded once it is in the target queue and gone from the DLQ.

    Each message is sent to the target, then deleted from the DLQ, so none is lost: a failure or a
    crash between the two leaves it in both queues, and a later redrive sends it again — a duplicate,
    which the idempotency store absorbs (the event is answered once).

    Parameters
    ----------
    dead_letter_queue
        The DLQ's name or URL.
    endpoint_url
        Overrides ``AWS_ENDPOINT_URL``.
    region
        Overrides the environment's region.
    source
        The queue to move messages to (name or URL); by default the one queue whose redrive policy
        names the DLQ.

    Returns
    -------
    Iterator of dict
        One entry per moved message: its id in the DLQ, its new id, and the queues. It ends after a
        long poll of the DLQ finds nothing.

    Raises
    ------
    RegistrarError
        When a queue does not exist, the DLQ has no source queue or several and none was chosen, or
        the target is the DLQ itself (moving a queue onto itself would never end).
    MessageNotDeletedError
        While iterating, when a message was sent but could not be deleted from the DLQ.
    """
    dlq = Queue.named(dead_letter_queue, endpoint_url=endpoint_url, region=region)
    chosen = f"--to {source}" if source is not None else None
    if source is None:
        sources = dlq.sources()
        if len(sources) != 1:
            raise RegistrarError(
                f"{dead_letter_queue} is the dead-letter queue of {len(sources)} queues; name the source to move to"
            )
        source = sources[0]
        chosen = f"its source queue {source}"
    target = Queue.named(source, endpoint_url=endpoint_url, region=region)
    # By ARN: a name and a URL (or two URLs of one queue) name the same queue in different words.
    if dlq.arn() == target.arn():
        raise RegistrarError(
            f"cannot redrive {dead_letter_queue} onto itself ({chosen} is the same queue): name another queue with --to"
        )
    return _move(dlq, target)


def _move(dlq: Queue, target: Queue) -> Iterator[dict[str, str]]:
    while messages := dlq.receive(wait_seconds=REDRIVE_WAIT_SECONDS):
        for message in messages:
            # Send first, then delete: never a moment when the message is in neither queue.
            new_id = target.send(message["Body"], message.get("MessageAttributes"))
            try:
                dlq.delete_one(message["ReceiptHandle"])
            except (ClientError, BotoCoreError) as error:
                raise MessageNotDeletedError(
                    f"message {message['MessageId']} was sent to {target.url} (as {new_id}) but is still in "
                    f"{dlq.url}: {error}"
                ) from error
            yield {"message_id": message["MessageId"], "new_message_id": new_id, "from": dlq.url, "to": target.url}
