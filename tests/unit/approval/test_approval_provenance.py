"""Issue #14 through ApprovalFlow.handle(), with in-memory fakes: evidence counts only when it is bound to the
version, what the deployment keeps registrar from reading holds the version instead of deciding it, and a
decision records the version of its report, on which a champion is later compared.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from registrar.approval.policy import Policy
from registrar.approval.service import PACKAGE_TAG, ApprovalFlow
from registrar.errors import DeploymentError
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.reports import ReportStore
from tests.unit.approval.conftest import BUCKET, FakeRegistry, FakeReportStore, model_uri

Builder = Callable[..., ModelPackage]
JobBuilder = Callable[..., dict[str, Any]]
QualityReport = Callable[..., dict[str, Any]]
EventBuilder = Callable[..., Any]

# registrar's record of refused evidence (registrar.approval.decide.REFUSED_KEY)
REFUSED = "registrar:refused"
# The model another team evaluated, in a job writing under the allowed report location.
OTHER_MODEL = "s3://registrar-test-models/fraud-team/scratch/model.tar.gz"


def run(event: Any, registry: Any, reports: Any, policy: Policy, *, apply: bool = True) -> Outcome:
    return ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy).handle(event, apply=apply)


def written(outcome: Outcome) -> dict[str, Any]:
    """The request an outcome wrote (it must have written one)."""
    assert outcome.request is not None, outcome.reasons
    return outcome.request


def report_of(job: dict[str, Any]) -> str:
    """Where the job's evaluation.json is (its output "evaluation")."""
    return str(job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]) + "/evaluation.json"


def tagged(registry: FakeRegistry, job: dict[str, Any], package: ModelPackage) -> dict[str, Any]:
    """``job`` known to SageMaker, tagged registrar:model-package-arn with the version's ARN."""
    return registry.add_job(job, {PACKAGE_TAG: package.ModelPackageArn})


# --- a job that did not evaluate the version -------------------------------------------------------


def test_a_tagged_job_that_evaluated_another_model_does_not_approve_a_held_version(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    package_event: EventBuilder,
    processing_job: JobBuilder,
    job_event: EventBuilder,
    quality_report: QualityReport,
) -> None:
    # GIVEN fraud-model/2 held on its own report (auc 0.51 < min 0.8, on_failure hold)
    package = registry.add_package(new_package("fraud-model", 2))
    reports.put(str(package.quality_report_uri), quality_report(auc=0.51))
    assert run(package_event(package), registry, reports, policy).verdict == "Held"
    # AND another team's Completed job, which evaluated its own model and wrote auc 0.99 inside the allowed
    # location, tagged with fraud-model/2's ARN
    job = tagged(registry, processing_job("fraud-team-scratch", model=OTHER_MODEL), package)
    reports.put(report_of(job), quality_report(auc=0.99))
    reports.reads.clear()
    # WHEN the job's event is handled
    outcome = run(job_event(job), registry, reports, policy)
    # THEN refused, not final (a bound re-run is looked at again); the job's report is not even read
    assert (outcome.outcome, outcome.verdict, outcome.final) == ("skipped", "Refused", False)
    assert reports.reads == []
    written = registry.packages[package.ModelPackageArn]
    assert written.ModelApprovalStatus == "PendingManualApproval"
    assert written.CustomerMetadataProperties["registrar:verdict"] == "Held"
    assert "did not evaluate" in written.CustomerMetadataProperties[REFUSED]


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_job_that_did_not_evaluate_the_version_does_not_reject_it(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: JobBuilder,
    job_event: EventBuilder,
    status: str,
) -> None:
    # GIVEN credit-risk/1 pending (its rule rejects on failure), and a Failed job anyone could start and tag
    # with its ARN, which evaluated another model
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = tagged(registry, processing_job("credit-eval-x", status, model=OTHER_MODEL, FailureReason="boom"), package)
    # WHEN its event is handled THEN refused: no verdict, no status, no description
    outcome = run(job_event(job), registry, reports, policy)
    assert (outcome.outcome, outcome.verdict) == ("skipped", "Refused")
    written = registry.packages[package.ModelPackageArn]
    assert written.ModelApprovalStatus == "PendingManualApproval"
    assert "registrar:verdict" not in written.CustomerMetadataProperties


