"""The batch handler takes the events of its own account and of the listed workload accounts, and no other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registrar.accounts import Accounts
from registrar.approval import service as approval
from registrar.batch import process_batch
from registrar.outcome import Outcome
from registrar.settings import WorkloadAccount
from registrar_dev.runner import LocalLambdaContext

SAMPLE = Path(__file__).parents[2] / "events" / "approval" / "processing-completed.json"
HOME = "123456789012"  # the account LocalLambdaContext's function runs in
WORKLOAD = "111111111111"
UNLISTED = "999999999999"


class RecordingFlow:
    """A flow that records which events reached it and resolves each to a skip (nothing to decide)."""

    def __init__(self) -> None:
        self.resolved: list[str] = []

    def resolve(self, event: Any) -> Outcome:
        self.resolved.append(event.account)
        return Outcome.skipped("recorded")

    def decide_and_write(self, target: Any, *, apply: bool = True) -> Outcome:
        raise AssertionError("nothing to decide")


def event_of(account: str) -> str:
    """The sample processing job event, as forwarded from ``account`` (its ARNs in that account)."""
    return SAMPLE.read_text().replace(HOME, account)


def handle(bodies: list[str], accounts: Accounts | None) -> tuple[RecordingFlow, list[str]]:
    records = [
        {
            "messageId": f"m{index}",
            "receiptHandle": "receipt",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:{HOME}:registrar-approval",
            "awsRegion": "us-east-1",
        }
        for index, body in enumerate(bodies)
    ]
    flow = RecordingFlow()
    context: Any = LocalLambdaContext("registrar-approval")
    response = process_batch(
        {"Records": records}, context, parse=approval.parse, flow=flow, table_name=None, accounts=accounts
    )
    return flow, [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_events_of_its_account_and_of_listed_workloads_reach_the_flow_and_others_are_poison() -> None:
    # GIVEN a deployment listing one workload account, and the same event from home, the workload and elsewhere
    accounts = Accounts(
        registry=HOME,
        workloads={
            WORKLOAD: WorkloadAccount(
                report_locations=["s3://dev-reports/"], neo_output_locations=["s3://dev-compiled/"]
            )
        },
    )
    # WHEN the batch handles them
    flow, failed = handle([event_of(HOME), event_of(WORKLOAD), event_of(UNLISTED)], accounts)
    # THEN the first two reach the flow, the third fails (and is dead-lettered after its receives) unread
    assert flow.resolved == [HOME, WORKLOAD]
    assert failed == ["m2"]


def test_without_workload_accounts_a_forwarded_event_is_poison_as_before() -> None:
    flow, failed = handle([event_of(WORKLOAD)], None)
    assert flow.resolved == []
    assert failed == ["m0"]
    assert json.loads(event_of(WORKLOAD))["account"] == WORKLOAD
