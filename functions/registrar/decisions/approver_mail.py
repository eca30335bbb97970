"""Approver e-mails: a decision a person must look at → one e-mail per approver, each with a personal decision link.

The stack routes ``Registrar Decision`` events of the configured verdicts (``Held``; ``Rejected`` when configured)
to this flow. For each, :class:`ApproverMail` finds the approvers of the version's group (:func:`approvers_for`),
mints each a capability of their own (:func:`registrar.decisions.links.new_capability`, signed with the current
key by :func:`registrar.decisions.links.mint`) and e-mails it (:func:`compose`, :mod:`registrar.mail`). No token
is shared: every e-mail holds its recipient's link alone.

A decision is e-mailed once per approver: the key is the decision's id (the write's ClientToken, the same on a
republished copy) and the recipient (:func:`registrar.mail.mail_id`), claimed in the table before the send.

Decisions a person made (``decided_by`` is not ``registrar``) e-mail nobody: a human's decision stands
(ARCHITECTURE.md, safety rule 3), and a link would invite overruling it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from registrar import groups
from registrar.decisions.contract import DECISION_DETAIL_TYPE, REGISTRAR, VERDICT_PHRASES, DecisionDetail
from registrar.errors import ConfigurationError, EventError
from registrar.events import REGISTRAR_SOURCE, EventBridgeModel
from registrar.mail import Email, Mailer, SentMail
from registrar.settings import PREFIX

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from registrar.decisions.links import SigningKeys

# The path of the page that decides (functions/handlers/decision_page.py) and the query member of the token.
DECIDE_PATH = "/decide"
TOKEN_PARAMETER = "token"
# How long one e-mail's claim holds before another delivery may send it: longer than the function's timeout.
CLAIM_LEASE = timedelta(minutes=5)


class DecisionEvent(EventBridgeModel):
    """A ``Registrar Decision`` event as EventBridge delivers it."""

    SOURCE: ClassVar[str] = REGISTRAR_SOURCE
    DETAIL_TYPE: ClassVar[str] = DECISION_DETAIL_TYPE

    source: Literal["registrar"]
    detail_type: Literal["Registrar Decision"] = Field(alias="detail-type")
    detail: DecisionDetail


def pattern(verdicts: Sequence[str]) -> dict[str, Any]:
    """The rule pattern of the decisions that e-mail the approvers: ``Registrar Decision`` with one of ``verdicts``.

    Without an account: the stack and the local topology narrow it to theirs (:func:`registrar.patterns.for_account`).
    """
    return {"source": [REGISTRAR_SOURCE], "detail-type": [DECISION_DETAIL_TYPE], "detail": {"verdict": list(verdicts)}}


def parse(raw: Any) -> DecisionEvent:
    """The decision event of a queue message's body.

    Raises
    ------
    registrar.errors.EventError
        Anything else, naming the field and the rule.
    """
    try:
        return DecisionEvent.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        raise EventError(f"{where}: {first['msg']} (not a Registrar Decision event)") from None


class ApproverMailSettings(BaseModel):
    """The mail function's settings, from its ``REGISTRAR_*`` environment (set by infra/approver_mail.py).

    Attributes
    ----------
    table_name
        The shared table: where each e-mail is claimed (``mail#...`` items).
    approvers
        Group name or fnmatch pattern → approvers' addresses (``REGISTRAR_APPROVERS``, JSON).
    mail_from
        The ``From`` address (``REGISTRAR_MAIL_FROM``): the configured sender, or ``registrar@<domain>``.
    decision_page_url
        The decision page's base URL (``REGISTRAR_DECISION_PAGE_URL``, the page function's URL).
    signing_secret
        The Secrets Manager secret holding the links' signing keys (``REGISTRAR_SIGNING_SECRET``).
    link_ttl_days
        How long a link stays valid (``REGISTRAR_LINK_TTL_DAYS``).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str | None = Field(default=None, min_length=1)
    approvers: dict[str, list[str]] = Field(min_length=1)
    mail_from: str = Field(min_length=3)
    decision_page_url: str = Field(pattern=r"^https?://")
    signing_secret: str = Field(min_length=1)
    link_ttl_days: int = Field(default=7, ge=1, le=30)

    @field_validator("approvers", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ApproverMailSettings:
        """Parse the ``REGISTRAR_*`` variables of the mail function.

        Raises
        ------
        ConfigurationError
            A variable missing or invalid, named.
        """
        values = {key[len(PREFIX) :].lower(): value for key, value in environ.items() if key.startswith(PREFIX)}
        try:
            return cls.model_validate(values)
        except (ValidationError, ValueError) as error:
            raise ConfigurationError(f"invalid approver mail settings: {error}") from None


def approvers_for(group: str, approvers: Mapping[str, Sequence[str]]) -> list[str]:
    """The approvers of ``group``: the addresses of every pattern that matches it, lower-cased, each once, in order."""
    found: dict[str, None] = {}
    for pattern, addresses in approvers.items():
        if groups.matches(group, pattern):
            found.update((address.strip().lower(), None) for address in addresses)
    return list(found)


def decide_url(page_url: str, token: str) -> str:
    """``<page URL>/decide?token=<token>`` (a token is URL-safe; it is encoded all the same)."""
    return f"{page_url.rstrip('/')}{DECIDE_PATH}?{urlencode({TOKEN_PARAMETER: token})}"


def subject_of(detail: DecisionDetail) -> str:
    """The e-mail's subject: the version and what registrar did, and that a decision is asked for."""
    group = detail.model_package_group or detail.model_package_arn
    version = f" version {detail.model_package_version}" if detail.model_package_version is not None else ""
    phrase = VERDICT_PHRASES.get(detail.verdict, detail.verdict)
    return f"registrar: {group}{version} {phrase.lower()}: your decision"


def compose(detail: DecisionDetail, *, recipient: str, url: str, expires_at: datetime) -> Email:
    """The plain-text e-mail to one approver: the decision's summary, their personal link and its expiry."""
    expiry = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"Hello {recipient},",
            "",
            "registrar asks you to decide a model package version:",
            "",
            detail.summary,
            "",
            "Review it and approve or reject it here:",
            url,
            "",
            f"The link is yours alone and works once, until {expiry}. Do not forward it: whoever holds it",
            "can decide in your name. If you were not expecting it, ignore this e-mail.",
        ]
    )
    return Email(to=recipient, subject=subject_of(detail), text=text)


