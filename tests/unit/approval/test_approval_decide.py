"""precheck() and decide(): every decision rule, purely (no AWS)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from registrar.approval.decide import Decision, desired_update, precheck
from registrar.approval.evidence import Evidence
from registrar.approval.policy import MatchedRule, Policy, parse_policy
from registrar.groups import unmanaged_reason
from registrar.package import ModelPackage
from tests.unit.approval.deciding import decided

Report = Callable[..., dict[str, Any]]
Builder = Callable[..., ModelPackage]

ONE_CONDITION = """\
version: 1
rules:
  - groups: ["churn-*"]
    approve_when:
      - metric: m.value
        {bounds}
    on_failure: {on_failure}
"""


def one_condition(bounds: str, on_failure: str = "reject") -> Policy:
    return parse_policy(ONE_CONDITION.format(bounds=bounds, on_failure=on_failure))


def evidence_for(package: ModelPackage, report: Any) -> Evidence:
    return Evidence(uri=package.quality_report_uri, report=report, subject=package.ModelPackageArn)


# --- thresholds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "value", "verdict"),
    [
        ("min: 0.85", 0.85, "Approved"),
        ("min: 0.85", 0.8499, "Rejected"),
        ("max: 0.2", 0.2, "Approved"),
        ("max: 0.2", 0.2001, "Rejected"),
        ("min: 0.1\n        max: 0.2", 0.1, "Approved"),
        ("min: 0.1\n        max: 0.2", 0.25, "Rejected"),
        ("min: 1", 1, "Approved"),
    ],
)
def test_min_and_max_are_inclusive(new_package: Builder, bounds: str, value: float, verdict: str) -> None:
    # GIVEN a condition's bounds and a value WHEN decided THEN a value on a bound passes, beyond it fails
    package = new_package()
    decision = decided(package, evidence_for(package, {"m": {"value": value}}), one_condition(bounds), None)
    assert decision.verdict == verdict


def test_every_condition_must_hold(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN auc passes but recall fails WHEN decided THEN Rejected
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.95, recall=0.5)), policy, None)
    assert decision.verdict == "Rejected"
    assert [check.passed for check in decision.checks] == [True, False]


def test_all_conditions_holding_approve(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN auc 0.91 and recall 0.72 against min 0.85 / 0.6 WHEN decided THEN Approved
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.kind == "decided"
    assert decision.verdict == "Approved"
    assert decision.rule_number == 1


# --- bad evidence: never approve ----------------------------------------------------------------

BAD_METRIC_VALUES = {
    "absent": None,
    "NaN": math.nan,
    "infinite": math.inf,
    "negative infinite": -math.inf,
    "a boolean": True,
    "a string": "0.99",
    "a list": [0.99],
    "an object": {"mean": 0.99},
    "an int too large for a float": 10**400,
}


@pytest.mark.parametrize("on_failure", ["reject", "hold"])
@pytest.mark.parametrize("kind", sorted(BAD_METRIC_VALUES))
def test_an_unusable_metric_never_approves(new_package: Builder, kind: str, on_failure: str) -> None:
    # GIVEN a metric that is not a finite number WHEN decided THEN on_failure is followed, with the reason
    package = new_package()
    value = BAD_METRIC_VALUES[kind]
    report: dict[str, Any] = {"m": {} if value is None else {"value": value}}
    decision = decided(package, evidence_for(package, report), one_condition("min: 0", on_failure), None)
    assert decision.verdict == ("Rejected" if on_failure == "reject" else "Held")
    assert decision.checks[0].passed is False
    assert decision.checks[0].problem


BAD_EVIDENCE = {
    "missing report": Evidence(problem="the package registers no report (ModelMetrics... is not set)"),
    "unreadable": Evidence(uri="s3://b/k.json", problem="report s3://b/k.json cannot be read: AccessDenied"),
    "oversized": Evidence(uri="s3://b/k.json", problem="report s3://b/k.json is 6000000 bytes, more than allowed"),
    "not JSON": Evidence(uri="s3://b/k.json", problem="report s3://b/k.json is not JSON: Expecting value"),
    "failed job": Evidence(uri="s3://b/e/evaluation.json", job_status="Failed", problem="evaluation job j Failed"),
    "stopped job": Evidence(uri="s3://b/e/evaluation.json", job_status="Stopped", problem="evaluation job j Stopped"),
    "failed job with a passing report": Evidence(
        uri="s3://b/e.json", job_status="Failed", report={"m": {"value": 1.0}}, problem="evaluation job j Failed"
    ),
    "job not finished": Evidence(uri="s3://b/e.json", job_status="InProgress", report={"m": {"value": 1.0}}),
    "no report at all": Evidence(uri="s3://b/e.json"),
}


@pytest.mark.parametrize("on_failure", ["reject", "hold"])
@pytest.mark.parametrize("kind", sorted(BAD_EVIDENCE))
def test_unusable_evidence_never_approves(new_package: Builder, kind: str, on_failure: str) -> None:
    # GIVEN evidence that cannot support an approval WHEN decided THEN on_failure is followed and the reason given
    evidence = BAD_EVIDENCE[kind]
    decision = decided(new_package(), evidence, one_condition("min: 0", on_failure), None)
    assert decision.verdict == ("Rejected" if on_failure == "reject" else "Held")
    assert decision.description is not None
    assert "no usable evidence" in decision.description
    assert any("no usable evidence" in reason for reason in decision.reasons)


def test_a_failed_job_states_its_failure(new_package: Builder, policy: Policy) -> None:
    # GIVEN a failed evaluation job WHEN decided THEN the description carries the job's failure
    evidence = Evidence(job_status="Failed", problem="evaluation job credit-eval Failed: AlgorithmError: boom")
    decision = decided(new_package(), evidence, policy, None)
    assert decision.description is not None
    assert "evaluation job credit-eval Failed: AlgorithmError: boom" in decision.description


def test_held_leaves_the_status_but_writes_the_explanation(new_package: Builder, quality_report: Report) -> None:
    # GIVEN on_failure hold and a failing metric WHEN the desired update is built
    # THEN no ModelApprovalStatus, but the description and the registrar metadata are written
    package = new_package()
    decision = decided(package, evidence_for(package, {"m": {"value": -1}}), one_condition("min: 0", "hold"), None)
    update = desired_update(decision, package)
    assert update is not None
    assert update.ModelApprovalStatus is None
    assert update.ApprovalDescription is not None
    assert update.ApprovalDescription.startswith("registrar: Held — ")
    assert update.CustomerMetadataProperties is not None
    assert update.CustomerMetadataProperties["registrar:verdict"] == "Held"


def test_rejected_sets_the_status(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a failing report under on_failure reject WHEN the desired update is built THEN Rejected is set
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.5, recall=0.9)), policy, None)
    update = desired_update(decision, package)
    assert update is not None
    assert update.ModelApprovalStatus == "Rejected"
    assert update.ModelLifeCycle is None  # on_approval applies to approvals only


def test_approval_applies_on_approval(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a passing report and on_approval's life cycle WHEN the desired update is built
    # THEN Approved and the life cycle are set together
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.9, recall=0.9)), policy, None)
    update = desired_update(decision, package)
    assert update is not None
    assert update.ModelApprovalStatus == "Approved"
    assert update.ModelLifeCycle is not None
    assert (update.ModelLifeCycle.Stage, update.ModelLifeCycle.StageStatus) == ("Production", "Approved")


def test_model_card_status_on_approval(new_package: Builder) -> None:
    # GIVEN on_approval.model_card_status WHEN approved THEN the card status is set
    policy = parse_policy(ONE_CONDITION.format(bounds="min: 0", on_failure="reject") + _ON_APPROVAL_CARD)
    package = new_package()
    update = desired_update(decided(package, evidence_for(package, {"m": {"value": 1}}), policy, None), package)
    assert update is not None
    assert update.ModelCard is not None
    assert update.ModelCard.ModelCardStatus == "Approved"


_ON_APPROVAL_CARD = "    on_approval: {model_card_status: Approved}\n"


# --- who decides what: precheck, before any evidence is read -------------------------------------


def skipped_by_precheck(package: ModelPackage, policy: Policy) -> Decision:
    screened = precheck(package, policy)
    assert isinstance(screened, Decision), f"precheck matched {screened}: the package would be decided"
    return screened


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_a_humans_decision_stands(new_package: Builder, policy: Policy, status: str) -> None:
    # GIVEN a version a human already decided WHEN prechecked (redecide not set) THEN skipped, nothing to write
    package = new_package(approval=status)
    decision = skipped_by_precheck(package, policy)
    assert decision.kind == "skipped"
    assert decision.reasons[0].startswith(f"already {status} by a human")
    assert desired_update(decision, package) is None


def test_registrars_own_decision_is_unchanged(new_package: Builder, policy: Policy) -> None:
    # GIVEN a version registrar approved earlier (its verdict is on the package) WHEN prechecked again
    # THEN unchanged: the decision stands and nothing is written
    package = new_package(
        approval="Approved", metadata={"registrar:verdict": "Approved", "registrar:policy": "abc1234"}
    )
    decision = skipped_by_precheck(package, policy)
    assert decision.kind == "unchanged"
    assert "already Approved by registrar (policy abc1234)" in decision.reasons[0]
    assert desired_update(decision, package) is None


def test_redecide_re_decides_a_decided_version(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a rule with redecide: true and a human-Approved version failing it WHEN decided THEN Rejected
    package = new_package("legacy-model", 2, approval="Approved")
    assert precheck(package, policy) == MatchedRule(4, policy.rules[3])
    decision = decided(package, evidence_for(package, quality_report(auc=0.5)), policy, None)
    assert decision.kind == "decided"
    assert decision.verdict == "Rejected"


def test_an_unmatched_group_is_skipped(new_package: Builder, policy: Policy) -> None:
    # GIVEN a group no rule matches WHEN prechecked THEN skipped with a reason, and nothing is written
    package = new_package("sandbox-model", 1)
    decision = skipped_by_precheck(package, policy)
    assert decision.kind == "skipped"
    assert "sandbox-model matches no rule" in decision.reasons[0]
    assert desired_update(decision, package) is None


@pytest.mark.parametrize("status", ["InProgress", "Pending", "Failed", "Deleting"])
def test_a_package_not_completed_is_skipped(new_package: Builder, policy: Policy, status: str) -> None:
    # GIVEN a package whose ModelPackageStatus is not Completed WHEN prechecked THEN skipped
    decision = skipped_by_precheck(new_package(status=status), policy)
    assert decision.kind == "skipped"
    assert f"package is {status}, not Completed" in decision.reasons[0]


def test_a_pending_package_of_a_matched_group_is_decided_by_its_rule(new_package: Builder, policy: Policy) -> None:
    # GIVEN a pending churn package WHEN prechecked THEN the churn rule (rule 1) is the one to decide it
    matched = precheck(new_package("churn-model"), policy)
    assert matched == MatchedRule(1, policy.rules[0])


def test_a_group_matches_its_rule_ignoring_case(new_package: Builder, policy: Policy) -> None:
    # GIVEN a pending package of group Churn-Model and the rule churn-* WHEN prechecked
    # THEN the rule matches: groups match ignoring case everywhere (registrar.groups)
    matched = precheck(new_package("Churn-Model"), policy)
    assert isinstance(matched, MatchedRule)
    assert matched.number == 1


# Managed groups are checked on the version ARN before any DescribeModelPackage (registrar.groups), no
# longer by precheck: the two tests below ask unmanaged_reason about the package the flow would describe.


def test_a_package_outside_the_managed_groups_is_skipped(new_package: Builder) -> None:
    # GIVEN managed groups that do not include the package's WHEN its ARN is checked THEN a reason to skip it
    reason = unmanaged_reason(new_package("churn-model").ModelPackageArn, ["fraud-*"])
    assert reason is not None
    assert "not among the managed groups" in reason


def test_a_package_inside_the_managed_groups_is_decided(new_package: Builder) -> None:
    # GIVEN managed groups matching the package's group WHEN its ARN is checked THEN nothing stops it
    assert unmanaged_reason(new_package("churn-model").ModelPackageArn, ["churn-*"]) is None


# --- champion -----------------------------------------------------------------------------------


def fraud(new_package: Builder, version: int = 7) -> ModelPackage:
    return new_package("fraud-model", version)


def champion_with(auc: Any, quality_report: Report) -> Evidence:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-model/3"
    return Evidence(uri="s3://r/fraud-model/3/evaluation.json", report=quality_report(auc=auc), subject=arn)


@pytest.mark.parametrize(("ours", "theirs", "verdict"), [(0.91, 0.89, "Approved"), (0.90, 0.89, "Approved")])
def test_beating_the_champion_approves(
    new_package: Builder, policy: Policy, quality_report: Report, ours: float, theirs: float, verdict: str
) -> None:
    # GIVEN auc above the champion's by at least 0.01 (inclusive) WHEN decided THEN Approved
    package = fraud(new_package)
    decision = decided(
        package, evidence_for(package, quality_report(auc=ours)), policy, champion_with(theirs, quality_report)
    )
    assert decision.verdict == verdict
    assert "beats the champion" in decision.checks[-1].text


def test_not_beating_the_champion_follows_on_failure(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN auc 0.895 against a champion at 0.89 (needs 0.90) WHEN decided THEN held (the rule's on_failure)
    package = fraud(new_package)
    champion = champion_with(0.89, quality_report)
    decision = decided(package, evidence_for(package, quality_report(auc=0.895)), policy, champion)
    assert decision.verdict == "Held"
    assert decision.checks[-1].text == ("auc 0.895 < champion fraud-model/3 0.89 + 0.01 (does not beat the champion)")


def test_no_champion_passes_and_says_so(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN no other Approved version WHEN decided THEN the comparison passes and the reason says "no champion"
    package = fraud(new_package)
    decision = decided(package, evidence_for(package, quality_report(auc=0.85)), policy, None)
    assert decision.verdict == "Approved"
    assert decision.checks[-1].text.startswith("no champion")
    assert decision.description is not None
    assert "no champion" in decision.description


@pytest.mark.parametrize("champion_auc", [math.nan, None, "0.7"])
def test_an_unusable_champion_metric_never_approves(
    new_package: Builder, policy: Policy, quality_report: Report, champion_auc: Any
) -> None:
    # GIVEN a champion whose auc is NaN, absent or a string WHEN decided THEN the comparison fails
    package = fraud(new_package)
    champion = champion_with(champion_auc, quality_report)
    decision = decided(package, evidence_for(package, quality_report(auc=0.99)), policy, champion)
    assert decision.verdict == "Held"
    assert "cannot be compared" in decision.checks[-1].text


def test_an_unreadable_champion_report_never_approves(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN a champion whose report cannot be read WHEN decided THEN the comparison fails with the reason
    package = fraud(new_package)
    champion = Evidence(subject="arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-model/3", problem="gone")
    decision = decided(package, evidence_for(package, quality_report(auc=0.99)), policy, champion)
    assert decision.verdict == "Held"
    assert decision.checks[-1].text == "champion fraud-model/3 cannot be compared: gone"


def test_lower_is_better_champion(new_package: Builder) -> None:
    # GIVEN higher_is_better false (an error rate) WHEN the candidate is lower by the margin THEN Approved
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['fraud-*']\n    approve_when: [{metric: m.value, max: 1}]\n"
        "    beat_champion: {metric: m.value, by: 0.05, higher_is_better: false}\n    on_failure: reject\n"
    )
    package = fraud(new_package)
    champion = Evidence(uri="s3://r/c.json", report={"m": {"value": 0.30}}, subject="arn:c/3")
    assert decided(package, evidence_for(package, {"m": {"value": 0.25}}), policy, champion).verdict == "Approved"
    assert decided(package, evidence_for(package, {"m": {"value": 0.26}}), policy, champion).verdict == "Rejected"


CHAMPION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-model/3"


def champion_rule(by: float, higher_is_better: bool) -> Policy:
    direction = "true" if higher_is_better else "false"
    return parse_policy(
        "version: 1\nrules:\n  - groups: ['fraud-*']\n    approve_when: [{metric: m.value, min: -1000}]\n"
        f"    beat_champion: {{metric: m.value, by: {by}, higher_is_better: {direction}}}\n    on_failure: reject\n"
    )


@pytest.mark.parametrize(
    ("higher_is_better", "theirs", "by", "ours", "verdict", "text"),
    [
        # champion ± by in floats: 0.2 + 0.1 is 0.30000000000000004, 0.3 - 0.1 is 0.19999999999999998,
        # 1000.1 + 0.2 is 1000.3000000000001
        (True, 0.2, 0.1, 0.3, "Approved", "m 0.3 ≥ champion fraud-model/3 0.2 + 0.1 (beats the champion)"),
        (
            True,
            0.2,
            0.1,
            0.2999,
            "Rejected",
            "m 0.2999 < champion fraud-model/3 0.2 + 0.1 (does not beat the champion)",
        ),
        (True, 0.2, 0.1, 0.3000001, "Approved", "m 0.3000001 ≥ champion fraud-model/3 0.2 + 0.1 (beats the champion)"),
        (False, 0.3, 0.1, 0.2, "Approved", "m 0.2 ≤ champion fraud-model/3 0.3 − 0.1 (beats the champion)"),
        (
            False,
            0.3,
            0.1,
            0.2001,
            "Rejected",
            "m 0.2001 > champion fraud-model/3 0.3 − 0.1 (does not beat the champion)",
        ),
        (False, 0.3, 0.1, 0.1999999, "Approved", "m 0.1999999 ≤ champion fraud-model/3 0.3 − 0.1 (beats the champion)"),
        (
            True,
            1000.1,
            0.2,
            1000.3,
            "Approved",
            "m 1000.3 ≥ champion fraud-model/3 1000.1 + 0.2 (beats the champion)",
        ),
        (
            True,
            1000.1,
            0.2,
            1000.2999,
            "Rejected",
            "m 1000.2999 < champion fraud-model/3 1000.1 + 0.2 (does not beat the champion)",
        ),
    ],
)
def test_reaching_the_champion_exactly_by_the_margin_beats_it_despite_float_rounding(
    new_package: Builder,
    higher_is_better: bool,
    theirs: float,
    by: float,
    ours: float,
    verdict: str,
    text: str,
) -> None:
    # GIVEN a candidate exactly on champion ± by (which float arithmetic misses by one ulp), or beyond it
    # WHEN decided THEN on the boundary beats the champion (inclusive), beyond it does not, and the text says so
    package = fraud(new_package)
    champion = Evidence(uri="s3://r/c.json", report={"m": {"value": theirs}}, subject=CHAMPION_ARN)
    decision = decided(
        package, evidence_for(package, {"m": {"value": ours}}), champion_rule(by, higher_is_better), champion
    )
    assert decision.verdict == verdict
    assert decision.checks[-1].text == text
    assert decision.checks[-1].passed is (verdict == "Approved")


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_a_clearly_worse_candidate_never_beats_the_champion(higher_is_better: bool) -> None:
    # GIVEN the rounding tolerance WHEN the candidate misses champion ± by by 1e-6 THEN it does not beat it
    rule = champion_rule(0.1, higher_is_better).rules[0].beat_champion
    assert rule is not None
    limit = rule.threshold(0.5)
    assert rule.beaten(limit, 0.5)
    assert not rule.beaten(limit - 1e-6 if higher_is_better else limit + 1e-6, 0.5)
