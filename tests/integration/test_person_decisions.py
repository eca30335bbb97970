"""A person's decision on the emulator: the signing keys in Secrets Manager, single use in DynamoDB,
`registrar link` and `registrar decide`, and the Registrar Decision they publish.

Each test has its own group and secret (the emulator is shared by the session's tests).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from registrar.decisions.contract import DECISION_PATTERN, DecisionDetail
from registrar.decisions.links import (
    LinkLedger,
    SigningKey,
    SigningKeys,
    load_signing_keys,
    mint,
    new_capability,
    verify,
)
from registrar.errors import ConfigurationError
from registrar.patterns import for_account
from registrar_cli import main as cli
from registrar_dev.emulator import Emulator
from registrar_dev.support import ACCOUNT, create_idempotency_table

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

Receive = Callable[[], list[DecisionDetail]]
PAGE = "https://decide.example.com/prod"
KEY = b"c" * 32
OLD_KEY = b"p" * 32


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def keys_json(current: tuple[str, bytes], previous: tuple[str, bytes] | None = None) -> str:
    def entry(key: tuple[str, bytes]) -> dict[str, str]:
        return {"id": key[0], "key": base64.b64encode(key[1]).decode()}

    return json.dumps({"current": entry(current), "previous": entry(previous) if previous else None})


@pytest.fixture
def secrets(aws: Emulator) -> Any:
    return boto3.client("secretsmanager", endpoint_url=aws.endpoint, region_name=aws.region)


@pytest.fixture
def signing_secret(secrets: Any) -> str:
    """A fresh secret holding one current key, ``k1``."""
    name = unique("registrar/decision-links")
    secrets.create_secret(Name=name, SecretString=keys_json(("k1", KEY)))
    return name


@pytest.fixture
def decisions(aws: Emulator) -> Receive:
    """A rule on the default bus for registrar's decisions (DECISION_PATTERN), targeting an SQS queue."""
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    name = unique("person-decisions")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps(for_account(DECISION_PATTERN, ACCOUNT)))
    events.put_targets(Rule=name, Targets=[{"Id": "subscriber", "Arn": queue_arn}])

    def receive() -> list[DecisionDetail]:
        received: list[DecisionDetail] = []
        for _ in range(3):  # the emulator delivers synchronously; a few empty answers in a row are margin
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
                envelope = json.loads(message["Body"])
                received.append(DecisionDetail.model_validate(envelope["detail"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    return receive


def run_text(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


# The signing keys in Secrets Manager ----------------------------------------------------------------------------


def test_the_keys_are_read_from_the_secret(aws: Emulator, signing_secret: str) -> None:
    keys = load_signing_keys(signing_secret, endpoint_url=aws.endpoint, region=aws.region, max_age=0)
    assert keys == SigningKeys(current=SigningKey("k1", KEY))


def test_a_missing_secret_is_a_configuration_error(aws: Emulator, secrets: Any) -> None:
    # The emulator answers GetSecretValue of a missing secret as Secrets Manager does
    name = unique("registrar/missing")
    with pytest.raises(ClientError) as caught:
        secrets.get_secret_value(SecretId=name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ConfigurationError, match=f"secret {name} does not exist"):
        load_signing_keys(name, endpoint_url=aws.endpoint, region=aws.region, max_age=0)


def test_an_invalid_secret_names_the_member(aws: Emulator, secrets: Any) -> None:
    name = unique("registrar/invalid")
    secrets.create_secret(Name=name, SecretString=json.dumps({"current": {"id": "k1", "key": "c2hvcnQ="}}))
    with pytest.raises(ConfigurationError, match=f"secret {name}: current.key: decodes to 5 bytes"):
        load_signing_keys(name, endpoint_url=aws.endpoint, region=aws.region, max_age=0)


def test_rotation_keeps_a_link_of_the_previous_key_valid(aws: Emulator, secrets: Any, signing_secret: str) -> None:
    # GIVEN a link minted with k1
    now = datetime.now(UTC)
    before = load_signing_keys(signing_secret, endpoint_url=aws.endpoint, region=aws.region, max_age=0)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
    token = mint(new_capability(arn, "alice@example.com", ttl=timedelta(days=7), now=now), before.current)
    # WHEN the secret is rotated: a new version whose current is k2 and whose previous is k1
    secrets.put_secret_value(SecretId=signing_secret, SecretString=keys_json(("k2", b"n" * 32), ("k1", KEY)))
    after = load_signing_keys(signing_secret, endpoint_url=aws.endpoint, region=aws.region, max_age=0)
    # THEN new links are signed with k2, and the k1 link still verifies
    assert after.current.key_id == "k2"
    assert verify(token, after, now=now).model_package_arn == arn
    # (Secrets Manager keeps the version before as AWSPREVIOUS; registrar reads AWSCURRENT only)
    previous = secrets.get_secret_value(SecretId=signing_secret, VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"])["current"]["id"] == "k1"


# Single use in the shared table ---------------------------------------------------------------------------------


def test_a_link_is_consumed_once_in_the_table(aws: Emulator) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name=aws.region)
    table = unique("registrar-idempotency")
    create_idempotency_table(dynamodb, table)
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
    granted = new_capability(arn, "alice@example.com", ttl=timedelta(days=7), now=now)
    ledger = LinkLedger(table, endpoint_url=aws.endpoint, region=aws.region)

    assert ledger.used(granted) is None
    assert ledger.consume(granted, used_by_action="approve", at=now)
    assert not ledger.consume(granted, used_by_action="reject", at=now + timedelta(minutes=1))

    used = ledger.used(granted)
    assert used is not None and (used["action"], used["used_at"]) == ("approve", now)
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": f"link#{granted.nonce}"}})["Item"]
    assert item["expiration"] == {"N": str(int((now + timedelta(days=7)).timestamp()))}


# registrar link, registrar decide -------------------------------------------------------------------------------


def test_registrar_link_prints_a_url_whose_token_verifies(
    aws: Emulator, make_package: Callable[..., str], signing_secret: str
) -> None:
    # GIVEN a version held for a human
    arn = make_package(group=unique("link"))
    # WHEN a link is minted for alice
    status, printed, stderr = run_text(
        "link", arn, "--for", "Alice@Example.com", "--ttl", "12h", "--page-url", PAGE, "--secret", signing_secret
    )
    # THEN its last line is the page's URL, whose token grants alice that version for 12 hours
    assert (status, stderr) == (0, "")
    url = urllib.parse.urlsplit(printed.splitlines()[-1])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PAGE}/decide"
    (token,) = urllib.parse.parse_qs(url.query)["token"]
    keys = load_signing_keys(signing_secret, endpoint_url=aws.endpoint, region=aws.region, max_age=0)
    granted = verify(token, keys, now=datetime.now(UTC))
    assert (granted.model_package_arn, granted.recipient, granted.actions) == (
        arn,
        "alice@example.com",
        ("approve", "reject"),
    )
    assert timedelta(hours=11) < granted.expires_at - datetime.now(UTC) <= timedelta(hours=12)


def test_registrar_link_refuses_a_version_decided_or_missing(
    make_package: Callable[..., str], sagemaker: SageMakerClient, signing_secret: str
) -> None:
    arn = make_package(group=unique("link"))
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    status, printed, stderr = run_text(
        "link", arn, "--for", "a@example.com", "--page-url", PAGE, "--secret", signing_secret
    )
    assert (status, printed) == (2, "")
    assert "is Approved, not PendingManualApproval" in stderr and "none minted" in stderr

    missing = arn.rsplit("/", 1)[0] + "/99"
    status, printed, stderr = run_text(
        "link", missing, "--for", "a@example.com", "--page-url", PAGE, "--secret", signing_secret
    )
    assert (status, printed) == (2, "")
    assert "does not exist" in stderr


def test_registrar_link_asks_for_the_page_url(
    make_package: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRAR_DECISION_PAGE_URL", raising=False)
    status, _, stderr = run_text("link", make_package(group=unique("link")), "--for", "a@example.com")
    assert status == 2 and "REGISTRAR_DECISION_PAGE_URL" in stderr


def run_json(*argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status, printed, stderr = run_text(*argv)
    return status, [json.loads(line) for line in printed.splitlines()], stderr


def test_registrar_decide_approves_as_the_person_and_a_second_decide_finds_it_decided(
    make_package: Callable[..., str], sagemaker: SageMakerClient, decisions: Receive
) -> None:
    # GIVEN a version held for a human, and a subscriber to registrar's decisions
    arn = make_package(group=unique("decide"))

    # WHEN alice approves it from the terminal
    status, printed, stderr = run_json("decide", arn, "--approve", "--by", "alice", "--comment", "ok")

    # THEN it is Approved, recording alice, when and why; one outcome as `registrar apply` prints it
    assert (status, stderr) == (0, "")
    (outcome,) = printed
    assert set(outcome) == {"outcome", "model_package_arn", "request", "reasons"}
    assert (outcome["outcome"], outcome["model_package_arn"]) == ("updated", arn)
    assert outcome["request"]["ModelApprovalStatus"] == "Approved" and outcome["request"]["ClientToken"]
    version = sagemaker.describe_model_package(ModelPackageName=arn)
    records = version["CustomerMetadataProperties"]
    assert version["ModelApprovalStatus"] == "Approved"
    assert version["ApprovalDescription"] == "Approved by alice via cli: ok"
    assert (records["registrar:verdict"], records["registrar:decided-by"]) == ("Approved", "person:alice")
    assert records["registrar:decided-at"].endswith("Z")
    # AND one Registrar Decision says alice decided, flow person
    assert [(d.model_package_arn, d.verdict, d.flow, d.decided_by) for d in decisions()] == [
        (arn, "Approved", "person", "alice")
    ]

    # WHEN bob rejects it after
    status, printed, stderr = run_json("decide", arn, "--reject", "--by", "bob")

    # THEN nothing is written nor published; the outcome says who decided and when; exit 2
    assert status == 2
    (outcome,) = printed
    assert (outcome["outcome"], outcome["request"]) == ("skipped", None)
    assert outcome["reasons"][0].startswith("v1 is Approved, not PendingManualApproval: last modified at ")
    assert outcome["reasons"][1] == f"decided by alice (person) at {records['registrar:decided-at']}"
    assert "nothing decided" in stderr
    after = sagemaker.describe_model_package(ModelPackageName=arn)
    assert (after["ModelApprovalStatus"], after["LastModifiedTime"]) == ("Approved", version["LastModifiedTime"])
    assert decisions() == []


@pytest.mark.parametrize(
    "argv",
    [
        ("--approve", "--by", "alice<script>"),
        ("--approve", "--by", "alice", "--comment", "two\nlines"),
        ("--approve", "--reject", "--by", "alice"),
        ("--by", "alice"),
    ],
)
def test_registrar_decide_refuses_invalid_arguments(
    make_package: Callable[..., str], sagemaker: SageMakerClient, argv: tuple[str, ...]
) -> None:
    arn = make_package(group=unique("decide"))
    status, printed, _ = run_text("decide", arn, *argv)
    assert (status, printed) == (2, "")
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"
