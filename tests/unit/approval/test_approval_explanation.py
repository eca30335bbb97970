"""What a decision writes on the package: ApprovalDescription and registrar:* metadata, within the API's limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from registrar.approval.decide import approval_description, decide, desired_update, sanitise
from registrar.approval.evidence import Evidence
from registrar.approval.policy import Policy, parse_policy
from registrar.package import ModelPackage
from registrar.plan import plan

Report = Callable[..., dict[str, Any]]
Builder = Callable[..., ModelPackage]
METADATA_CHARS = re.compile(r"[\w\s.:/=+\-@]+")  # letters/numbers (\w adds _), spaces and _.:/=+-@


def evidence_for(package: ModelPackage, report: Any) -> Evidence:
    return Evidence(uri=package.quality_report_uri, report=report, subject=package.ModelPackageArn)


def test_description_states_verdict_each_condition_and_policy(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN auc 0.81 and recall 0.71 against min 0.85 / 0.6 WHEN decided THEN the description has the numbers
    package = new_package()
    decision = decide(package, evidence_for(package, quality_report(auc=0.81, recall=0.71)), policy, None)
    assert decision.description == (
        f"registrar: Rejected — auc 0.81 < min 0.85; recall 0.71 ≥ min 0.6 (policy {policy.digest})"
    )


def test_description_with_both_bounds(new_package: Builder) -> None:
    # GIVEN a condition with min and max WHEN the value is within and above THEN both forms read naturally
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['churn-*']\n    approve_when: [{metric: a.latency.value, min: 1, max: 5}]\n"
        "    on_failure: reject\n"
    )
    package = new_package()
    within = decide(package, evidence_for(package, {"a": {"latency": {"value": 3}}}), policy, None)
    above = decide(package, evidence_for(package, {"a": {"latency": {"value": 7.5}}}), policy, None)
    assert within.checks[0].text == "latency 3 ≥ min 1 and ≤ max 5"
    assert above.checks[0].text == "latency 7.5 > max 5"


def test_description_names_a_missing_metric(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a report without recall WHEN decided THEN the description says recall is absent
    package = new_package()
    decision = decide(package, evidence_for(package, quality_report(auc=0.9)), policy, None)
    assert decision.description is not None
    assert "recall is absent" in decision.description


def test_description_is_at_most_1024_characters_and_ends_safely() -> None:
    # GIVEN a very long body WHEN described THEN cut with an ellipsis, verdict and policy digest kept
    text = approval_description("Rejected", "x" * 5000, "3f2a9c1")
    assert len(text) == 1024
    assert text.startswith("registrar: Rejected — ")
    assert text.endswith("… (policy 3f2a9c1)")


def test_description_of_many_conditions_fits(new_package: Builder) -> None:
    # GIVEN 60 conditions with long names WHEN decided THEN the description still fits and validates
    conditions = "".join(
        f"      - metric: report.metric_with_a_rather_long_name_{i}.value\n        min: 0.5\n" for i in range(60)
    )
    policy = parse_policy(
        f"version: 1\nrules:\n  - groups: ['churn-*']\n    approve_when:\n{conditions}    on_failure: hold\n"
    )
    package = new_package()
    report = {"report": {f"metric_with_a_rather_long_name_{i}": {"value": 0.25} for i in range(60)}}
    decision = decide(package, evidence_for(package, report), policy, None)
    update = desired_update(decision, package)
    assert update is not None
    assert update.ApprovalDescription is not None
    assert len(update.ApprovalDescription) <= 1024


def test_description_has_no_line_breaks() -> None:
    # GIVEN a problem text with a newline (an S3 error message) WHEN described THEN it is one line
    assert "\n" not in approval_description("Held", "report cannot be read:\nAccessDenied", "abcdef1")


def test_metadata_records_verdict_policy_evidence_rule_and_metrics(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN a passing decision WHEN the metadata is built THEN the registrar:* keys hold what was decided on
    package = new_package()
    decision = decide(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.metadata == {
        "registrar:verdict": "Approved",
        "registrar:policy": policy.digest,
        "registrar:evidence": package.quality_report_uri,
        "registrar:decided-by": "rule 1: churn-...",
        "registrar:metric:auc": "0.91",
        "registrar:metric:recall": "0.72",
    }


def test_metadata_records_the_champion(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a champion comparison WHEN the metadata is built THEN the champion's ARN and value are recorded
    package = new_package("fraud-model", 9)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-model/3"
    champion = Evidence(uri="s3://r/3.json", report=quality_report(auc=0.88), subject=arn)
    decision = decide(package, evidence_for(package, quality_report(auc=0.9)), policy, champion)
    assert decision.metadata["registrar:champion"] == arn
    assert decision.metadata["registrar:champion:auc"] == "0.88"
    assert decision.metadata["registrar:metric:auc"] == "0.9"


def test_metadata_records_an_unusable_metric_by_its_problem(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN auc NaN WHEN the metadata is built THEN registrar:metric:auc says NaN (not a number that looks real)
    package = new_package()
    decision = decide(package, evidence_for(package, quality_report(auc=float("nan"), recall=0.7)), policy, None)
    assert decision.metadata["registrar:metric:auc"] == "NaN"


@pytest.mark.parametrize(
    ("value", "shown"), [(0.1 + 0.2, "0.3"), (1 / 3, "0.333333333333"), (1e-7, "1e-07"), (42, "42")]
)
def test_metric_values_have_at_most_12_significant_digits(new_package: Builder, value: float, shown: str) -> None:
    # GIVEN a value with float noise WHEN recorded THEN formatted with at most 12 significant digits
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['churn-*']\n    approve_when: [{metric: m, min: 0}]\n    on_failure: hold\n"
    )
    package = new_package()
    decision = decide(package, evidence_for(package, {"m": value}), policy, None)
    assert decision.metadata["registrar:metric:m"] == shown


def test_every_key_and_value_is_valid_for_the_api(new_package: Builder) -> None:
    # GIVEN metric expressions and groups with characters metadata refuses WHEN recorded
    # THEN every key is ≤128 and every value ≤256 characters of the allowed set (and PackageUpdate accepts them)
    long_name = "m" * 200
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['churn-*', 'churn-[ab]?']\n    approve_when:\n"
        f"      - {{metric: \"metrics[?name=='auc'].value | [0]\", min: 0}}\n"
        f"      - {{metric: {long_name}, min: 0}}\n    on_failure: reject\n"
    )
    package = new_package(report="s3://bucket/" + "deep/" * 80 + "evaluation (final).json")
    report = {"metrics": [{"name": "auc", "value": 0.9}], long_name: 1}
    decision = decide(package, evidence_for(package, report), policy, None)
    update = desired_update(decision, package)
    assert update is not None
    for key, value in decision.metadata.items():
        assert 1 <= len(key) <= 128 and METADATA_CHARS.fullmatch(key), key
        assert 1 <= len(value) <= 256 and METADATA_CHARS.fullmatch(value), value


def test_sanitise_replaces_refused_characters() -> None:
    # GIVEN characters outside letters, numbers, spaces and _.:/=+-@ WHEN sanitised THEN each becomes '-'
    assert sanitise("a*b,c(d)é 1", 256) == "a-b-c-d-é 1"


def test_sanitise_keeps_both_ends_of_a_long_value() -> None:
    # GIVEN a 400-character value WHEN sanitised to 256 THEN start and end are kept around '...'
    value = sanitise("s3://bucket/" + "x" * 380 + "/evaluation.json", 256)
    assert len(value) == 256
    assert value.startswith("s3://bucket/")
    assert value.endswith("/evaluation.json")
    assert "..." in value


def test_metadata_fits_a_package_already_holding_45_entries(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 45 existing entries (49 after the 4 core keys) WHEN decided
    # THEN verdict/policy/evidence/decided-by and one metric fit, the other metric is dropped and the reasons say so
    existing = {f"team:key-{i}": "v" for i in range(45)}
    package = new_package(metadata=existing)
    decision = decide(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert len(existing) + len(decision.metadata) == 50
    assert {"registrar:verdict", "registrar:policy", "registrar:evidence", "registrar:decided-by"} <= set(
        decision.metadata
    )
    assert "registrar:metric:recall" not in decision.metadata
    assert any("metadata budget" in reason and "registrar:metric:recall" in reason for reason in decision.reasons)
    desired = desired_update(decision, package)
    assert desired is not None
    assert plan(desired, package) is not None  # check_against: within 50 after the merge


def test_metadata_on_a_full_package_writes_nothing_new_and_says_so(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 50 foreign entries WHEN decided THEN no new key is written, the reasons name what was left out,
    # and the status and description are still written
    package = new_package(metadata={f"team:key-{i}": "v" for i in range(50)})
    decision = decide(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.metadata == {}
    assert any("registrar:verdict" in reason for reason in decision.reasons)
    desired = desired_update(decision, package)
    assert desired is not None
    planned = plan(desired, package)
    assert planned is not None
    assert planned.ModelApprovalStatus == "Approved"
    assert planned.CustomerMetadataProperties is None


def test_existing_registrar_keys_are_overwritten_within_the_budget(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 44 foreign entries and registrar's 6 keys from an earlier hold WHEN decided again
    # THEN all 6 are rewritten (overwriting costs no entry)
    earlier = {
        "registrar:verdict": "Held",
        "registrar:policy": "0000000",
        "registrar:evidence": "s3://old",
        "registrar:decided-by": "rule 1",
        "registrar:metric:auc": "0.5",
        "registrar:metric:recall": "0.5",
    }
    package = new_package(metadata={**{f"team:key-{i}": "v" for i in range(44)}, **earlier})
    decision = decide(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert set(decision.metadata) == set(earlier)


def test_stale_metric_keys_are_removed(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a metric key from an earlier policy that no longer names it WHEN decided THEN that key is removed
    package = new_package(metadata={"registrar:metric:precision": "0.4", "team:owner": "ml"})
    decision = decide(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    update = desired_update(decision, package)
    assert update is not None
    assert update.CustomerMetadataPropertiesToRemove == ["registrar:metric:precision"]


def test_two_expressions_with_the_same_label_get_distinct_keys(new_package: Builder) -> None:
    # GIVEN validation.auc.value and test.auc.value WHEN recorded THEN auc and auc-2, neither overwritten
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['churn-*']\n    approve_when:\n"
        "      - {metric: validation.auc.value, min: 0}\n      - {metric: test.auc.value, min: 0}\n"
        "    on_failure: hold\n"
    )
    package = new_package()
    report = {"validation": {"auc": {"value": 0.9}}, "test": {"auc": {"value": 0.8}}}
    decision = decide(package, evidence_for(package, report), policy, None)
    assert decision.metadata["registrar:metric:auc"] == "0.9"
    assert decision.metadata["registrar:metric:auc-2"] == "0.8"


def test_no_evidence_uri_is_recorded_as_none(new_package: Builder, policy: Policy) -> None:
    # GIVEN a package with no report location WHEN decided THEN registrar:evidence is "none"
    package = new_package(report=None)
    decision = decide(package, Evidence(problem="the package registers no report"), policy, None)
    assert decision.metadata["registrar:evidence"] == "none"
