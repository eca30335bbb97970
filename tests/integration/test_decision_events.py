"""Registrar Decision events on the emulator: one per write, through `registrar apply`, `registrar sweep` and
the handlers, received by a rule on the default bus as any subscriber would; none for a write not made; one
(not zero, not two) when PutEvents fails after the write and the record is delivered again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers import approval
from registrar import aws as aws_clients
from registrar.decisions.contract import DECISION_PATTERN, DecisionDetail
from registrar.decisions.journal import ID_PREFIX, DecisionJournal, StagedDecision
from registrar.package import ModelPackage
from registrar.patterns import for_account
from registrar.updates import PackageUpdate
from registrar_dev.emulator import Emulator
from registrar_dev.faults import FaultInjector
from registrar_dev.runner import LocalLambdaContext
from registrar_dev.support import ACCOUNT, APPROVAL_SAMPLES, fresh_container, sqs_event
from tests.integration.scenario import (
    LAMBDA_ENVIRONMENT,
    POLICY,
    Clients,
    approval_event_path,
    build_approval_state,
    build_neo_package,
    compile_job,
    create_idempotency_table,
    neo_event_path,
    run_cli,
)

Receive = Callable[[], list[DecisionDetail]]
TABLE = "registrar-decisions-idempotency"


@pytest.fixture
def clients(aws: Emulator) -> Clients:
    return Clients.of(aws)


@pytest.fixture
def decisions(aws: Emulator, clients: Clients) -> Receive:
    """A subscriber: a rule on the default bus for every Registrar Decision of the account, into an SQS queue.

    Returns a function that reads (and deletes) every decision that reached the queue so far.
    """
    import boto3

    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    name = f"decisions-{uuid.uuid4().hex[:8]}"
    queue_url = clients.sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name=name, EventPattern=json.dumps(for_account(DECISION_PATTERN, ACCOUNT)))
    events.put_targets(Rule=name, Targets=[{"Id": "subscriber", "Arn": queue_arn}])

    def receive() -> list[DecisionDetail]:
        received: list[DecisionDetail] = []
        for _ in range(3):  # a few empty answers in a row: the emulator delivers synchronously, this is margin
            messages = clients.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                envelope = json.loads(message["Body"])
                assert (envelope["source"], envelope["detail-type"]) == ("registrar", "Registrar Decision")
                assert envelope["resources"] == [envelope["detail"]["model_package_arn"]]
                received.append(DecisionDetail.model_validate(envelope["detail"]))
                clients.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    return receive


def apply(name: str) -> dict[str, Any]:
    status, [printed], _ = run_cli("apply", str(approval_event_path(name)), "--policy", str(POLICY))
    assert status == 0
    return printed


@pytest.mark.parametrize("name", APPROVAL_SAMPLES)
def test_every_approval_sample_publishes_one_decision_per_write_and_none_when_applied_again(
    name: str, clients: Clients, decisions: Receive
) -> None:
    arn = build_approval_state(clients)[name]
    first = apply(name)
    received = decisions()
    if first["outcome"] != "updated":
        assert received == []
        return
    [detail] = received
    described = clients.describe(arn)
    assert detail.model_package_arn == arn
    assert detail.status == described["ModelApprovalStatus"]
    assert detail.decision_id == first["request"]["ClientToken"]
    assert detail.verdict in described["ApprovalDescription"]
    for reading in detail.metrics:
        assert reading.min is not None or reading.max is not None or reading.champion is not None

    again = apply(name)
    assert again["outcome"] in ("unchanged", "skipped")
    assert decisions() == []


def test_a_passing_report_publishes_the_numbers_against_their_thresholds(clients: Clients, decisions: Receive) -> None:
    build_approval_state(clients)
    apply("passing")
    [detail] = decisions()
    assert detail.verdict == "Approved"
    assert {(m.name, m.value, m.min, m.max) for m in detail.metrics} == {
        ("auc", 0.91, 0.85, 1.0),
        ("recall", 0.72, 0.6, 1.0),
    }
    assert detail.evidence and detail.evidence.startswith("s3://registrar-demo-reports/")


def test_apply_and_sweep_of_compilations_publish_one_decision_per_write(
    aws: Emulator, clients: Clients, decisions: Receive
) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    arn = build_neo_package(clients)
    compile_job(clients, "churn-model-1-ml-c5", "ml_c5", package=arn)
    compile_job(clients, "churn-model-1-jetson-nano", "jetson_nano", tagged=arn)
    compile_job(clients, "churn-model-1-ml-c5-failed", "ml_c5", package=arn, fail=True)

    status, [attached], _ = run_cli("apply", str(neo_event_path("completed-ml-c5")))
    assert (status, attached["outcome"]) == (0, "updated")
    assert [(d.verdict, d.compilation_job) for d in decisions()] == [("Attached", "churn-model-1-ml-c5")]

    status, lines, _ = run_cli("sweep", "--since", since)
    assert status == 0
    published = sorted((d.verdict, d.compilation_job) for d in decisions())
    assert published == [("Failed", "churn-model-1-ml-c5-failed"), ("Recorded", "churn-model-1-jetson-nano")]
    assert sum(line["outcome"] == "updated" for line in lines) == 2

    status, lines, _ = run_cli("sweep", "--since", since)
    assert status == 0 and decisions() == []


@pytest.fixture
def deployed(aws: Emulator, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The approval function's environment, with its idempotency table, in a new container."""
    create_idempotency_table(clients, TABLE)
    for variable, value in {**LAMBDA_ENVIRONMENT, "REGISTRAR_TABLE_NAME": TABLE}.items():
        monkeypatch.setenv(variable, value)
    fresh_container()
    yield
    fresh_container()


