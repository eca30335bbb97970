"""The approver e-mails on the emulator: a Held decision → the mail rule → the mail function as deployed → SES.

Fix 18 of the emulator (docs/sagemaker.md): what SES v2 SendEmail sent is read back over HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from registrar import aws as registrar_aws
from registrar.decisions import approver_mail, links
from registrar.decisions.contract import DecisionDetail, put_events_entry
from registrar_dev.emulator import Emulator
from registrar_dev.runner import approver_mail_mapping
from registrar_dev.support import create_idempotency_table, fresh_container
from registrar_dev.topology import DecisionPageTopology, build_decision_page

PAGE = "http://127.0.0.1:8765"
APPROVERS = {"churn-*": ["lead@example.com", "risk@example.com"], "fraud-*": ["fraud@example.com"]}


@pytest.fixture
def mail(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[DecisionPageTopology]:
    table = f"registrar-mail-{uuid.uuid4().hex[:8]}"
    create_idempotency_table(boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name=aws.region), table)
    topology = build_decision_page(aws.endpoint, approvers=APPROVERS, sender="registrar@example.com", page_url=PAGE)
    for name, value in topology.environment(table).items():
        monkeypatch.setenv(name, value)
    fresh_container()
    approver_mail.deployed.cache_clear()
    registrar_aws.reset_clients()
    yield topology
    approver_mail.deployed.cache_clear()
    registrar_aws.reset_clients()


def held(arn: str, decision_id: str = "client-token-1") -> DecisionDetail:
    return DecisionDetail(
        decision_id=decision_id,
        model_package_arn=arn,
        model_package_group=arn.split("/")[-2],
        model_package_version=int(arn.split("/")[-1]),
        verdict="Held",
        flow="approval",
        decided_at=datetime.now(UTC),
        reasons=["auc 0.81 < min 0.85"],
    )


def publish(aws: Emulator, *details: DecisionDetail) -> None:
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    entries: Any = [put_events_entry(detail) for detail in details]  # the contract's entry, as PutEvents takes it
    response = events.put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0


def deliver(aws: Emulator, topology: DecisionPageTopology) -> int:
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    mapping = approver_mail_mapping(topology.queue_url, topology.queue_arn, sqs, region=aws.region)
    handled = 0
    while (received := mapping.poll_once()) > 0:
        handled += received
    assert mapping.failed_records == 0
    return handled


def token_of(body: str) -> str:
    [url] = [line for line in body.splitlines() if line.startswith(PAGE)]
    assert urlsplit(url).path == "/decide"
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_held_decision_emails_each_approver_a_link_of_their_own(aws: Emulator, mail: DecisionPageTopology) -> None:
    # GIVEN a held version of churn-eu, whose group has two approvers
    arn = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:model-package/churn-eu/3"
    # WHEN its decision is published, and the mail function handles its queue
    publish(aws, held(arn))
    assert deliver(aws, mail) == 1
    # THEN SES sent one e-mail per approver, from the sender
    sent = mail.sent_emails()
    assert sorted(e["to"] for e in sent) == ["lead@example.com", "risk@example.com"]
    keys = links.load_signing_keys(mail.signing_secret, endpoint_url=aws.endpoint, region=aws.region, max_age=0)
    for email in sent:
        assert email["from"] == "registrar@example.com"
        assert "churn-eu version 3" in email["subject"]
        # AND each link verifies for its recipient and that version alone
        capability = links.verify(token_of(email["body"]), keys, now=datetime.now(UTC))
        assert (capability.recipient, capability.model_package_arn) == (email["to"], arn)
        others = [token_of(other["body"]) for other in sent if other is not email]
        assert all(token not in email["body"] for token in others)


def test_a_redelivered_decision_sends_nothing_more(aws: Emulator, mail: DecisionPageTopology) -> None:
    arn = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:model-package/fraud-cards/7"
    publish(aws, held(arn))
    deliver(aws, mail)
    assert [e["to"] for e in mail.sent_emails()] == ["fraud@example.com"]
    # WHEN the same decision arrives again (a republished copy carries the same decision id)
    publish(aws, held(arn))
    assert deliver(aws, mail) == 1
    # THEN no second e-mail is sent
    assert [e["to"] for e in mail.sent_emails()] == ["fraud@example.com"]


def test_a_decision_that_is_not_held_reaches_nobody(aws: Emulator, mail: DecisionPageTopology) -> None:
    arn = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:model-package/churn-eu/4"
    approved = held(arn).model_copy(update={"verdict": "Approved"})
    publish(aws, approved)
    assert deliver(aws, mail) == 0
    assert mail.sent_emails() == []


def test_an_unverified_sender_is_refused_as_ses_refuses_it(aws: Emulator, mail: DecisionPageTopology) -> None:
    sesv2 = boto3.client("sesv2", endpoint_url=aws.endpoint, region_name=aws.region)
    with pytest.raises(sesv2.exceptions.MessageRejected):
        sesv2.send_email(
            FromEmailAddress="someone@elsewhere.example",
            Destination={"ToAddresses": ["lead@example.com"]},
            Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "y"}}}},
        )
