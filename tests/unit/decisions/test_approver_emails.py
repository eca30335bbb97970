"""Approver e-mails: who is e-mailed, what each e-mail says, and that each is sent once per decision and recipient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from registrar.decisions import links
from registrar.decisions.approver_mail import (
    ApproverMail,
    ApproverMailSettings,
    approvers_for,
    compose,
    decide_url,
    parse,
)
from registrar.decisions.contract import DecisionDetail
from registrar.errors import ConfigurationError, EventError
from registrar.mail import Email, MemoryMailLedger, mail_id

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-eu/4"
KEYS = links.SigningKeys(current=links.SigningKey("k1", b"k" * 32))
PAGE = "https://abc.lambda-url.us-east-1.on.aws/"
APPROVERS = {"churn-*": ["Lead@Example.com", "risk@example.com"], "churn-eu": ["eu@example.com", "lead@example.com"]}


def held(**changes: Any) -> DecisionDetail:
    values: dict[str, Any] = {
        "decision_id": "token-1",
        "model_package_arn": ARN,
        "model_package_group": "churn-eu",
        "model_package_version": 4,
        "verdict": "Held",
        "flow": "approval",
        "decided_at": NOW,
        "reasons": ["auc 0.81 < min 0.85"],
    }
    return DecisionDetail(**{**values, **changes})


class RecordingMailer:
    def __init__(self, fail_for: str | None = None) -> None:
        self.sent: list[Email] = []
        self.fail_for = fail_for

    def send(self, email: Email) -> str:
        if email.to == self.fail_for:
            raise RuntimeError("MessageRejected")
        self.sent.append(email)
        return f"message-{len(self.sent)}"


def flow(mailer: RecordingMailer, ledger: MemoryMailLedger | None = None) -> ApproverMail:
    return ApproverMail(
        approvers=APPROVERS,
        page_url=PAGE,
        ttl=timedelta(days=7),
        keys=lambda: KEYS,
        mailer=mailer,
        ledger=ledger if ledger is not None else MemoryMailLedger(),
        clock=lambda: NOW,
    )


def token_of(email: Email) -> str:
    [url] = [line for line in email.text.splitlines() if line.startswith(PAGE.rstrip("/"))]
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("churn-eu", ["lead@example.com", "risk@example.com", "eu@example.com"]),
        ("churn-us", ["lead@example.com", "risk@example.com"]),
        ("CHURN-EU", ["lead@example.com", "risk@example.com", "eu@example.com"]),
        ("fraud", []),
    ],
)
def test_the_approvers_of_a_group_are_those_of_every_pattern_matching_it_each_once(
    group: str, expected: list[str]
) -> None:
    assert approvers_for(group, APPROVERS) == expected


def test_each_approver_gets_one_email_with_a_link_of_their_own() -> None:
    # GIVEN a held version of churn-eu, three approvers
    mailer = RecordingMailer()
    # WHEN the decision is handled
    results = flow(mailer).notify(held())
    # THEN each approver gets one e-mail
    assert [r.status for r in results] == ["sent"] * 3
    assert [e.to for e in mailer.sent] == ["lead@example.com", "risk@example.com", "eu@example.com"]
    tokens = [token_of(email) for email in mailer.sent]
    assert len(set(tokens)) == 3
    for email, token in zip(mailer.sent, tokens, strict=True):
        # AND its link verifies for that recipient, that version, expiring after the TTL
        capability = links.verify(token, KEYS, now=NOW)
        assert capability.recipient == email.to
        assert capability.model_package_arn == ARN
        assert capability.expires_at == NOW + timedelta(days=7)
        # AND no other approver's token is in it
        assert all(other not in email.text for other in tokens if other != token)


def test_the_email_is_plain_text_with_the_summary_the_link_and_the_expiry() -> None:
    detail = held()
    email = compose(detail, recipient="lead@example.com", url=decide_url(PAGE, "abc.def"), expires_at=NOW)
    assert email.subject == "registrar: churn-eu version 4 held for a human: your decision"
    assert detail.summary in email.text
    assert "https://abc.lambda-url.us-east-1.on.aws/decide?token=abc.def" in email.text
    assert "2026-12-03 09:30 UTC" in email.text
    assert "<html" not in email.text.lower() and "<a " not in email.text


def test_a_redelivered_decision_sends_nothing_more() -> None:
    mailer, ledger = RecordingMailer(), MemoryMailLedger()
    flow(mailer, ledger).notify(held())
    again = flow(mailer, ledger).notify(held())
    assert [r.status for r in again] == ["duplicate"] * 3
    assert len(mailer.sent) == 3


def test_the_idempotency_key_is_the_decision_and_the_recipient() -> None:
    assert mail_id("token-1", "Lead@Example.com ") == "mail#token-1#lead@example.com"
    ledger = MemoryMailLedger()
    flow(RecordingMailer(), ledger).notify(held())
    assert set(ledger.items) == {
        "mail#token-1#lead@example.com",
        "mail#token-1#risk@example.com",
        "mail#token-1#eu@example.com",
    }
    # AND another decision of the same version e-mails everyone again
    mailer = RecordingMailer()
    flow(mailer, ledger).notify(held(decision_id="token-2"))
    assert len(mailer.sent) == 3


def test_a_failed_send_is_released_and_sent_on_the_redelivery_alone() -> None:
    ledger = MemoryMailLedger()
    failing = RecordingMailer(fail_for="risk@example.com")
    with pytest.raises(RuntimeError):
        flow(failing, ledger).notify(held())
    assert [e.to for e in failing.sent] == ["lead@example.com"]
    retried = RecordingMailer()
    results = flow(retried, ledger).notify(held())
    assert [e.to for e in retried.sent] == ["risk@example.com", "eu@example.com"]
    assert [r.status for r in results] == ["duplicate", "sent", "sent"]


def test_an_abandoned_claim_is_taken_over_after_its_lease() -> None:
    ledger = MemoryMailLedger()
    assert ledger.claim("token-1", "lead@example.com", now=NOW, lease=timedelta(minutes=5))
    assert not ledger.claim("token-1", "lead@example.com", now=NOW + timedelta(minutes=4), lease=timedelta(minutes=5))
    assert ledger.claim("token-1", "lead@example.com", now=NOW + timedelta(minutes=6), lease=timedelta(minutes=5))


def test_a_persons_decision_emails_nobody() -> None:
    mailer = RecordingMailer()
    assert flow(mailer).notify(held(decided_by="lead@example.com", flow="person", verdict="Rejected")) == []
    assert mailer.sent == []


def test_a_group_without_approvers_emails_nobody() -> None:
    mailer = RecordingMailer()
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/1"
    assert flow(mailer).notify(held(model_package_arn=arn, model_package_group=None)) == []


def test_only_a_registrar_decision_event_parses() -> None:
    event = {
        "version": "0",
        "id": "e-1",
        "source": "registrar",
        "detail-type": "Registrar Decision",
        "account": "123456789012",
        "time": "2026-12-03T09:30:00Z",
        "region": "us-east-1",
        "resources": [ARN],
        "detail": held().to_json(),
    }
    assert parse(event).detail.decision_id == "token-1"
    with pytest.raises(EventError, match="source"):
        parse({**event, "source": "aws.sagemaker"})


def test_settings_come_from_the_functions_environment() -> None:
    settings = ApproverMailSettings.from_environment(
        {
            "REGISTRAR_TABLE_NAME": "t",
            "REGISTRAR_APPROVERS": '{"churn-*": ["a@example.com"]}',
            "REGISTRAR_MAIL_FROM": "registrar@example.com",
            "REGISTRAR_DECISION_PAGE_URL": PAGE,
            "REGISTRAR_SIGNING_SECRET": "registrar/decision-links",
            "REGISTRAR_LINK_TTL_DAYS": "3",
            "REGISTRAR_MANAGED_GROUPS": "churn-*",
        }
    )
    assert settings.approvers == {"churn-*": ["a@example.com"]} and settings.link_ttl_days == 3
    with pytest.raises(ConfigurationError, match="decision_page_url"):
        ApproverMailSettings.from_environment({"REGISTRAR_APPROVERS": "{}", "REGISTRAR_MAIL_FROM": "x@y.z"})