@pytest.mark.parametrize(
    "model",
    [pytest.param(model_uri("credit-risk", 2), id="another-versions-artifact"), pytest.param(None, id="no-inputs")],
)
def test_a_job_that_evaluated_no_model_of_the_version_is_refused(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: JobBuilder,
    job_event: EventBuilder,
    quality_report: QualityReport,
    model: str | None,
) -> None:
    # GIVEN credit-risk/1 and /2, and a Completed passing job tagged with /1 that evaluated /2's model, or was
    # given nothing at all
    one = registry.add_package(new_package("credit-risk", 1, report=None))
    registry.add_package(new_package("credit-risk", 2, report=None))
    job = tagged(registry, processing_job("credit-eval-1", model=model), one)
    reports.put(report_of(job), quality_report(auc=0.95))
    # WHEN handled THEN refused, and /1 is not approved on it
    outcome = run(job_event(job), registry, reports, policy)
    assert outcome.verdict == "Refused"
    assert registry.packages[one.ModelPackageArn].ModelApprovalStatus == "PendingManualApproval"


@pytest.mark.parametrize("given", ["model-artifact", "arn-in-environment", "arn-in-arguments"])
def test_a_job_that_evaluated_the_version_decides_it(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: JobBuilder,
    job_event: EventBuilder,
    quality_report: QualityReport,
    given: str,
) -> None:
    # GIVEN a Completed job given credit-risk/1's model artifact, or its ARN, tagged with it, with a passing report
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    arn = package.ModelPackageArn
    choices: dict[str, dict[str, Any]] = {
        "model-artifact": {"model": package},
        "arn-in-environment": {"Environment": {"MODEL_PACKAGE_ARN": arn}},
        "arn-in-arguments": {"AppSpecification": {"ImageUri": "image", "ContainerArguments": ["--arn", arn]}},
    }
    fields = choices[given]
    job = tagged(registry, processing_job("credit-eval-1", **fields), package)
    reports.put(report_of(job), quality_report(auc=0.88))
    # WHEN handled THEN decided on it, as before
    outcome = run(job_event(job), registry, reports, policy)
    assert (outcome.outcome, outcome.verdict) == ("updated", "Approved")
    assert REFUSED not in registry.packages[arn].CustomerMetadataProperties


# --- what a refusal writes ----------------------------------------------------------------------------


@pytest.fixture
def refused_job(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, processing_job: JobBuilder
) -> tuple[ModelPackage, dict[str, Any]]:
    """credit-risk/1 pending, and a Completed job tagged with it that evaluated another model (report: auc 0.95)."""
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = tagged(registry, processing_job("credit-eval-x", model=OTHER_MODEL), package)
    reports.put(report_of(job), {"binary_classification_metrics": {"auc": {"value": 0.95}}})
    return package, job


def test_a_refusal_writes_registrar_refused_and_nothing_else(
    refused_job: tuple[ModelPackage, dict[str, Any]],
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    job_event: EventBuilder,
) -> None:
    # GIVEN a job that did not evaluate credit-risk/1, tagged with it WHEN handled
    package, job = refused_job
    outcome = run(job_event(job), registry, reports, policy)
    # THEN one UpdateModelPackage: registrar:refused only (no status, no description, no decision key)
    assert (outcome.outcome, outcome.verdict, outcome.final) == ("skipped", "Refused", False)
    assert registry.calls["update"] == 1
    request = registry.updates[0].to_request()
    assert outcome.request == request
    assert set(request) == {"ModelPackageArn", "CustomerMetadataProperties", "ClientToken"}
    assert list(request["CustomerMetadataProperties"]) == [REFUSED]
    reason = request["CustomerMetadataProperties"][REFUSED]
    assert reason.startswith(f"evaluation job credit-eval-x did not evaluate {package.ModelPackageArn}")
    # AND the outcome says why (in full: the record is the reason fitted to a metadata value), and that
    # nothing is decided
    assert outcome.reasons[0].startswith(
        f"evidence refused: evaluation job credit-eval-x did not evaluate {package.ModelPackageArn}"
    )
    assert outcome.reasons[1] == "nothing is decided on it"
    assert outcome.model_package_arn == package.ModelPackageArn


def test_the_same_refusal_again_writes_nothing(
    refused_job: tuple[ModelPackage, dict[str, Any]],
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    job_event: EventBuilder,
) -> None:
    # GIVEN the refusal recorded by a first event WHEN the same job is announced again
    _, job = refused_job
    run(job_event(job), registry, reports, policy)
    again = run(job_event(job), registry, reports, policy)
    # THEN refused again, and nothing written: the package already says so
    assert (again.outcome, again.verdict, again.final, again.request) == ("skipped", "Refused", False, None)
    assert registry.calls["update"] == 1
    assert "registrar:refused already says so" in again.reasons[-1]


