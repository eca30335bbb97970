"""The only module that calls SQS: the dead-letter redrive, and the polling the local runner does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registrar import aws
from registrar.errors import RegistrarError

MAX_MESSAGES_PER_RECEIVE = 10


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
) -> list[dict[str, str]]:
    """Move every message of a dead-letter queue back to its source queue.

    Parameters
    ----------
    dead_letter_queue
        The DLQ's name or URL.
    source
        The queue to move messages to; by default the one queue whose redrive policy names the DLQ.

    Returns
    -------
    list of dict
        One entry per moved message: its id in the DLQ, its new id, and the queues.

    Raises
    ------
    RegistrarError
        When the DLQ has no source queue, or several and none was chosen.
    """
    dlq = Queue.named(dead_letter_queue, endpoint_url=endpoint_url, region=region)
    if source is None:
        sources = dlq.sources()
        if len(sources) != 1:
            raise RegistrarError(
                f"{dead_letter_queue} is the dead-letter queue of {len(sources)} queues; name the source to move to"
            )
        source = sources[0]
    target = Queue.named(source, endpoint_url=endpoint_url, region=region)
    moved: list[dict[str, str]] = []
    while messages := dlq.receive(wait_seconds=0):
        for message in messages:
            new_id = target.send(message["Body"], message.get("MessageAttributes"))
            dlq.delete([message["ReceiptHandle"]])
            moved.append(
                {"message_id": message["MessageId"], "new_message_id": new_id, "from": dlq.url, "to": target.url}
            )
    return moved
