"""`registrar history` and `registrar rollback` on the emulator: the writes, their records and decisions, re-runs.

Each test has its own group (the emulator is shared by the session's tests).
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from registrar.decisions.announce import announcer_for
from registrar.decisions.contract import DECISION_PATTERN, DecisionDetail
from registrar.patterns import for_account
from registrar.registry import Registry
from registrar.settings import Settings
from registrar.updates import PackageUpdate
from registrar_cli import main as cli
from registrar_cli.rollback import arguments, rollback
from registrar_dev.emulator import Emulator
from registrar_dev.support import ACCOUNT, CallCounter
from tests.integration.scenario import run_cli

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

Receive = Callable[[], list[DecisionDetail]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def approve(sagemaker: SageMakerClient, arn: str, auc: str) -> None:
    """Approve a version as registrar's approval flow records it."""
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=f"registrar: Approved — auc {auc} ≥ min 0.85 and ≤ max 1 (policy 3f2a9c1)",
        CustomerMetadataProperties={
            "registrar:verdict": "Approved",
            "registrar:policy": "3f2a9c1",
            "registrar:evidence": "none",
            "registrar:decided-by": "rule 1: rollback-...",
            "registrar:metric:auc": auc,
        },
    )


@pytest.fixture
def approved_in_turn(make_package: Callable[..., str], sagemaker: SageMakerClient) -> tuple[str, str, str]:
    """A new group whose v1, then v2, were approved: (group, v1 ARN, v2 ARN)."""
    group = unique("rollback")
    first = make_package(group=group)
    approve(sagemaker, first, "0.9")
    second = make_package(group=group)
    approve(sagemaker, second, "0.91")
    return group, first, second


