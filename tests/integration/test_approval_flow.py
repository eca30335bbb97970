"""The approval flow end to end against the emulator.

Every events/approval sample runs, alone against the state its README documents, through `registrar apply`
and through the approval Lambda handler; the package is described afterwards. Then duplicates (one
UpdateModelPackage, not two), `registrar plan`, poison records and the loop guard.

Each sample is run once per path by a module fixture (a fresh emulator state per sample); the tests
assert on those runs. Building registrar's clients costs more than handling an event, so this keeps the
module fast without sharing state between samples.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from handlers import approval
from registrar_dev.emulator import Emulator
from registrar_dev.outcomes import listening
from registrar_dev.support import APPROVAL_SAMPLES, CallCounter, fresh_container, sqs_event, sqs_record
from tests.integration.scenario import (
    LAMBDA_ENVIRONMENT,
    POLICY,
    Clients,
    approval_event_path,
    build_approval_state,
    create_idempotency_table,
    emulator_environment,
    lambda_context,
    read_event,
    run_cli,
)

TABLE = "registrar-integration-idempotency"
RESULT_KEYS = {"outcome", "model_package_arn", "request", "reasons"}


@dataclass(frozen=True)
class Documented:
    """What events/approval/README.md says a sample does, run alone against its documented state."""

    outcome: str
    verdict: str | None  # None: nothing decided, nothing written
    status_after: str
    explains: str | None = None  # text the ApprovalDescription must contain
    life_cycle: bool = False  # the churn rule's on_approval sets ModelLifeCycle Production/Approved


DOCUMENTED = {
    "passing": Documented(
        "updated", "Approved", "Approved", "auc 0.91 ≥ min 0.85 and ≤ max 1; recall 0.72 ≥ min 0.6 and ≤ max 1", True
    ),
    "failing": Documented("updated", "Rejected", "Rejected", "auc 0.81 < min 0.85; recall 0.71 ≥ min 0.6 and ≤ max 1"),
    "missing-report": Documented("updated", "Rejected", "Rejected", "cannot be read: NoSuchKey"),
    "nan-metric": Documented("updated", "Rejected", "Rejected", "auc is NaN"),
    "human-decided": Documented("skipped", None, "Approved"),
    "unmatched-group": Documented("skipped", None, "PendingManualApproval"),
    "duplicate": Documented("updated", "Approved", "Approved", "auc 0.91 ≥ min 0.85", True),
    "processing-completed": Documented(
        "updated", "Approved", "Approved", "auc 0.88 ≥ min 0.8 and ≤ max 1; f1 0.7 ≥ min 0.5 and ≤ max 1"
    ),
    "failed-job": Documented(
        "updated", "Held", "PendingManualApproval", "evaluation job credit-risk-evaluation-2 Failed"
    ),
}


@dataclass(frozen=True)
class Run:
    """One sample handled alone against its documented state."""

    arn: str  # the package the sample is about
    status: int | None  # `registrar apply`'s exit status
    printed: list[dict[str, Any]]  # `registrar apply`'s JSON lines
    response: dict[str, Any] | None  # the handler's response
    described: dict[str, Any]  # DescribeModelPackage afterwards
    updates: int  # UpdateModelPackage calls registrar made
    job: dict[str, Any] | None  # DescribeProcessingJob of the sample's job, if any


def _describe_job(clients: Clients, name: str) -> dict[str, Any] | None:
    detail = read_event(approval_event_path(name))["detail"]
    if "ProcessingJobName" not in detail:
        return None
    job: dict[str, Any] = clients.sagemaker.describe_processing_job(ProcessingJobName=detail["ProcessingJobName"])
    return job


@pytest.fixture(scope="module")
def applied(emulator: Emulator) -> dict[str, Run]:
    """Every sample through `registrar apply --policy events/policy.yaml`, each on a fresh documented state."""
    runs: dict[str, Run] = {}
    with emulator_environment(emulator):
        clients, calls = Clients.of(emulator), CallCounter().start()
        for name in APPROVAL_SAMPLES:
            emulator.reset()
            arn = build_approval_state(clients)[name]
            calls.clear()
            status, printed, _ = run_cli("apply", str(approval_event_path(name)), "--policy", str(POLICY))
            runs[name] = Run(
                arn=arn,
                status=status,
                printed=printed,
                response=None,
                described=clients.describe(arn),
                updates=calls.count("UpdateModelPackage"),
                job=_describe_job(clients, name),
            )
    return runs


@pytest.fixture(scope="module")
def handled(emulator: Emulator) -> dict[str, Run]:
    """Every sample through the approval Lambda handler (idempotency table configured), each on a fresh state."""
    runs: dict[str, Run] = {}
    with emulator_environment(emulator, REGISTRAR_TABLE_NAME=TABLE, **LAMBDA_ENVIRONMENT):
        clients, calls = Clients.of(emulator), CallCounter().start()
        for name in APPROVAL_SAMPLES:
            emulator.reset()
            arn = build_approval_state(clients)[name]
            create_idempotency_table(clients, TABLE)
            calls.clear()
            response = invoke(sqs_event([body(name)]))
            runs[name] = Run(
                arn=arn,
                status=None,
                printed=[],
                response=response,
                described=clients.describe(arn),
                updates=calls.count("UpdateModelPackage"),
                job=_describe_job(clients, name),
            )
    return runs


@pytest.fixture
def clients(aws: Emulator) -> Clients:
    return Clients.of(aws)


@pytest.fixture
def state(clients: Clients) -> dict[str, str]:
    """The emulator state events/approval/README.md documents; sample -> package ARN."""
    return build_approval_state(clients)


@pytest.fixture
def container(aws: Emulator) -> Iterator[None]:
    """A new Lambda container for the test: no settings, flow or client an earlier test cached."""
    fresh_container()
    yield
    fresh_container()


@pytest.fixture
def calls(container: None) -> CallCounter:
    """AWS calls registrar's clients make during the test.

    Started after :func:`container`: rebuilding the clients forgets the observers of the old ones.
    """
    return CallCounter().start()


@pytest.fixture
def lambda_env(container: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The approval function's environment, without an idempotency table (read on the container's first event)."""
    for variable, value in LAMBDA_ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("REGISTRAR_TABLE_NAME", raising=False)


