"""The only module that sends e-mail: SES (API v2) ``SendEmail``, and the ledger that keeps each e-mail to one send.

Why SES v2: it is the current SES API (``sesv2``), its ``SendEmail`` takes a plain-text ``Simple`` message as one
JSON request, and moto serves it (it records the message in the same backend as SES v1, where the emulator reads
what was sent). IAM authorizes it as ``ses:SendEmail`` on the sender's identity, like v1's.

Each e-mail is sent at most once per (decision, recipient) in the normal course: :class:`MailLedger` claims the
item ``mail#<decision_id>#<recipient>`` in the shared table with a conditional PutItem before sending, and marks
it sent after. A redelivery of the same decision finds it and sends nothing. A claim whose sender died between
SES and the mark expires after its lease and is taken over: that e-mail may then arrive twice (at least once,
never lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from registrar import aws

if TYPE_CHECKING:
    from botocore.client import BaseClient

ID_PREFIX = "mail#"
KEY_ATTRIBUTE = "id"
EXPIRATION_ATTRIBUTE = "expiration"
SENDING, SENT = "sending", "sent"
# Past SQS's longest retention: the record outlives every redelivery of the decision.
RETENTION = timedelta(days=14)
CHARSET = "UTF-8"


@dataclass(frozen=True)
class Email:
    """One plain-text e-mail to one recipient.

    Attributes
    ----------
    to
        The recipient's address.
    subject, text
        The subject line and the body (plain text, no markup).
    """

    to: str
    subject: str
    text: str = field(repr=False)


class Mailer(Protocol):
    """What sends an e-mail (:class:`SesMailer`, or a fake): returns the provider's message id."""

    def send(self, email: Email) -> str: ...


class SesMailer:
    """E-mail through SES v2 ``SendEmail``, from one verified identity.

    Parameters
    ----------
    from_address
        The ``From`` address: a verified address, or an address of a verified domain.
    client
        A botocore ``sesv2`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    """

    def __init__(
        self,
        from_address: str,
        client: BaseClient | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        self.from_address = from_address
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("sesv2", self._endpoint_url, self._region)
        return self._client

    def send(self, email: Email) -> str:
        """Send ``email``; return SES's ``MessageId``.

        Raises
        ------
        botocore.exceptions.ClientError
            SES refused it (``MessageRejected``: an unverified identity, or in the sandbox an unverified
            recipient; ``AccessDeniedException``; throttling past the client's retries).
        """
        response = self.client.send_email(
            FromEmailAddress=self.from_address,
            Destination={"ToAddresses": [email.to]},
            Content={
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": CHARSET},
                    "Body": {"Text": {"Data": email.text, "Charset": CHARSET}},
                }
            },
        )
        return str(response["MessageId"])


def mail_id(decision_id: str, recipient: str) -> str:
    """The ledger item of one decision's e-mail to one recipient: ``mail#<decision_id>#<recipient>``.

    The recipient is lower-cased: an address's domain is case-insensitive, and SES delivers to the same mailbox.
    """
    return f"{ID_PREFIX}{decision_id}#{recipient.strip().lower()}"


class SentMail(Protocol):
    """Which e-mails were sent (:class:`MailLedger`, :class:`MemoryMailLedger`)."""

    def claim(self, decision_id: str, recipient: str, *, now: datetime, lease: timedelta) -> bool:
        """Take the e-mail to send it; ``False`` when it was sent, or another sender holds an unexpired claim."""
        ...

    def sent(self, decision_id: str, recipient: str, message_id: str, *, now: datetime) -> None:
        """Mark the e-mail sent, with its message id."""
        ...

    def release(self, decision_id: str, recipient: str) -> None:
        """Give the claim up (the send failed): the next delivery of the decision sends it."""
        ...


class MailLedger(aws.DynamoDBTable):
    """Sent e-mails in the shared table (partition key ``id``; TTL on ``expiration``), one item per e-mail.

    Parameters
    ----------
    table_name
        The table shared with Powertools Idempotency, the decision journal and the links.
    client
        A botocore ``dynamodb`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    """

    def claim(self, decision_id: str, recipient: str, *, now: datetime, lease: timedelta) -> bool:
        seconds = int(now.timestamp())
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    KEY_ATTRIBUTE: {"S": mail_id(decision_id, recipient)},
                    "state": {"S": SENDING},
                    "lease": {"N": str(seconds + int(lease.total_seconds()))},
                    EXPIRATION_ATTRIBUTE: {"N": str(seconds + int(RETENTION.total_seconds()))},
                },
                # New, or a claim whose sender gave no news within its lease (it died between SES and the mark).
                ConditionExpression="attribute_not_exists(#id) OR (#state = :sending AND #lease < :now)",
                ExpressionAttributeNames={"#id": KEY_ATTRIBUTE, "#state": "state", "#lease": "lease"},
                ExpressionAttributeValues={":sending": {"S": SENDING}, ":now": {"N": str(seconds)}},
            )
        except Exception as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def sent(self, decision_id: str, recipient: str, message_id: str, *, now: datetime) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": mail_id(decision_id, recipient)}},
            UpdateExpression="SET #state = :sent, message_id = :message, sent_at = :at REMOVE #lease",
            ExpressionAttributeNames={"#state": "state", "#lease": "lease"},
            ExpressionAttributeValues={
                ":sent": {"S": SENT},
                ":message": {"S": message_id},
                ":at": {"S": now.astimezone(UTC).isoformat()},
            },
        )

    def release(self, decision_id: str, recipient: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": mail_id(decision_id, recipient)}},
                ConditionExpression="#state = :sending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": SENDING}},
            )
        except Exception as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise


class MemoryMailLedger:
    """Sent e-mails in memory (tests, local runs without a table); as :class:`MailLedger`."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def claim(self, decision_id: str, recipient: str, *, now: datetime, lease: timedelta) -> bool:
        key = mail_id(decision_id, recipient)
        item = self.items.get(key)
        if item is not None and not (item["state"] == SENDING and item["lease"] < now):
            return False
        self.items[key] = {"state": SENDING, "lease": now + lease}
        return True

    def sent(self, decision_id: str, recipient: str, message_id: str, *, now: datetime) -> None:
        self.items[mail_id(decision_id, recipient)] = {"state": SENT, "message_id": message_id, "sent_at": now}

    def release(self, decision_id: str, recipient: str) -> None:
        key = mail_id(decision_id, recipient)
        if self.items.get(key, {}).get("state") == SENDING:
            del self.items[key]
