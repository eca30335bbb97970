"""Reports written to exhaust or mislead the approval function, through its deployed handler (issue #14).

A report is read in full into a function of a few hundred MiB; one written to exhaust it is refused by its
shape (values, depth) before it is parsed, and the version is rejected on that, saying why. A report that
answers one metric twice leaves the policy's "first one" to whoever wrote the report: refused as ambiguous,
as a repeated key is. Outcomes only: what the refusal costs is measured by ``bench/hostile_reports.py``.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from handlers import approval
from registrar.reports import DEFAULT_MAX_BYTES, MAX_VALUES
from tests.reliability.world import TABLE, World, failed_records, invoke, lambda_environment

# The report of the issue: 5,241,073 bytes of [{},{},...], within the 5 MiB a report may have.
HOSTILE_SIZE = 5_241_073
LISTED_METRICS_POLICY = """\
version: 1
rules:
  - groups: ["churn-*"]
    approve_when:
      - metric: "metrics[?name=='auc'].value | [0]"
        min: 0.85
        max: 1.0
    on_failure: reject
"""


def empty_objects(size: int) -> bytes:
    """``[{},{},...]`` of exactly ``size`` bytes (padded with spaces)."""
    body = b"[" + b",".join([b"{}"] * ((size - 1) // 3)) + b"]"
    return body + b" " * (size - len(body))


def test_a_report_of_five_mebibytes_of_empty_objects_is_refused_and_the_version_rejected(
    world: World, outcomes: list[Any]
) -> None:
    # GIVEN a version whose report is the hostile one
    body = empty_objects(HOSTILE_SIZE)
    assert len(body) == HOSTILE_SIZE <= DEFAULT_MAX_BYTES
    arn = world.package(report=body)
    # WHEN its event is handled
    response = invoke(approval.handler, world.creation_event(arn))
    # THEN the record succeeds and the version is rejected on the report's shape, before it was parsed
    assert failed_records(response) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Rejected"
    (outcome,) = outcomes
    assert any(f"holds more than {MAX_VALUES} values" in reason for reason in outcome.reasons)


def test_a_metric_the_report_answers_twice_is_refused_as_ambiguous(
    world: World, outcomes: list[Any], tmp_path: pathlib.Path
) -> None:
    # GIVEN a policy picking each metric out of a list by name (the first so named), and a report listing auc twice:
    # first a passing value, then a failing one
    policy = tmp_path / "policy.yaml"
    policy.write_text(LISTED_METRICS_POLICY)
    report = {"metrics": [{"name": "auc", "value": 0.95}, {"name": "auc", "value": 0.51}]}
    arn = world.package(report=json.dumps(report).encode())
    # WHEN the version's event is handled under that policy
    with lambda_environment(world.emulator, REGISTRAR_TABLE_NAME=TABLE, REGISTRAR_POLICY_FILE=str(policy)):
        response = invoke(approval.handler, world.creation_event(arn))
    # THEN the version is rejected: which auc is "the first" was the report writer's to choose
    assert failed_records(response) == 0
    assert world.describe(arn)["ModelApprovalStatus"] == "Rejected"
    (outcome,) = outcomes
    assert any("ambiguous" in reason for reason in outcome.reasons)