def test_a_refusal_without_room_writes_nothing(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: JobBuilder,
    job_event: EventBuilder,
) -> None:
    # GIVEN credit-risk/1 whose 50 metadata entries are other tools', and a job tagged with it that evaluated
    # another model WHEN handled THEN refused, and nothing written (no entry of others is displaced)
    package = registry.add_package(
        new_package("credit-risk", 1, report=None, metadata={f"team:key-{i}": "v" for i in range(50)})
    )
    job = tagged(registry, processing_job("credit-eval-x", model=OTHER_MODEL), package)
    outcome = run(job_event(job), registry, reports, policy)
    assert (outcome.outcome, outcome.verdict, outcome.request) == ("skipped", "Refused", None)
    assert registry.calls["update"] == 0


def test_planning_a_refusal_writes_nothing(
    refused_job: tuple[ModelPackage, dict[str, Any]],
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    job_event: EventBuilder,
) -> None:
    # GIVEN apply=False WHEN a refused job is handled THEN the request is shown and not sent
    _, job = refused_job
    outcome = run(job_event(job), registry, reports, policy, apply=False)
    assert outcome.request is not None and REFUSED in outcome.request["CustomerMetadataProperties"]
    assert registry.calls["update"] == 0


def test_a_bound_job_after_a_refusal_decides_and_the_refusal_stays_recorded(
    refused_job: tuple[ModelPackage, dict[str, Any]],
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: JobBuilder,
    job_event: EventBuilder,
    quality_report: QualityReport,
) -> None:
    # GIVEN a refusal recorded on credit-risk/1, then a job that did evaluate /1's model, tagged with it
    package, job = refused_job
    run(job_event(job), registry, reports, policy)
    bound = tagged(registry, processing_job("credit-eval-1", model=package), package)
    reports.put(report_of(bound), quality_report(auc=0.88))
    # WHEN the bound job's event is handled THEN Approved, and the refusal's record is kept
    outcome = run(job_event(bound), registry, reports, policy)
    assert (outcome.outcome, outcome.verdict) == ("updated", "Approved")
    assert REFUSED in registry.packages[package.ModelPackageArn].CustomerMetadataProperties


def test_a_recorded_refusal_does_not_crowd_out_a_later_decision(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: JobBuilder,
    job_event: EventBuilder,
    quality_report: QualityReport,
) -> None:
    # GIVEN credit-risk/1 with 45 entries of other tools: room for the 5 entries of registrar's record
    package = registry.add_package(
        new_package("credit-risk", 1, report=None, metadata={f"team:key-{i}": "v" for i in range(45)})
    )
    # AND a refusal recorded on it (a 46th entry) by a job that evaluated another model
    refused = tagged(registry, processing_job("credit-eval-x", model=OTHER_MODEL), package)
    assert run(job_event(refused), registry, reports, policy).verdict == "Refused"
    # WHEN a job that did evaluate /1's model is handled
    bound = tagged(registry, processing_job("credit-eval-1", model=package), package)
    reports.put(report_of(bound), quality_report(auc=0.88))
    outcome = run(job_event(bound), registry, reports, policy)
    # THEN its decision is written within the 50 entries: the refusal's record does not make it invalid
    assert outcome.outcome == "updated", outcome.reasons
    assert len(registry.packages[package.ModelPackageArn].CustomerMetadataProperties) <= 50


# --- evidence registrar may not read: held, then the event fails -------------------------------------