@pytest.fixture
def decisions(aws: Emulator) -> Receive:
    """A rule on the default bus for source registrar / detail-type Registrar Decision, targeting an SQS queue."""
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    name = unique("rollback-decisions")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps(for_account(DECISION_PATTERN, ACCOUNT)))
    events.put_targets(Rule=name, Targets=[{"Id": "subscriber", "Arn": queue_arn}])

    def receive() -> list[DecisionDetail]:
        received: list[DecisionDetail] = []
        for _ in range(3):  # the emulator delivers synchronously; a few empty answers in a row are margin
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
                envelope = json.loads(message["Body"])
                assert (envelope["source"], envelope["detail-type"]) == ("registrar", "Registrar Decision")
                received.append(DecisionDetail.model_validate(envelope["detail"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    return receive


def described(sagemaker: SageMakerClient, arn: str) -> dict[str, Any]:
    return dict(sagemaker.describe_model_package(ModelPackageName=arn))


def run_text(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def test_rollback_rejects_the_champion_restores_the_previous_and_runs_again_unchanged(
    approved_in_turn: tuple[str, str, str], sagemaker: SageMakerClient, decisions: Receive
) -> None:
    # GIVEN v1 and v2 approved in turn, and a subscriber to registrar's decisions
    group, v1, v2 = approved_in_turn

    # WHEN the group is rolled back
    status, printed, stderr = run_cli("rollback", group, "--by", "ops", "--reason", "test")

    # THEN v1 is restored first, then v2 rejected, both recording who, why and the other version
    assert (status, stderr) == (0, "")
    assert [(line["outcome"], line["model_package_arn"]) for line in printed] == [("updated", v1), ("updated", v2)]
    rejected, restored = described(sagemaker, v2), described(sagemaker, v1)
    assert (rejected["ModelApprovalStatus"], rejected["ApprovalDescription"]) == (
        "Rejected",
        "rolled back to v1 by ops: test",
    )
    assert (restored["ModelApprovalStatus"], restored["ApprovalDescription"]) == ("Approved", "restored by ops: test")
    for entry, verdict, other in ((rejected, "Rejected", "to v1"), (restored, "Approved", "from v2")):
        records = entry["CustomerMetadataProperties"]
        assert (records["registrar:verdict"], records["registrar:decided-by"]) == (verdict, "person:ops")
        assert records["registrar:rollback"] == f"{other} at {records['registrar:decided-at']}"
    # and exactly two decisions were published, one per write, flow rollback, decided by ops
    received = decisions()
    assert [(d.model_package_arn, d.verdict, d.flow, d.decided_by) for d in received] == [
        (v1, "Approved", "rollback", "ops"),
        (v2, "Rejected", "rollback", "ops"),
    ]

    # WHEN it is run again
    status, printed, _ = run_cli("rollback", group, "--by", "ops", "--reason", "test")

    # THEN both versions are unchanged, nothing is written and nothing published
    assert status == 0
    assert [(line["outcome"], line["request"]) for line in printed] == [("unchanged", None), ("unchanged", None)]
    assert described(sagemaker, v2)["LastModifiedTime"] == rejected["LastModifiedTime"]
    assert decisions() == []


class KilledError(Exception):
    """The process ends here."""


class CrashAfterFirstWrite:
    """The emulator's registry, but the process 'dies' right after its first write lands."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.registry, name)

    def update(self, update: PackageUpdate) -> str:
        answer = self.registry.update(update)
        self.writes += 1
        if self.writes == 1:
            raise KilledError("killed between the two writes")
        return answer


def test_crash_between_the_writes_then_running_again_completes_it(
    aws: Emulator, approved_in_turn: tuple[str, str, str], sagemaker: SageMakerClient, decisions: Receive
) -> None:
    # GIVEN a rollback that dies right after restoring v1
    group, v1, v2 = approved_in_turn
    crashing = CrashAfterFirstWrite(Registry(endpoint_url=aws.endpoint, region=aws.region))
    request = arguments(group=group, to=None, by="ops", reason="test", force=False)
    announcer = announcer_for(Settings(), endpoint_url=aws.endpoint, region=aws.region)
    with pytest.raises(KilledError):
        list(rollback(request, registry=crashing, announcer=announcer))
    half = described(sagemaker, v1)["CustomerMetadataProperties"]
    assert half["registrar:rollback"].startswith("from v2 at ")
    assert described(sagemaker, v2)["ModelApprovalStatus"] == "Approved"

    # WHEN the command is run again
    status, printed, _ = run_cli("rollback", group, "--by", "ops", "--reason", "test")

    # THEN it completes the same rollback: v1 unchanged, v2 rejected with the first run's time
    assert status == 0
    assert [(line["outcome"], line["model_package_arn"]) for line in printed] == [("unchanged", v1), ("updated", v2)]
    rejected = described(sagemaker, v2)
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert rejected["CustomerMetadataProperties"]["registrar:rollback"] == f"to v1 at {half['registrar:decided-at']}"
    # the crash lost the first write's decision (no journal configured); the completion published its own
    assert [(d.model_package_arn, d.verdict) for d in decisions()] == [(v2, "Rejected")]
    assert [line["outcome"] for line in run_cli("rollback", group, "--by", "ops", "--reason", "test")[1]] == [
        "unchanged",
        "unchanged",
    ]


def test_dry_run_prints_both_requests_and_writes_nothing(
    approved_in_turn: tuple[str, str, str], sagemaker: SageMakerClient, decisions: Receive
) -> None:
    # GIVEN v1 and v2 approved in turn
    group, v1, v2 = approved_in_turn
    before = {arn: described(sagemaker, arn)["LastModifiedTime"] for arn in (v1, v2)}

    # WHEN the rollback is planned only
    status, printed, _ = run_cli("rollback", group, "--by", "ops", "--reason", "test", "--dry-run")

    # THEN both requests are printed, and no version was written, no decision published
    assert status == 0
    assert [line["request"]["ModelPackageArn"] for line in printed] == [v1, v2]
    assert printed[1]["request"]["ModelApprovalStatus"] == "Rejected"
    assert {arn: described(sagemaker, arn)["LastModifiedTime"] for arn in (v1, v2)} == before
    assert decisions() == []


def test_history_json_lists_every_version_with_status_and_who_decided(
    approved_in_turn: tuple[str, str, str],
) -> None:
    # GIVEN v1 and v2 approved in turn, then rolled back
    group, v1, v2 = approved_in_turn
    calls = CallCounter().start()
    status, printed, _ = run_text("history", group, "--json")
    before = json.loads(printed)
    assert status == 0
    # (one ListModelPackages page, one DescribeModelPackage per version)
    assert (calls.count("ListModelPackages"), calls.count("DescribeModelPackage"), calls.count()) == (1, 2, 3)
    assert [(entry["version"], entry["decided_by"]["kind"]) for entry in before] == [(2, "registrar"), (1, "registrar")]
    run_cli("rollback", group, "--by", "ops", "--reason", "test")

    # WHEN its history is printed as JSON
    status, printed, _ = run_text("history", group, "--json")
    after = json.loads(printed)

    # THEN both versions are listed newest first, with their statuses, who decided and the rollback
    assert status == 0
    assert [
        (entry["model_package_arn"], entry["status"], entry["decided_by"]["kind"], entry["decided_by"]["name"])
        for entry in after
    ] == [(v2, "Rejected", "person", "ops"), (v1, "Approved", "person", "ops")]
    assert [entry["rollback"]["direction"] for entry in after] == ["to", "from"]
    assert after[0]["metrics"][0]["name"] == "auc"

    # and as text, a block per version
    status, text, _ = run_text("history", group, "--limit", "1")
    assert status == 0
    assert text.splitlines()[0] == f"{group} v2  Rejected"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("history", "not_a_group"), "registrar: GROUP 'not_a_group': not a model package group name"),
        (("history", "group", "--limit", "500"), "registrar: --limit 500: must be 1-100"),
        (("rollback", "group", "--by", "ops", "--reason", ""), "registrar: --reason '': "),
        (("rollback", "group", "--reason", "x"), "registrar rollback: the following arguments are required: --by"),
    ],
)
def test_invalid_arguments_exit_2_with_one_line(aws: Emulator, argv: tuple[str, ...], line: str) -> None:
    status, printed, stderr = run_text(*argv)
    assert (status, printed) == (2, "")
    [only] = stderr.splitlines()
    assert only.startswith(line)


def test_rollback_to_a_version_never_approved_is_refused_without_force(
    approved_in_turn: tuple[str, str, str], make_package: Callable[..., str], sagemaker: SageMakerClient
) -> None:
    # GIVEN v1 and v2 approved in turn, then v1 rejected outside registrar and its verdict removed
    group, v1, _ = approved_in_turn
    sagemaker.update_model_package(
        ModelPackageArn=v1, ModelApprovalStatus="Rejected", CustomerMetadataPropertiesToRemove=["registrar:verdict"]
    )

    # WHEN v2 is rolled back to v1 without --force
    status, printed, stderr = run_text("rollback", group, "--to", "1", "--by", "ops", "--reason", "test")

    # THEN it is refused in one line, nothing written
    assert (status, printed) == (2, "")
    [line] = stderr.splitlines()
    assert "v1 was never Approved as far as its records show" in line and "--force" in line
    assert described(sagemaker, v1)["ModelApprovalStatus"] == "Rejected"

    # and with --force it is restored
    status, printed, _ = run_text("rollback", group, "--to", "v1", "--by", "ops", "--reason", "test", "--force")
    assert status == 0
    assert described(sagemaker, v1)["ModelApprovalStatus"] == "Approved"