def group_of(detail: DecisionDetail) -> str | None:
    """The version's group: the detail's, else read from its ARN."""
    return detail.model_package_group or groups.group_in_version_arn(detail.model_package_arn)


@dataclass(frozen=True)
class Sent:
    """What became of one approver's e-mail: ``sent`` (with SES's message id) or ``duplicate`` (sent before)."""

    recipient: str
    status: Literal["sent", "duplicate"]
    message_id: str | None = None


@dataclass
class ApproverMail:
    """Everything e-mailing the approvers needs, injected.

    Parameters
    ----------
    approvers
        Group pattern → addresses.
    page_url
        The decision page's base URL.
    ttl
        How long each link lives.
    keys
        Returns the signing keys (read from Secrets Manager, cached, when deployed).
    mailer
        Sends one e-mail (:class:`registrar.mail.SesMailer`, or a fake).
    ledger
        Where each e-mail is claimed and marked sent (:class:`registrar.mail.MailLedger`).
    clock
        The current time (UTC).
    """

    approvers: Mapping[str, Sequence[str]]
    page_url: str
    ttl: timedelta
    keys: Callable[[], SigningKeys]
    mailer: Mailer
    ledger: SentMail
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_settings(
        cls, settings: ApproverMailSettings, *, endpoint_url: str | None = None, region: str | None = None
    ) -> ApproverMail:
        """The flow on AWS (or the endpoint given), configured by ``settings``."""
        from registrar.decisions.links import load_signing_keys
        from registrar.mail import MailLedger, MemoryMailLedger, SesMailer

        ledger: SentMail = (
            MailLedger(settings.table_name, endpoint_url=endpoint_url, region=region)
            if settings.table_name
            else MemoryMailLedger()
        )
        return cls(
            approvers=settings.approvers,
            page_url=settings.decision_page_url,
            ttl=timedelta(days=settings.link_ttl_days),
            keys=functools.partial(
                load_signing_keys, settings.signing_secret, endpoint_url=endpoint_url, region=region
            ),
            mailer=SesMailer(settings.mail_from, endpoint_url=endpoint_url, region=region),
            ledger=ledger,
        )

    def recipients(self, detail: DecisionDetail) -> list[str]:
        """Who is e-mailed about ``detail``: nobody for a person's decision, else the approvers of its group."""
        if detail.decided_by != REGISTRAR:
            return []
        group = group_of(detail)
        return approvers_for(group, self.approvers) if group is not None else []

    def notify(self, detail: DecisionDetail) -> list[Sent]:
        """E-mail each approver of the version their own link, unless that e-mail was sent already.

        Raises
        ------
        botocore.exceptions.ClientError
            Secrets Manager, DynamoDB or SES failed: the e-mails sent so far stay sent, the failed one is
            released, and the redelivery sends the rest.
        registrar.errors.ConfigurationError
            The signing secret is missing or not the keys' JSON.
        """
        from registrar.decisions.links import mint, new_capability

        results: list[Sent] = []
        for recipient in self.recipients(detail):
            now = self.clock()
            if not self.ledger.claim(detail.decision_id, recipient, now=now, lease=CLAIM_LEASE):
                results.append(Sent(recipient, "duplicate"))
                continue
            try:
                capability = new_capability(detail.model_package_arn, recipient, ttl=self.ttl, now=now)
                token = mint(capability, self.keys().current)
                email = compose(
                    detail, recipient=recipient, url=decide_url(self.page_url, token), expires_at=capability.expires_at
                )
                message_id = self.mailer.send(email)
            except BaseException:
                self.ledger.release(detail.decision_id, recipient)
                raise
            self.ledger.sent(detail.decision_id, recipient, message_id, now=self.clock())
            results.append(Sent(recipient, "sent", message_id))
        return results