def respond(stubber: Stubber, uri: str, data: bytes) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    response = {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentLength": len(data), "ETag": '"e1"'}
    stubber.add_response("get_object", response, {"Bucket": bucket, "Key": key})


FAILING = b'{"binary_classification_metrics": {"auc": {"value": 0.81}, "recall": {"value": 0.71}}}'
PASSING = b'{"binary_classification_metrics": {"auc": {"value": 0.91}, "recall": {"value": 0.72}}}'
ELSEWHERE = f"s3://{BUCKET}/fraud-model"  # an allowed location that does not hold churn-model's reports


def held_on(registry: FakeRegistry, package: ModelPackage, reason: str) -> None:
    """The version is held with ``reason``, pending: written once, no verdict of the rule."""
    written = registry.packages[package.ModelPackageArn]
    assert written.ModelApprovalStatus == "PendingManualApproval"
    assert written.CustomerMetadataProperties["registrar:verdict"] == "Held"
    assert (written.ApprovalDescription or "").startswith("registrar: Held — registrar may not read its evidence: ")
    assert reason in (written.ApprovalDescription or "")
    assert registry.calls["update"] == 1


def test_a_report_outside_the_allowed_locations_holds_the_version_and_fails_the_event(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder, s3: Any
) -> None:
    # GIVEN churn-model/1 (its rule rejects on failure) whose report lies outside the allowed locations
    client, _ = s3
    package = registry.add_package(new_package())
    reports = ReportStore(client, allowed_locations=[ELSEWHERE])
    # WHEN its event is handled THEN the Held decision is written, then DeploymentError: the event is retried
    # and dead-lettered, the alarm says why; the reject rule gives no verdict on the deployment's mistake
    with pytest.raises(DeploymentError, match=r"is held: report \S+ is outside the allowed report locations"):
        run(package_event(package), registry, reports, policy)
    held_on(registry, package, "outside the allowed report locations")


@pytest.mark.parametrize("code", ["AccessDenied", "KMS.AccessDeniedException"])
def test_s3_refusing_the_function_holds_the_version_and_fails_the_event(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder, s3: Any, code: str
) -> None:
    # GIVEN churn-model/1, whose report S3 refuses to let the function read (a permission, a KMS key)
    client, stubber = s3
    package = registry.add_package(new_package())
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=403)
    # WHEN handled THEN held with S3's refusal, then DeploymentError
    with pytest.raises(DeploymentError, match=code):
        run(package_event(package), registry, ReportStore(client), policy)
    held_on(registry, package, f"S3 refused to read report {package.quality_report_uri}: {code}")


@pytest.mark.parametrize(
    ("report", "verdict"), [(FAILING, "Rejected"), (PASSING, "Approved")], ids=["failing", "passing"]
)
def test_after_the_fix_a_redrive_decides_the_held_version(
    new_package: Builder,
    registry: FakeRegistry,
    policy: Policy,
    package_event: EventBuilder,
    s3: Any,
    report: bytes,
    verdict: str,
) -> None:
    # GIVEN churn-model/1 held because its report lay outside the allowed locations
    client, stubber = s3
    package = registry.add_package(new_package())
    with pytest.raises(DeploymentError):
        run(package_event(package), registry, ReportStore(client, allowed_locations=[ELSEWHERE]), policy)
    # WHEN the configuration is fixed (the allowed locations now hold it) and the event is redriven
    respond(stubber, str(package.quality_report_uri), report)
    fixed = ReportStore(client, allowed_locations=[ELSEWHERE, f"s3://{BUCKET}/churn-model"])
    outcome = run(package_event(package), registry, fixed, policy)
    # THEN the version is decided on its report, as if the mistake had never been made
    assert (outcome.outcome, outcome.verdict) == ("updated", verdict)
    written = registry.packages[package.ModelPackageArn]
    assert written.ModelApprovalStatus == verdict
    assert written.CustomerMetadataProperties["registrar:verdict"] == verdict


def test_a_champion_registrar_may_not_read_holds_the_candidate_and_fails_the_event(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder, s3: Any
) -> None:
    # GIVEN fraud-model/3 Approved, whose report lies outside the allowed locations, and /4 with a passing report
    client, stubber = s3
    registry.add_package(new_package("fraud-model", 3, approval="Approved", report="s3://elsewhere/fraud/3.json"))
    candidate = registry.add_package(new_package("fraud-model", 4))
    respond(stubber, str(candidate.quality_report_uri), b'{"binary_classification_metrics": {"auc": {"value": 0.99}}}')
    reports = ReportStore(client, allowed_locations=[f"s3://{BUCKET}"])
    # WHEN /4 is handled THEN held (not compared against nothing), then DeploymentError
    with pytest.raises(DeploymentError, match=re.escape("s3://elsewhere/fraud/3.json is outside")):
        run(package_event(candidate), registry, reports, policy)
    held_on(registry, candidate, "s3://elsewhere/fraud/3.json is outside the allowed report locations")


# --- the version of the evidence, and the champion read at it ----------------------------------------


