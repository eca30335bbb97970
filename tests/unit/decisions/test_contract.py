"""The Registrar Decision contract: what docs/events.md promises is what the model accepts and produces."""

from __future__ import annotations

import json
import pathlib
import re
import typing
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from registrar.decisions.contract import (
    DECISION_DETAIL_TYPE,
    DECISION_PATTERN,
    DecisionDetail,
    DecisionVerdict,
    MetricReading,
    put_events_entry,
    summarise,
)

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "events.md"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"


def documented_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## `Registrar Decision`") :]


def documented_example() -> dict[str, typing.Any]:
    blocks = re.findall(r"```json\n(.*?)```", documented_section(), flags=re.DOTALL)
    event: dict[str, typing.Any] = json.loads(blocks[-1])
    return event


def detail(**members: typing.Any) -> DecisionDetail:
    defaults: dict[str, typing.Any] = {
        "decision_id": "token",
        "model_package_arn": ARN,
        "verdict": "Held",
        "flow": "approval",
        "decided_at": datetime(2026, 12, 3, tzinfo=UTC),
    }
    return DecisionDetail(**{**defaults, **members})


def test_the_documented_example_is_a_valid_event_of_schema_1() -> None:
    event = documented_example()
    parsed = DecisionDetail.model_validate(event["detail"])
    assert (event["source"], event["detail-type"]) == ("registrar", DECISION_DETAIL_TYPE)
    assert event["resources"] == [parsed.model_package_arn]
    assert parsed.schema_version == 1
    assert parsed.to_json() == event["detail"]  # nothing in the example that the model would not publish


def test_the_documented_example_matches_the_documented_subscription_pattern() -> None:
    from moto.events.models import EventPattern
    from moto.events.utils import EventMessageType

    event = typing.cast(EventMessageType, documented_example())
    assert EventPattern.load(json.dumps(DECISION_PATTERN)).matches_event(event)


def test_every_verdict_is_documented() -> None:
    section = documented_section()
    missing = [verdict for verdict in typing.get_args(DecisionVerdict) if f"`{verdict}`" not in section]
    assert missing == []


def test_every_member_is_documented() -> None:
    section = documented_section()
    members = [field.alias or name for name, field in DecisionDetail.model_fields.items()]
    assert [member for member in members if f"`{member}`" not in section] == []


def test_a_detail_survives_the_trip_through_json() -> None:
    reading = MetricReading(name="auc", expression="m.auc", value=0.81, min=0.85, passed=False, text="auc 0.81 < 0.85")
    sent = detail(metrics=[reading], reasons=["auc 0.81 < min 0.85"], rule=1, policy_digest="abc1234")
    entry = put_events_entry(sent)
    received = DecisionDetail.model_validate(json.loads(entry["Detail"]))
    assert received == sent
    assert (entry["Source"], entry["DetailType"], entry["Resources"]) == ("registrar", DECISION_DETAIL_TYPE, [ARN])
    assert json.loads(entry["Detail"])["schema"] == 1


def test_the_summary_states_the_version_verdict_numbers_and_reasons() -> None:
    reading = MetricReading(name="auc", expression="m.auc", value=0.81, min=0.85, passed=False, text="auc 0.81 < 0.85")
    made = detail(
        model_package_group="churn-model",
        model_package_version=3,
        verdict="Rejected",
        previous_status="PendingManualApproval",
        status="Rejected",
        metrics=[reading],
        reasons=["auc 0.81 < 0.85", "on_failure is reject"],
        evidence="s3://reports/churn/3.json",
    )
    assert made.summary == summarise(made)  # a reason that repeats a metric's text is said once
    assert made.summary.splitlines() == [
        "churn-model version 3: Rejected by registrar",
        "status: PendingManualApproval -> Rejected",
        "- auc 0.81 < 0.85",
        "- on_failure is reject",
        "evidence: s3://reports/churn/3.json",
        f"model package: {ARN}",
    ]


def test_a_person_is_named_in_the_summary() -> None:
    assert detail(decided_by="alice@example.com", flow="person").summary.startswith(
        f"{ARN}: Held for a human by alice@example.com"
    )


@pytest.mark.parametrize(
    ("member", "value"),
    [("schema", 2), ("verdict", "Maybe"), ("flow", "cron"), ("decision_id", ""), ("surprise", 1)],
)
def test_a_detail_outside_the_contract_is_refused_naming_the_member(member: str, value: typing.Any) -> None:
    payload = {**detail().to_json(), member: value}
    with pytest.raises(ValidationError, match=member):
        DecisionDetail.model_validate(payload)


def test_the_documented_summary_is_what_registrar_writes() -> None:
    published = documented_example()["detail"]
    recomputed = DecisionDetail.model_validate({key: value for key, value in published.items() if key != "summary"})
    assert recomputed.summary == published["summary"]


@pytest.mark.parametrize(
    "sample", sorted((DOC.parents[1] / "events" / "decisions").glob("*.json")), ids=lambda p: p.stem
)
def test_every_decision_sample_is_a_valid_event_of_the_contract(sample: pathlib.Path) -> None:
    event = json.loads(sample.read_text(encoding="utf-8"))
    parsed = DecisionDetail.model_validate(event["detail"])
    assert event["resources"] == [parsed.model_package_arn]
    assert parsed.summary == DecisionDetail.model_validate({**event["detail"], "summary": ""}).summary
