"""What a decision writes on the package: ApprovalDescription and registrar:* metadata, within the API's limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from registrar.approval.decide import UNRECORDED_EVIDENCE, approval_description, desired_update, sanitise
from registrar.approval.evidence import Evidence
from registrar.approval.policy import Policy, parse_policy
from registrar.constrained import LINE_TERMINATORS
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.updates import PackageUpdate
from tests.unit.approval.deciding import decided

Report = Callable[..., dict[str, Any]]
Builder = Callable[..., ModelPackage]
METADATA_CHARS = re.compile(r"[\w\s.:/=+\-@]+")  # letters/numbers (\w adds _), spaces and _.:/=+-@
# The version the report was read at (an S3 ETag), recorded with the decision.
VERSION = "etag:5d41402abc4b2a76b9719d911017c592"


def evidence_for(package: ModelPackage, report: Any) -> Evidence:
    return Evidence(uri=package.quality_report_uri, report=report, subject=package.ModelPackageArn, version=VERSION)


def test_description_states_verdict_each_condition_and_policy(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN auc 0.81 and recall 0.71 against min 0.85 / 0.6 WHEN decided THEN the description has the numbers
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.81, recall=0.71)), policy, None)
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
    within = decided(package, evidence_for(package, {"a": {"latency": {"value": 3}}}), policy, None)
    above = decided(package, evidence_for(package, {"a": {"latency": {"value": 7.5}}}), policy, None)
    assert within.checks[0].text == "latency 3 ≥ min 1 and ≤ max 5"
    assert above.checks[0].text == "latency 7.5 > max 5"


def test_description_names_a_missing_metric(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a report without recall WHEN decided THEN the description says recall is absent
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.9)), policy, None)
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
    decision = decided(package, evidence_for(package, report), policy, None)
    update = desired_update(decision, package)
    assert update is not None
    assert update.ApprovalDescription is not None
    assert len(update.ApprovalDescription) <= 1024


def test_description_has_no_line_breaks() -> None:
    # GIVEN a problem text with a newline (an S3 error message) WHEN described THEN it is one line
    assert "\n" not in approval_description("Held", "report cannot be read:\nAccessDenied", "abcdef1")


@pytest.mark.parametrize("char", ["\n", "\r", "\v", "\u0085", "\u2028", "\u2029"])
def test_every_line_break_becomes_a_space_the_api_accepts(new_package: Builder, policy: Policy, char: str) -> None:
    # GIVEN a failed job whose FailureReason holds a line break of any kind (U+2028/U+2029 are not
    # control characters) WHEN decided THEN the break is a space and PackageUpdate accepts the description
    evidence = Evidence(job_status="Failed", problem=f"evaluation job j Failed: AlgorithmError: boom{char}trace")
    package = new_package()
    decision = decided(package, evidence, policy, None)
    assert decision.description is not None
    assert "AlgorithmError: boom trace" in decision.description
    update = desired_update(decision, package)  # raises InvalidUpdateError for a line break
    assert update is not None
    assert update.ApprovalDescription == decision.description


def test_the_description_maps_away_every_character_the_single_line_rule_refuses() -> None:
    # GIVEN every character ApprovalDescription refuses as a line break WHEN described
    # THEN none is left: the description and the API's single-line rule share one definition
    body = "a" + "b".join(sorted(LINE_TERMINATORS)) + "z"
    text = approval_description("Held", body, "abcdef1")
    assert not LINE_TERMINATORS & set(text)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/1"
    assert PackageUpdate(ModelPackageArn=arn, ApprovalDescription=text).ApprovalDescription == text


def test_metadata_records_verdict_policy_evidence_rule_and_metrics(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN a passing decision WHEN the metadata is built THEN the registrar:* keys hold what was decided on,
    # the report's version included
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.metadata == {
        "registrar:verdict": "Approved",
        "registrar:policy": policy.digest,
        "registrar:evidence": package.quality_report_uri,
        "registrar:evidence-version": VERSION,
        "registrar:decided-by": "rule 1: churn-...",
        "registrar:metric:auc": "0.91",
        "registrar:metric:recall": "0.72",
    }


def test_metadata_records_the_champion(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a champion comparison WHEN the metadata is built THEN the champion's ARN and value are recorded
    package = new_package("fraud-model", 9)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-model/3"
    champion = Evidence(uri="s3://r/3.json", report=quality_report(auc=0.88), subject=arn)
    decision = decided(package, evidence_for(package, quality_report(auc=0.9)), policy, champion)
    assert decision.metadata["registrar:champion"] == arn
    assert decision.metadata["registrar:champion:auc"] == "0.88"
    assert decision.metadata["registrar:metric:auc"] == "0.9"


def test_metadata_records_an_unusable_metric_by_its_problem(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN auc NaN WHEN the metadata is built THEN registrar:metric:auc says NaN (not a number that looks real)
    package = new_package()
    decision = decided(package, evidence_for(package, quality_report(auc=float("nan"), recall=0.7)), policy, None)
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
    decision = decided(package, evidence_for(package, {"m": value}), policy, None)
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
    decision = decided(package, evidence_for(package, report), policy, None)
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


def test_metadata_fits_a_package_already_holding_44_entries(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 44 existing entries (49 after the 5 core keys) WHEN decided
    # THEN verdict/policy/evidence/evidence-version/decided-by and one metric fit, the other metric is dropped
    # and the reasons say so
    existing = {f"team:key-{i}": "v" for i in range(44)}
    package = new_package(metadata=existing)
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert len(existing) + len(decision.metadata) == 50
    assert set(CORE_KEYS) <= set(decision.metadata)
    assert "registrar:metric:auc" in decision.metadata
    assert "registrar:metric:recall" not in decision.metadata
    assert any("metadata budget" in reason and "registrar:metric:recall" in reason for reason in decision.reasons)
    desired = desired_update(decision, package)
    assert desired is not None
    assert plan(desired, package) is not None  # check_against: within 50 after the merge


CORE_KEYS = [
    "registrar:verdict",
    "registrar:policy",
    "registrar:evidence",
    "registrar:evidence-version",
    "registrar:decided-by",
]


@pytest.mark.parametrize("foreign", [46, 47, 48, 49, 50])
@pytest.mark.parametrize(("auc", "earned"), [(0.91, "Approved"), (0.5, "Rejected")])
def test_a_verdict_without_room_for_its_record_is_held(
    new_package: Builder, policy: Policy, quality_report: Report, foreign: int, auc: float, earned: str
) -> None:
    # GIVEN other tools holding 46 to 50 of the 50 entries (registrar needs 5 for its record)
    # WHEN a passing or failing report is decided under the churn rule (on_failure: reject)
    # THEN Held: no status is written, the description names the shortage and the verdict not written,
    # and what fits of the record is written in priority order, verdict first
    package = new_package(metadata={f"team:key-{i}": "v" for i in range(foreign)})
    decision = decided(package, evidence_for(package, quality_report(auc=auc, recall=0.72)), policy, None)
    assert decision.verdict == "Held"
    assert decision.description is not None
    assert decision.description.startswith(
        f"registrar: Held — metadata budget: {foreign} of 50 entries are used by others; registrar needs 5 "
        f"to record its decision, so it holds instead of writing {earned} without that record; auc "
    )
    assert list(decision.metadata) == CORE_KEYS[: 50 - foreign]
    assert decision.metadata.get("registrar:verdict", "Held") == "Held"
    desired = desired_update(decision, package)
    assert desired is not None
    planned = plan(desired, package)
    assert planned is not None
    assert planned.ModelApprovalStatus is None


def test_a_hold_without_room_for_its_record_says_so(new_package: Builder, quality_report: Report) -> None:
    # GIVEN on_failure hold, a failing metric and 50 foreign entries WHEN decided
    # THEN Held with the shortage named first in the description and in the reasons
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['churn-*']\n    approve_when: [{metric: m, min: 1}]\n    on_failure: hold\n"
    )
    package = new_package(metadata={f"team:key-{i}": "v" for i in range(50)})
    decision = decided(package, evidence_for(package, {"m": 0}), policy, None)
    assert decision.verdict == "Held"
    assert decision.description == (
        "registrar: Held — metadata budget: 50 of 50 entries are used by others; registrar needs 5 to record "
        f"its decision; m 0 < min 1 (policy {policy.digest})"
    )
    assert decision.metadata == {}


def test_45_foreign_entries_leave_room_for_the_record_only(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 45 foreign entries (room for exactly the 5 core entries) WHEN a passing report is decided
    # THEN Approved with its whole record; the metrics are left out and the reasons say so
    package = new_package(metadata={f"team:key-{i}": "v" for i in range(45)})
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.verdict == "Approved"
    assert list(decision.metadata) == CORE_KEYS
    assert any(
        "metadata budget: 45 of 50" in reason and "registrar:metric:auc, registrar:metric:recall were not" in reason
        for reason in decision.reasons
    )


def test_registrars_own_entries_do_not_count_against_its_record(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 45 foreign entries and 5 stale registrar:metric:* entries of an earlier decision (50 in all)
    # WHEN decided THEN Approved with the whole record: the stale entries are removed to make room for it
    stale = {f"registrar:metric:old-{i}": "0.1" for i in range(5)}
    package = new_package(metadata={**{f"team:key-{i}": "v" for i in range(45)}, **stale})
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.verdict == "Approved"
    assert list(decision.metadata) == CORE_KEYS
    assert decision.metadata_to_remove == sorted(stale)
    desired = desired_update(decision, package)
    assert desired is not None
    assert plan(desired, package) is not None  # check_against: within 50 after the merge


def test_a_record_entry_the_budget_leaves_out_is_removed_not_left_stale(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 49 foreign entries and a registrar:decided-by from an earlier decision WHEN decided (room for 1)
    # THEN the verdict is written, the old decided-by removed, and the request fits the 50 entries
    package = new_package(metadata={**{f"team:key-{i}": "v" for i in range(49)}, "registrar:decided-by": "rule 9: old"})
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.verdict == "Held"
    assert decision.metadata == {"registrar:verdict": "Held"}
    assert decision.metadata_to_remove == ["registrar:decided-by"]
    desired = desired_update(decision, package)
    assert desired is not None
    assert plan(desired, package) is not None


def test_existing_registrar_keys_are_overwritten_within_the_budget(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN 43 foreign entries and registrar's 7 keys from an earlier hold WHEN decided again
    # THEN all 7 are rewritten (overwriting costs no entry)
    earlier = {
        "registrar:verdict": "Held",
        "registrar:policy": "0000000",
        "registrar:evidence": "s3://old",
        "registrar:evidence-version": "etag:0000",
        "registrar:decided-by": "rule 1",
        "registrar:metric:auc": "0.5",
        "registrar:metric:recall": "0.5",
    }
    package = new_package(metadata={**{f"team:key-{i}": "v" for i in range(43)}, **earlier})
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert set(decision.metadata) == set(earlier)


def test_stale_metric_keys_are_removed(new_package: Builder, policy: Policy, quality_report: Report) -> None:
    # GIVEN a metric key from an earlier policy that no longer names it WHEN decided THEN that key is removed
    package = new_package(metadata={"registrar:metric:precision": "0.4", "team:owner": "ml"})
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
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
    decision = decided(package, evidence_for(package, report), policy, None)
    assert decision.metadata["registrar:metric:auc"] == "0.9"
    assert decision.metadata["registrar:metric:auc-2"] == "0.8"


@pytest.mark.parametrize(
    "uri",
    ["s3://b/reports/run (v2)/eval~1.json", "s3://b/" + "deep/" * 60 + "evaluation.json", "s3://b/a,b/e.json"],
)
def test_an_evidence_uri_metadata_cannot_hold_verbatim_is_not_recorded_as_a_uri(
    new_package: Builder, policy: Policy, quality_report: Report, uri: str
) -> None:
    # GIVEN a report URI with characters metadata refuses, or longer than 256 characters WHEN decided
    # THEN registrar:evidence holds a marker that is no URI (an altered URI would name another report),
    # and the reasons give the real URI
    package = new_package(report=uri)
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert decision.metadata["registrar:evidence"] == UNRECORDED_EVIDENCE
    assert not decision.metadata["registrar:evidence"].startswith("s3://")
    assert decision.evidence_uri == uri
    assert any(reason.startswith("registrar:evidence is ") and uri in reason for reason in decision.reasons)


def test_an_evidence_uri_of_exactly_256_allowed_characters_is_recorded_verbatim(
    new_package: Builder, policy: Policy, quality_report: Report
) -> None:
    # GIVEN a report URI of exactly 256 characters metadata allows WHEN decided THEN it is recorded as it is
    uri = "s3://b/" + "x" * (256 - len("s3://b/") - len("/e.json")) + "/e.json"
    package = new_package(report=uri)
    decision = decided(package, evidence_for(package, quality_report(auc=0.91, recall=0.72)), policy, None)
    assert len(uri) == 256
    assert decision.metadata["registrar:evidence"] == uri


def test_no_evidence_uri_is_recorded_as_none(new_package: Builder, policy: Policy) -> None:
    # GIVEN a package with no report location WHEN decided THEN registrar:evidence is "none"
    package = new_package(report=None)
    decision = decided(package, Evidence(problem="the package registers no report"), policy, None)
    assert decision.metadata["registrar:evidence"] == "none"
    assert decision.metadata["registrar:evidence-version"] == "none"