def process(event: dict[str, Any], context: LambdaContext, *, mail: ApproverMail) -> dict[str, Any]:
    """Handle an SQS batch of decision events, reporting the records that failed (``batchItemFailures``).

    A body that is not a decision of this account fails its record every time, so SQS moves it to the
    dead-letter queue after its receives; an AWS failure fails it until the redelivery succeeds.
    """
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from registrar.observability import count, cut, logger

    arn_parts = (getattr(context, "invoked_function_arn", "") or "").split(":")
    home = arn_parts[4] if len(arn_parts) > 4 and arn_parts[4] else None

    def handle(record: SQSRecord) -> dict[str, Any]:
        try:
            decision = parse(json.loads(record.body))
            if home is not None and decision.account != home:
                raise EventError(f"the decision is of account {decision.account}, this function runs in {home}")
        except (ValueError, RecursionError) as error:
            count("EventInvalid")
            logger.error("poison event: not a decision to e-mail", extra={"reason": cut(str(error))})
            raise
        detail = decision.detail
        results = mail.notify(detail)
        sent = [r.recipient for r in results if r.status == "sent"]
        if sent:
            count("ApproverMailSent", len(sent))
        if len(sent) < len(results):
            count("ApproverMailDuplicate", len(results) - len(sent))
        logger.info(
            "approvers e-mailed",
            extra={
                "decision_id": detail.decision_id,
                "model_package_arn": detail.model_package_arn,
                "verdict": detail.verdict,
                "sent": len(sent),
                "duplicates": len(results) - len(sent),
            },
        )
        return {"decision_id": detail.decision_id, "sent": sent}

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))


@functools.cache
def deployed() -> ApproverMail:
    """The flow of a Lambda container, configured from its ``REGISTRAR_*`` environment on first use."""
    import os

    return ApproverMail.from_settings(ApproverMailSettings.from_environment(os.environ))