@pytest.mark.parametrize("versioned", [False, True], ids=["etag", "version-id"])
def test_a_decision_records_the_version_of_its_report(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder, versioned: bool
) -> None:
    # GIVEN churn-model/1 with a passing report in a bucket without, or with, versioning
    reports = FakeReportStore(versioned=versioned)
    package = registry.add_package(new_package())
    version = reports.put(
        str(package.quality_report_uri),
        {"binary_classification_metrics": {"auc": {"value": 0.91}, "recall": {"value": 0.72}}},
    )
    # WHEN decided THEN registrar:evidence-version holds the version read: etag:<hex> or version:<VersionId>
    outcome = run(package_event(package), registry, reports, policy)
    recorded = written(outcome)["CustomerMetadataProperties"]["registrar:evidence-version"]
    assert recorded == version
    assert recorded.startswith("version:" if versioned else "etag:")


def approved_champion(
    registry: FakeRegistry, reports: FakeReportStore, policy: Policy, builder: Builder, event: EventBuilder
) -> ModelPackage:
    """fraud-model/3, approved by registrar on its report (auc 0.95), which is then overwritten with auc 0.5."""
    champion = registry.add_package(builder("fraud-model", 3))
    reports.put(str(champion.quality_report_uri), {"binary_classification_metrics": {"auc": {"value": 0.95}}})
    assert run(event(champion), registry, reports, policy).verdict == "Approved"
    reports.put(str(champion.quality_report_uri), {"binary_classification_metrics": {"auc": {"value": 0.5}}})
    return registry.packages[champion.ModelPackageArn]


def test_an_overwritten_champion_report_does_not_change_the_comparison(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder
) -> None:
    # GIVEN a versioned bucket: champion fraud-model/3 approved on auc 0.95, its report since overwritten (0.5)
    reports = FakeReportStore(versioned=True)
    champion = approved_champion(registry, reports, policy, new_package, package_event)
    recorded = champion.CustomerMetadataProperties["registrar:evidence-version"]
    # AND fraud-model/4 with auc 0.9: it would beat 0.5, not 0.95
    candidate = registry.add_package(new_package("fraud-model", 4))
    reports.put(str(candidate.quality_report_uri), {"binary_classification_metrics": {"auc": {"value": 0.9}}})
    # WHEN /4 is handled THEN the champion is read at the version it was approved on, and /4 does not beat it
    outcome = run(package_event(candidate), registry, reports, policy)
    assert reports.versions_read[-1] == recorded
    assert outcome.verdict == "Held"
    assert "auc 0.9 < champion fraud-model/3 0.95" in written(outcome)["ApprovalDescription"]


def test_a_champion_whose_report_changed_since_its_etag_cannot_be_compared(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder
) -> None:
    # GIVEN a bucket without versioning: champion fraud-model/3 approved on auc 0.95 (its ETag recorded),
    # its report since overwritten (0.5), and fraud-model/4 with auc 0.9
    reports = FakeReportStore()
    approved_champion(registry, reports, policy, new_package, package_event)
    candidate = registry.add_package(new_package("fraud-model", 4))
    reports.put(str(candidate.quality_report_uri), {"binary_classification_metrics": {"auc": {"value": 0.9}}})
    # WHEN /4 is handled THEN the champion cannot be compared (not compared on the overwritten report): held
    outcome = run(package_event(candidate), registry, reports, policy)
    assert outcome.verdict == "Held"
    description = written(outcome)["ApprovalDescription"]
    assert "champion fraud-model/3 cannot be compared" in description
    assert "changed since etag:" in description


def test_an_unchanged_champion_report_is_compared_at_its_etag(
    new_package: Builder, registry: FakeRegistry, policy: Policy, package_event: EventBuilder
) -> None:
    # GIVEN champion fraud-model/3 approved on auc 0.95, its report untouched, and /4 with auc 0.97
    reports = FakeReportStore()
    champion = registry.add_package(new_package("fraud-model", 3))
    reports.put(str(champion.quality_report_uri), {"binary_classification_metrics": {"auc": {"value": 0.95}}})
    run(package_event(champion), registry, reports, policy)
    candidate = registry.add_package(new_package("fraud-model", 4))
    reports.put(str(candidate.quality_report_uri), {"binary_classification_metrics": {"auc": {"value": 0.97}}})
    # WHEN /4 is handled THEN compared on the recorded version, which still matches: /4 beats it
    outcome = run(package_event(candidate), registry, reports, policy)
    assert outcome.verdict == "Approved"
    assert (
        reports.versions_read[-1]
        == registry.packages[champion.ModelPackageArn].CustomerMetadataProperties["registrar:evidence-version"]
    )