@pytest.fixture
def idempotency(lambda_env: None, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> str:
    """The idempotency table (key ``id``), configured as the deployed function has it."""
    create_idempotency_table(clients, TABLE)
    monkeypatch.setenv("REGISTRAR_TABLE_NAME", TABLE)
    return TABLE


def apply(path: pathlib.Path, command: str = "apply") -> tuple[int, dict[str, Any]]:
    """`registrar <command> <path> --policy events/policy.yaml`: its exit status and the one JSON object printed."""
    status, [printed], _ = run_cli(command, str(path), "--policy", str(POLICY))
    return status, printed


def body(name: str) -> str:
    return approval_event_path(name).read_text()


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the approval Lambda handler as the SQS event source mapping does."""
    return approval.handler(event, lambda_context("registrar-approval"))


def registrar_metadata(described: dict[str, Any]) -> dict[str, str]:
    metadata = described.get("CustomerMetadataProperties") or {}
    return {key: value for key, value in metadata.items() if key.startswith("registrar:")}


def assert_documented_state(name: str, described: dict[str, Any]) -> None:
    """The package is as events/approval/README.md says after the sample was handled."""
    documented = DOCUMENTED[name]
    assert described["ModelApprovalStatus"] == documented.status_after
    if documented.verdict is None:
        assert "ApprovalDescription" not in described
        assert registrar_metadata(described) == {}
        return
    description = described["ApprovalDescription"]
    assert description.startswith(f"registrar: {documented.verdict} — ")
    assert documented.explains is not None and documented.explains in description
    metadata = registrar_metadata(described)
    assert metadata["registrar:verdict"] == documented.verdict
    assert {"registrar:policy", "registrar:evidence", "registrar:decided-by"} <= metadata.keys()
    if documented.life_cycle:
        assert (described["ModelLifeCycle"]["Stage"], described["ModelLifeCycle"]["StageStatus"]) == (
            "Production",
            "Approved",
        )
    else:
        assert "ModelLifeCycle" not in described


# Every sample through `registrar apply` ------------------------------------------------------------


@pytest.mark.parametrize("name", APPROVAL_SAMPLES)
def test_apply_prints_documented_outcome(name: str, applied: dict[str, Run]) -> None:
    # GIVEN the state the sample expects
    # WHEN `registrar apply` handled it with the demo policy
    run = applied[name]

    # THEN it printed one JSON object with the documented outcome for the sample's package, and exited 0
    [printed] = run.printed
    assert set(printed) == RESULT_KEYS
    assert (run.status, printed["outcome"], printed["model_package_arn"]) == (0, DOCUMENTED[name].outcome, run.arn)
    assert printed["reasons"]


@pytest.mark.parametrize("name", APPROVAL_SAMPLES)
def test_apply_prints_the_request_it_sent(name: str, applied: dict[str, Run]) -> None:
    # GIVEN the state the sample expects
    # WHEN `registrar apply` handled it
    run = applied[name]

    # THEN an update printed its UpdateModelPackage request, sent once; anything else printed and sent none
    request = run.printed[0]["request"]
    if DOCUMENTED[name].outcome == "updated":
        assert (request["ModelPackageArn"], bool(request["ClientToken"]), run.updates) == (run.arn, True, 1)
    else:
        assert (request, run.updates) == (None, 0)


@pytest.mark.parametrize("name", APPROVAL_SAMPLES)
def test_apply_leaves_package_as_documented(name: str, applied: dict[str, Run]) -> None:
    # GIVEN the state the sample expects
    # WHEN `registrar apply` handled it
    # THEN DescribeModelPackage shows the documented status, explanation and registrar:* metadata
    assert_documented_state(name, applied[name].described)


def test_apply_failed_job_cites_job_failure_reason(applied: dict[str, Run]) -> None:
    # GIVEN credit-risk-evaluation-2, which the emulator ended Failed (tag emulator:outcome=Failed)
    run = applied["failed-job"]
    assert run.job is not None and run.job["ProcessingJobStatus"] == "Failed"

    # WHEN `registrar apply` handled the job's event
    # THEN the held package's description quotes the job's own FailureReason
    assert run.job["FailureReason"] in run.described["ApprovalDescription"]


def test_plan_prints_request_and_writes_nothing(state: dict[str, str], clients: Clients, calls: CallCounter) -> None:
    # GIVEN churn-model/1 pending, with a passing report
    before = clients.describe(state["passing"])

    # WHEN `registrar plan` handles passing.json
    status, printed = apply(approval_event_path("passing"), command="plan")

    # THEN it prints the approval it would send, sends nothing, and the package is as it was
    assert (status, printed["outcome"], printed["request"]["ModelApprovalStatus"]) == (0, "updated", "Approved")
    assert calls.count("UpdateModelPackage") == 0
    assert clients.describe(state["passing"]) == before


def test_apply_duplicate_after_passing_is_unchanged(state: dict[str, str], calls: CallCounter) -> None:
    # GIVEN passing.json applied
    apply(approval_event_path("passing"))

    # WHEN duplicate.json (same package, state and time; another id) is applied
    status, printed = apply(approval_event_path("duplicate"))

    # THEN it is unchanged, and only the first event wrote
    assert (status, printed["outcome"], printed["request"]) == (0, "unchanged", None)
    assert calls.count("UpdateModelPackage") == 1


def test_apply_skips_own_write_event_without_sagemaker_calls(
    state: dict[str, str], clients: Clients, calls: CallCounter, tmp_path: pathlib.Path
) -> None:
    # GIVEN passing.json's package (pending: it would be approved) in an event reporting only fields registrar writes
    event = read_event(approval_event_path("passing"))
    event["detail"]["UpdatedModelPackageFields"] = ["ApprovalDescription", "CustomerMetadataProperties"]
    path = tmp_path / "own-write.json"
    path.write_text(json.dumps(event))

    # WHEN `registrar apply` handles it
    status, printed = apply(path)

    # THEN the loop guard skips it before any SageMaker call, and the package stays pending
    assert (status, printed["outcome"]) == (0, "skipped")
    assert calls.count() == 0
    assert clients.describe(state["passing"])["ModelApprovalStatus"] == "PendingManualApproval"


# Every sample through the Lambda handler -----------------------------------------------------------


@pytest.mark.parametrize("name", APPROVAL_SAMPLES)
def test_handler_reports_no_failed_record(name: str, handled: dict[str, Run]) -> None:
    # GIVEN the state the sample expects and the deployed function's configuration
    # WHEN the handler received the sample in an SQS record
    # THEN the record succeeded
    assert handled[name].response == {"batchItemFailures": []}


@pytest.mark.parametrize("name", APPROVAL_SAMPLES)
def test_handler_leaves_package_as_documented(name: str, handled: dict[str, Run]) -> None:
    # GIVEN the state the sample expects and the deployed function's configuration
    # WHEN the handler received the sample in an SQS record
    run = handled[name]

    # THEN the package is as the README documents, written at most once
    assert_documented_state(name, run.described)
    assert run.updates == (1 if DOCUMENTED[name].outcome == "updated" else 0)


def test_handler_duplicate_event_updates_once(state: dict[str, str], calls: CallCounter, idempotency: str) -> None:
    # GIVEN passing.json handled
    invoke(sqs_event([body("passing")]))

    # WHEN duplicate.json (another id, same subject) arrives in a later invocation
    invoke(sqs_event([body("duplicate")]))

    # THEN UpdateModelPackage was called once in all
    assert calls.count("UpdateModelPackage") == 1


def test_handler_duplicate_event_costs_one_describe_and_no_write(
    state: dict[str, str], calls: CallCounter, idempotency: str
) -> None:
    # GIVEN passing.json handled, with the idempotency table configured
    invoke(sqs_event([body("passing")]))
    calls.clear()

    # WHEN duplicate.json arrives
    response = invoke(sqs_event([body("duplicate")]))

    # THEN it succeeds after one DescribeModelPackage and no write: the subject is the version as read back,
    # which the approval changed, so the duplicate is decided again from that one read and found unchanged
    assert response == {"batchItemFailures": []}
    assert [operation for service, operation, _ in calls.made if service == "sagemaker"] == ["DescribeModelPackage"]


def test_handler_duplicate_job_event_is_answered_from_the_idempotency_record(
    state: dict[str, str], calls: CallCounter, idempotency: str
) -> None:
    # GIVEN processing-completed.json handled (credit-risk/1 approved), with the idempotency table configured
    handled: list[str] = []
    with listening(lambda outcome, _subject: handled.append(outcome.outcome)):
        invoke(sqs_event([body("processing-completed")]))
        assert handled == ["updated"]
        handled.clear()
        calls.clear()

        # WHEN the same job's event arrives again (its subject, the job as described, has not changed)
        response = invoke(sqs_event([body("processing-completed")]))

    # THEN it succeeds from the idempotency record: the resolve step's reads only, no decision logged, no write
    assert response == {"batchItemFailures": []}
    assert [operation for service, operation, _ in calls.made if service == "sagemaker"] == [
        "DescribeProcessingJob",
        "ListTags",
        "DescribeModelPackage",
    ]
    assert calls.count(service="s3") == 0
    assert handled == []


def test_handler_same_record_twice_in_one_batch_updates_once(
    state: dict[str, str], calls: CallCounter, idempotency: str
) -> None:
    # GIVEN/WHEN one batch carries passing.json twice (two messages)
    response = invoke(sqs_event([body("passing"), body("passing")]))

    # THEN both records succeed and UpdateModelPackage was called once
    assert response == {"batchItemFailures": []}
    assert calls.count("UpdateModelPackage") == 1


def test_handler_same_event_in_two_invocations_updates_once(
    state: dict[str, str], calls: CallCounter, idempotency: str
) -> None:
    # GIVEN the record of passing.json, delivered once
    event = {"Records": [sqs_record(body("passing"))]}
    invoke(event)

    # WHEN SQS delivers the very same record again
    response = invoke(event)

    # THEN the redelivery succeeds and UpdateModelPackage was called once in all
    assert response == {"batchItemFailures": []}
    assert calls.count("UpdateModelPackage") == 1


def test_handler_without_idempotency_table_writes_duplicate_once(
    state: dict[str, str], calls: CallCounter, lambda_env: None
) -> None:
    # GIVEN no idempotency table, and passing.json handled
    invoke(sqs_event([body("passing")]))

    # WHEN duplicate.json arrives
    response = invoke(sqs_event([body("duplicate")]))

    # THEN the package's own state still stops a second write
    assert response == {"batchItemFailures": []}
    assert calls.count("UpdateModelPackage") == 1


def test_handler_reports_poison_records_and_handles_the_rest(
    state: dict[str, str], clients: Clients, idempotency: str
) -> None:
    # GIVEN a batch of a body that is not JSON, an event of an unknown detail-type, and passing.json
    unknown = read_event(approval_event_path("passing"))
    unknown["detail-type"] = "SageMaker Training Job State Change"
    event = sqs_event(["{not json", json.dumps(unknown), body("passing")])
    poison = [record["messageId"] for record in event["Records"][:2]]

    # WHEN the handler receives it
    response = invoke(event)

    # THEN exactly the two poison records are reported for redelivery, and passing.json was applied
    assert sorted(item["itemIdentifier"] for item in response["batchItemFailures"]) == sorted(poison)
    assert clients.describe(state["passing"])["ModelApprovalStatus"] == "Approved"


def test_handler_skips_emulator_event_of_its_own_write_without_sagemaker_calls(
    state: dict[str, str],
    calls: CallCounter,
    idempotency: str,
    sagemaker_events: Callable[[], list[dict[str, Any]]],
) -> None:
    # GIVEN failed-job.json handled (a Held decision writes only the description and metadata), and the
    # model package event SageMaker (the emulator) published about that write
    sagemaker_events()
    invoke(sqs_event([body("failed-job")]))
    [own_write] = [e for e in sagemaker_events() if e["detail-type"] == "SageMaker Model Package State Change"]
    assert own_write["detail"]["UpdatedModelPackageFields"] == ["ApprovalDescription", "CustomerMetadataProperties"]
    calls.clear()

    # WHEN that event comes back to the handler
    response = invoke(sqs_event([json.dumps(own_write)]))

    # THEN it succeeds without a single SageMaker call (the loop guard)
    assert response == {"batchItemFailures": []}
    assert calls.count() == 0