def test_a_publish_that_fails_after_the_write_is_published_once_when_the_record_comes_back(
    deployed: None, clients: Clients, decisions: Receive
) -> None:
    # GIVEN a passing version, and PutEvents refused while its record is handled
    arn = build_approval_state(clients)["passing"]
    event = sqs_event([approval_event_path("passing").read_text()])
    aws_clients.reset_clients()
    with FaultInjector(services={"eventbridge"}).install() as faults:
        faults.always_fail("access_denied", service="eventbridge", operation="PutEvents")
        response = approval.handler(event, LocalLambdaContext(function_name="registrar-approval", timeout_seconds=60))
    aws_clients.reset_clients()
    # THEN the record fails, the version is Approved, no decision went out and one is staged
    assert len(response["batchItemFailures"]) == 1
    assert clients.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert decisions() == []
    staged = clients.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": ID_PREFIX + arn}})
    assert "Item" in staged

    # WHEN SQS delivers the record again (the failed invocation released its claim: no need to wait for its deadline)
    again = approval.handler(event, LocalLambdaContext(function_name="registrar-approval"))
    # THEN it succeeds, the staged decision is published once, nothing is left staged, nothing written twice
    assert again["batchItemFailures"] == []
    [detail] = decisions()
    assert (detail.verdict, detail.model_package_arn) == ("Approved", arn)
    assert "Item" not in clients.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": ID_PREFIX + arn}})

    # AND a third delivery publishes nothing
    assert approval.handler(event, LocalLambdaContext(function_name="registrar-approval"))["batchItemFailures"] == []
    assert decisions() == []


def test_a_record_coming_back_while_its_writer_may_still_run_is_deferred_not_published(
    deployed: None, clients: Clients, decisions: Receive
) -> None:
    # GIVEN a decision staged for a version by an invocation with a minute left (between its write and its publish)
    arn = build_approval_state(clients)["passing"]
    package = ModelPackage.model_validate(clients.describe(arn))
    update = PackageUpdate(ModelPackageArn=arn, ModelApprovalStatus="Approved").with_client_token(package)
    detail = DecisionDetail(
        decision_id=str(update.ClientToken),
        model_package_arn=arn,
        verdict="Approved",
        flow="approval",
        decided_at=datetime.now(UTC),
    )
    DecisionJournal(TABLE, client=clients.dynamodb).stage(
        StagedDecision(detail=detail, request=update.to_request(), deadline=datetime.now(UTC) + timedelta(seconds=60)),
        now=datetime.now(UTC),
    )
    # WHEN the version's event is handled meanwhile
    response = approval.handler(
        sqs_event([approval_event_path("passing").read_text()]), LocalLambdaContext(function_name="registrar-approval")
    )
    # THEN it is deferred (failed, to come back after its visibility timeout): nothing written, nothing published
    assert len(response["batchItemFailures"]) == 1
    assert decisions() == []
    assert clients.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_apply_says_the_version_was_written_when_its_decision_cannot_be_published(
    clients: Clients, decisions: Receive
) -> None:
    arn = build_approval_state(clients)["passing"]
    aws_clients.reset_clients()
    with FaultInjector(services={"eventbridge"}).install() as faults:
        faults.always_fail("access_denied", service="eventbridge", operation="PutEvents")
        status, printed, stderr = run_cli("apply", str(approval_event_path("passing")), "--policy", str(POLICY))
    aws_clients.reset_clients()
    assert (status, printed) == (1, [])
    [line] = stderr.splitlines()
    assert f"{arn} was written (Approved), but its Registrar Decision was not published: AccessDenied" in line
    assert clients.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert decisions() == []


def test_the_staged_decision_is_the_versions_lock_in_the_table(clients: Clients) -> None:
    # GIVEN a decision staged with its writer's claim running a minute
    create_idempotency_table(clients, TABLE)
    journal = DecisionJournal(TABLE, client=clients.dynamodb)
    now = datetime.now(UTC)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/1"

    def staged(decision_id: str, deadline: datetime) -> StagedDecision:
        detail = DecisionDetail(
            decision_id=decision_id, model_package_arn=arn, verdict="Held", flow="approval", decided_at=now
        )
        return StagedDecision(detail=detail, request={"ModelPackageArn": arn}, deadline=deadline)

    assert journal.stage(staged("first", now + timedelta(seconds=60)), now=now)
    # THEN another writer cannot stage over it while it runs, and can once its claim is over (or released)
    assert not journal.stage(staged("second", now + timedelta(seconds=60)), now=now)
    assert journal.stage(staged("second", now + timedelta(seconds=60)), now=now + timedelta(seconds=62))
    pending = journal.pending(arn)
    assert pending is not None and pending.detail.decision_id == "second"
    journal.release(arn, "second", now)
    assert journal.stage(staged("third", now + timedelta(seconds=60)), now=now + timedelta(seconds=2))
