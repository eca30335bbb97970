"""ApprovalFlow.handle(): event -> Outcome with in-memory fakes passed as parameters; counts the calls made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from registrar.approval.decide import UNRECORDED_EVIDENCE, sanitise
from registrar.approval.evidence import champion_evidence
from registrar.approval.policy import Policy
from registrar.approval.service import PACKAGE_TAG, ApprovalFlow
from registrar.errors import EvidenceError
from registrar.package import ModelPackage
from registrar.reports import ReportTooLargeError, ReportUnreadableError

Report = Callable[..., dict[str, Any]]
BUCKET = "registrar-test-reports"
Builder = Callable[..., ModelPackage]


def run(
    event: Any, registry: Any, reports: Any, policy: Policy, *, apply: bool = True, managed_groups: Any = ()
) -> Any:
    flow = ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy, managed_groups=tuple(managed_groups))
    return flow.handle(event, apply=apply)


@pytest.fixture
def passing(new_package: Builder, registry: Any, reports: Any, quality_report: Report) -> ModelPackage:
    """churn-model/1, pending, with a report that passes the churn rule."""
    package = registry.add_package(new_package("churn-model", 1))
    reports.put(package.quality_report_uri, quality_report(auc=0.91, recall=0.72))
    return package


def test_a_passing_package_is_approved_with_one_describe_one_read_one_update(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN a pending package with a passing report WHEN its event is handled
    # THEN one DescribeModelPackage, one report read, one UpdateModelPackage; outcome updated, Approved
    outcome = run(package_event(passing), registry, reports, policy)
    assert outcome.outcome == "updated"
    assert outcome.verdict == "Approved"
    assert registry.calls["describe"] == 1
    assert reports.reads == [passing.quality_report_uri]
    assert registry.calls["update"] == 1
    assert registry.packages[passing.ModelPackageArn].ModelApprovalStatus == "Approved"


def test_the_request_carries_a_client_token(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN a decision to write WHEN handled THEN the written request carries its deterministic ClientToken
    outcome = run(package_event(passing), registry, reports, policy)
    assert outcome.request["ClientToken"] == registry.updates[0].ClientToken
    assert len(outcome.request["ClientToken"]) == 36


def test_planning_only_writes_nothing(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN apply=False WHEN handled THEN the request is returned and no update is made
    outcome = run(package_event(passing), registry, reports, policy, apply=False)
    assert outcome.outcome == "updated"
    assert outcome.request["ModelApprovalStatus"] == "Approved"
    assert registry.calls["update"] == 0


def test_a_duplicate_event_after_approval_is_unchanged(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN the package was approved by the first event WHEN the same event comes again THEN unchanged, no update
    run(package_event(passing), registry, reports, policy)
    outcome = run(package_event(passing), registry, reports, policy)
    assert outcome.outcome == "unchanged"
    assert registry.calls["update"] == 1


def test_a_held_package_decided_again_is_unchanged(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any, quality_report: Report
) -> None:
    # GIVEN a fraud package held on the first event (still pending) WHEN handled again THEN the plan is empty
    package = registry.add_package(new_package("fraud-model", 2))
    reports.put(package.quality_report_uri, quality_report(auc=0.5))
    first = run(package_event(package), registry, reports, policy)
    second = run(package_event(package), registry, reports, policy)
    assert (first.outcome, first.verdict) == ("updated", "Held")
    assert (second.outcome, second.verdict) == ("unchanged", "Held")
    assert registry.calls["update"] == 1
    assert registry.packages[package.ModelPackageArn].ModelApprovalStatus == "PendingManualApproval"


def test_a_passing_package_without_room_for_the_record_is_held_and_stays_registrars(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any, quality_report: Report
) -> None:
    # GIVEN a passing churn package whose 48 of 50 metadata entries belong to other tools WHEN handled twice
    # THEN Held, not Approved: the status stays pending (no approval without its record, which a later
    # event would take for a human's), the description names the shortage, and the second event changes nothing
    package = registry.add_package(new_package(metadata={f"team:key-{i}": "v" for i in range(48)}))
    reports.put(package.quality_report_uri, quality_report(auc=0.91, recall=0.72))
    first = run(package_event(package), registry, reports, policy)
    second = run(package_event(package), registry, reports, policy)
    assert (first.outcome, first.verdict) == ("updated", "Held")
    assert "ModelApprovalStatus" not in first.request
    assert "registrar needs 5 to record its decision" in first.request["ApprovalDescription"]
    written = registry.packages[package.ModelPackageArn]
    assert written.ModelApprovalStatus == "PendingManualApproval"
    assert written.CustomerMetadataProperties["registrar:verdict"] == "Held"
    assert len(written.CustomerMetadataProperties) == 50
    assert (second.outcome, second.verdict) == ("unchanged", "Held")


def test_registrars_own_update_event_is_ignored(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN an event whose updated fields are ones registrar writes WHEN handled THEN skipped without any call
    event = package_event(passing, updated_fields=("ApprovalDescription", "CustomerMetadataProperties"))
    outcome = run(event, registry, reports, policy)
    assert outcome.outcome == "skipped"
    assert sum(registry.calls.values()) == 0
    assert reports.reads == []


def test_the_package_is_read_not_the_event(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN an event saying PendingManualApproval for a package a human has since Approved WHEN handled
    # THEN the described state wins: skipped, the human's decision stands
    package = registry.add_package(new_package(approval="Approved"))
    outcome = run(package_event(package), registry, reports, policy)
    assert outcome.outcome == "skipped"
    assert "by a human" in outcome.reasons[0]
    assert reports.reads == []


def test_an_unmatched_group_reads_no_report_and_writes_nothing(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN a group no rule matches WHEN handled THEN skipped with the reason, no report read, no update
    package = registry.add_package(new_package("sandbox-model", 1))
    outcome = run(package_event(package), registry, reports, policy)
    assert outcome.outcome == "skipped"
    assert "matches no rule" in outcome.reasons[0]
    assert reports.reads == []
    assert registry.calls["update"] == 0


def test_a_group_outside_managed_groups_is_skipped(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN managed groups fraud-* WHEN a churn package's event is handled THEN skipped, nothing read or written:
    # not even DescribeModelPackage, which the function's role allows on the managed groups only
    outcome = run(package_event(passing), registry, reports, policy, managed_groups=["fraud-*"])
    assert outcome.outcome == "skipped"
    assert "churn-model" in outcome.reasons[0] and "not among the managed groups" in outcome.reasons[0]
    assert reports.reads == []
    assert registry.calls["describe"] == 0


@pytest.mark.parametrize(
    "error",
    [
        ReportTooLargeError("report is 6291456 bytes, more than the 5242880 allowed"),
        # (AccessDenied is no longer the report's problem but the deployment's: see test_approval_provenance.py)
        ReportUnreadableError("report cannot be read: NoSuchKey (The specified key does not exist.)"),
        EvidenceError("report is not what registrar can read"),
    ],
)
def test_unusable_evidence_rejects_with_the_reason(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any, error: EvidenceError
) -> None:
    # GIVEN a report the store refuses WHEN handled THEN Rejected (churn rule) with the store's reason
    package = registry.add_package(new_package())
    reports.put(package.quality_report_uri, error)
    outcome = run(package_event(package), registry, reports, policy)
    assert outcome.verdict == "Rejected"
    assert str(error) in outcome.request["ApprovalDescription"]


def test_champion_is_read_only_when_the_rule_compares(
    passing: ModelPackage, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN the churn rule (no beat_champion) WHEN handled THEN the champion is never looked up
    run(package_event(passing), registry, reports, policy)
    assert registry.calls["latest_approved"] == 0


def test_the_champion_is_compared_from_its_own_report(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any, quality_report: Report
) -> None:
    # GIVEN fraud-model/3 Approved (auc 0.9) and fraud-model/4 pending (auc 0.905) WHEN /4 is handled
    # THEN the champion's report is read and /4 does not beat it by 0.01: Held
    champion = registry.add_package(new_package("fraud-model", 3, approval="Approved"))
    candidate = registry.add_package(new_package("fraud-model", 4))
    reports.put(champion.quality_report_uri, quality_report(auc=0.9))
    reports.put(candidate.quality_report_uri, quality_report(auc=0.905))
    outcome = run(package_event(candidate), registry, reports, policy)
    assert registry.calls["latest_approved"] == 1
    assert reports.reads == [candidate.quality_report_uri, champion.quality_report_uri]
    assert outcome.verdict == "Held"
    assert "does not beat the champion" in outcome.request["ApprovalDescription"]


def test_a_champion_approved_on_a_uri_metadata_could_not_hold_is_never_compared_on_an_altered_one(
    new_package: Builder,
    registry: Any,
    reports: Any,
    policy: Policy,
    package_event: Any,
    processing_job: Any,
    job_event: Any,
    quality_report: Report,
) -> None:
    # GIVEN fraud-model/3 approved by registrar on a job's report at .../run (v2)/evaluation.json (no
    # ModelQuality report of its own), and another object at the URI sanitising would make of it
    # (.../run -v2-/evaluation.json) with a low auc
    champion = registry.add_package(new_package("fraud-model", 3, report=None))
    job = processing_job("fraud-eval-3", model=champion)
    job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = f"s3://{BUCKET}/jobs/run (v2)/evaluation"
    registry.add_job(job, {PACKAGE_TAG: champion.ModelPackageArn})
    reports.put(f"s3://{BUCKET}/jobs/run (v2)/evaluation/evaluation.json", quality_report(auc=0.95))
    reports.put(f"s3://{BUCKET}/jobs/run -v2-/evaluation/evaluation.json", quality_report(auc=0.5))
    first = run(job_event(job), registry, reports, policy)
    assert (first.outcome, first.verdict) == ("updated", "Approved")
    recorded = registry.packages[champion.ModelPackageArn].CustomerMetadataProperties["registrar:evidence"]
    assert not recorded.startswith("s3://")
    # WHEN fraud-model/4 (auc 0.9: beats the altered URI's 0.5, not the real 0.95) is handled
    candidate = registry.add_package(new_package("fraud-model", 4))
    reports.put(candidate.quality_report_uri, quality_report(auc=0.9))
    reports.reads.clear()
    outcome = run(package_event(candidate), registry, reports, policy)
    # THEN the champion's evidence is unavailable: no altered URI is read and the rule's on_failure (hold) follows
    assert reports.reads == [candidate.quality_report_uri]
    assert outcome.verdict == "Held"
    assert "champion fraud-model/3 cannot be compared" in outcome.request["ApprovalDescription"]


@pytest.mark.parametrize(
    ("recorded", "problem"),
    [
        (None, "no registrar:evidence"),
        ("none", "no registrar:evidence"),
        (UNRECORDED_EVIDENCE, "is not a report URI recorded verbatim"),
        (sanitise(f"s3://{BUCKET}/" + "x" * 300 + "/eval.json", 256), "is not a report URI recorded verbatim"),
    ],
)
def test_a_champion_record_that_is_not_a_verbatim_uri_is_not_read(
    new_package: Builder, reports: Any, recorded: str | None, problem: str
) -> None:
    # GIVEN an Approved champion without ModelQuality statistics whose registrar:evidence is absent, none,
    # the marker, or a URI an earlier version cut to 256 characters around '...'
    metadata = {} if recorded is None else {"registrar:evidence": recorded}
    champion = new_package("fraud-model", 3, approval="Approved", report=None, metadata=metadata)
    if recorded is not None and recorded.startswith("s3://"):
        assert len(recorded) == 256
        reports.put(recorded, {"binary_classification_metrics": {"auc": {"value": 0.1}}})
    # WHEN its evidence is read THEN nothing is read and the evidence is unusable, saying why
    evidence = champion_evidence(champion, reports)
    assert reports.reads == []
    assert not evidence.usable
    assert evidence.problem is not None and problem in evidence.problem


def test_a_champion_record_that_is_a_verbatim_uri_is_read(new_package: Builder, reports: Any) -> None:
    # GIVEN an Approved champion without ModelQuality statistics, approved on s3://.../e.json WHEN read THEN used
    uri = f"s3://{BUCKET}/jobs/fraud-eval-3/evaluation/evaluation.json"
    champion = new_package("fraud-model", 3, approval="Approved", report=None, metadata={"registrar:evidence": uri})
    reports.put(uri, {"binary_classification_metrics": {"auc": {"value": 0.9}}})
    evidence = champion_evidence(champion, reports)
    assert reports.reads == [uri]
    assert evidence.usable


def test_a_package_event_for_a_job_evaluated_group_waits_for_the_job(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, package_event: Any
) -> None:
    # GIVEN credit-risk, whose rule names an evaluation output WHEN the package's own event is handled
    # THEN skipped: the job's event decides, and no report is read
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    outcome = run(package_event(package), registry, reports, policy)
    assert outcome.outcome == "skipped"
    assert "evaluation job" in outcome.reasons[0]
    assert reports.reads == []


# --- processing jobs ---------------------------------------------------------------------------


def test_a_completed_job_is_evidence_from_its_evaluation_output(
    new_package: Builder,
    registry: Any,
    reports: Any,
    policy: Policy,
    processing_job: Any,
    job_event: Any,
    quality_report: Report,
) -> None:
    # GIVEN a Completed job tagged with credit-risk/1 and evaluation.json in its output WHEN its event is handled
    # THEN the report at <output>/evaluation.json is read and the package Approved
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = registry.add_job(processing_job("credit-eval-1", model=package), {PACKAGE_TAG: package.ModelPackageArn})
    uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] + "/evaluation.json"
    reports.put(uri, quality_report(auc=0.88))
    outcome = run(job_event(job), registry, reports, policy)
    assert (outcome.outcome, outcome.verdict) == ("updated", "Approved")
    assert reports.reads == [uri]
    assert registry.calls["describe"] == 1
    assert outcome.request["CustomerMetadataProperties"]["registrar:evidence"] == uri


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_or_stopped_job_follows_on_failure(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, processing_job: Any, job_event: Any, status: str
) -> None:
    # GIVEN a Failed/Stopped job that evaluated a pending package, tagged with it WHEN handled
    # THEN Rejected (rule), no report read
    package = registry.add_package(new_package("credit-risk", 2, report=None))
    job = registry.add_job(
        processing_job("credit-eval-2", status, model=package), {PACKAGE_TAG: package.ModelPackageArn}
    )
    outcome = run(job_event(job), registry, reports, policy)
    assert outcome.verdict == "Rejected"
    assert f"evaluation job credit-eval-2 {status}" in outcome.request["ApprovalDescription"]
    assert reports.reads == []


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085", "\r", "\v"])
def test_a_failure_reason_with_a_line_break_is_written_not_poison(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, processing_job: Any, job_event: Any, char: str
) -> None:
    # GIVEN a Failed job whose FailureReason holds a line break of any kind WHEN handled
    # THEN Rejected and written on one line (not invalid: the description passes the API's single-line rule)
    package = registry.add_package(new_package("credit-risk", 2, report=None))
    job = processing_job("credit-eval-2", "Failed", model=package, FailureReason=f"AlgorithmError: boom{char}trace")
    registry.add_job(job, {PACKAGE_TAG: package.ModelPackageArn})
    outcome = run(job_event(job), registry, reports, policy)
    assert (outcome.outcome, outcome.verdict) == ("updated", "Rejected")
    assert "evaluation job credit-eval-2 Failed: AlgorithmError: boom trace" in outcome.request["ApprovalDescription"]
    assert registry.packages[package.ModelPackageArn].ModelApprovalStatus == "Rejected"


def test_the_job_status_is_read_not_taken_from_the_event(
    new_package: Builder, registry: Any, reports: Any, policy: Policy, processing_job: Any, job_event: Any
) -> None:
    # GIVEN an event saying Completed for a job DescribeProcessingJob reports InProgress WHEN handled THEN skipped
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = registry.add_job(processing_job("credit-eval-1", "InProgress"), {PACKAGE_TAG: package.ModelPackageArn})
    outcome = run(job_event(job, status="Completed"), registry, reports, policy)
    assert outcome.outcome == "skipped"
    assert registry.calls["describe"] == 0


def test_a_job_without_the_tag_is_skipped(
    registry: Any, reports: Any, policy: Policy, processing_job: Any, job_event: Any
) -> None:
    # GIVEN a job with no registrar:model-package-arn tag WHEN handled THEN skipped with that reason
    job = registry.add_job(processing_job("unrelated-job"), {"team": "ml"})
    outcome = run(job_event(job), registry, reports, policy)
    assert outcome.outcome == "skipped"
    assert outcome.reasons[0].startswith("job carries no registrar:model-package-arn tag")
    assert registry.calls["describe"] == 0


@pytest.mark.parametrize(
    "value",
    [
        "churn-model",
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model",
        "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-model",
    ],
)
def test_a_tag_that_is_not_a_version_arn_is_invalid(
    registry: Any, reports: Any, policy: Policy, processing_job: Any, job_event: Any, value: str
) -> None:
    # GIVEN a tag holding a name, an unversioned ARN or a group ARN WHEN handled THEN invalid, nothing described
    job = registry.add_job(processing_job("eval-x"), {PACKAGE_TAG: value})
    outcome = run(job_event(job), registry, reports, policy)
    assert outcome.outcome == "invalid"
    assert registry.calls["describe"] == 0
