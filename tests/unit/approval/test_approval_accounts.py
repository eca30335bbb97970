"""Several accounts: a workload account's evaluation decides a version of the registry account, and nothing else.

The job and its report live in the workload account and are read there; the version it names must be in the
registry account. A tag naming a version of any other account is refused before anything is described or
written (ARCHITECTURE.md, safety rule 8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registrar.accounts import Accounts
from registrar.approval.policy import Policy
from registrar.approval.service import PACKAGE_TAG, ApprovalFlow
from registrar.events import ModelPackageEvent, ProcessingJobEvent, parse_event
from registrar.settings import WorkloadAccount
from tests.unit.approval.conftest import ACCOUNT, REGION

Builder = Callable[..., Any]
FakeRegistry = Any
FakeReportStore = Any

WORKLOAD = "111111111111"
UNLISTED = "999999999999"
WORKLOAD_REPORTS = "s3://training-dev-evaluations/jobs/"
DEV_COMPILED = "s3://training-dev-compiled/neo/"


def accounts(registry: str | None = ACCOUNT) -> Accounts:
    return Accounts(
        registry=registry,
        workloads={WORKLOAD: WorkloadAccount(report_locations=[WORKLOAD_REPORTS], neo_output_locations=[DEV_COMPILED])},
    )


def flow_of(registry: FakeRegistry, reports: FakeReportStore, policy: Policy, trusted: Accounts) -> ApprovalFlow:
    return ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy, accounts=trusted)


def workload_job(processing_job: Builder, name: str, package: Any, *, account: str = WORKLOAD) -> dict[str, Any]:
    """A finished evaluation job of ``account`` that evaluated ``package``, its report in that account's bucket."""
    job: dict[str, Any] = processing_job(name, model=package)
    job["ProcessingJobArn"] = f"arn:aws:sagemaker:{REGION}:{account}:processing-job/{name}"
    job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = f"{WORKLOAD_REPORTS}{name}/evaluation"
    return job


def event_of(job: dict[str, Any]) -> ProcessingJobEvent:
    account = job["ProcessingJobArn"].split(":")[4]
    event = parse_event(
        {
            "version": "0",
            "id": "66666666-7777-8888-9999-000000000000",
            "detail-type": "SageMaker Processing Job State Change",
            "source": "aws.sagemaker",
            "account": account,
            "time": "2025-03-06T08:30:12Z",
            "region": REGION,
            "resources": [job["ProcessingJobArn"]],
            "detail": {
                "ProcessingJobArn": job["ProcessingJobArn"],
                "ProcessingJobName": job["ProcessingJobName"],
                "ProcessingJobStatus": "Completed",
                "LastModifiedTime": 1741251012000,
            },
        }
    )
    assert isinstance(event, ProcessingJobEvent)
    return event


def package_event_of(arn: str, account: str) -> ModelPackageEvent:
    """A Model Package State Change about ``arn``, from ``account``, awaiting a decision."""
    event = parse_event(
        {
            "version": "0",
            "id": "11111111-2222-3333-4444-555555555555",
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": account,
            "time": "2025-03-04T09:15:27Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "ModelPackageArn": arn,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": "PendingManualApproval",
            },
        }
    )
    assert isinstance(event, ModelPackageEvent)
    return event


def test_a_workload_evaluation_decides_the_registry_version_it_names_reading_the_job_in_its_account(
    new_package: Builder,
    processing_job: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    quality_report: Builder,
) -> None:
    # GIVEN a credit-risk version of the registry account, and a job of the workload account that evaluated it
    package = registry.add_package(new_package("credit-risk", 1))
    job = registry.add_job(workload_job(processing_job, "eval-dev-1", package))
    registry.resource_tags[job["ProcessingJobArn"]] = {PACKAGE_TAG: package.ModelPackageArn}
    reports.put(f"{WORKLOAD_REPORTS}eval-dev-1/evaluation/evaluation.json", quality_report(auc=0.93))
    # WHEN the workload's forwarded event is handled
    outcome = flow_of(registry, reports, policy, accounts()).handle(event_of(job))
    # THEN the job was described in the workload account, and the registry's version approved on its report
    assert registry.job_accounts == [WORKLOAD]
    assert outcome.verdict == "Approved", outcome.reasons
    assert registry.packages[package.ModelPackageArn].ModelApprovalStatus == "Approved"


def test_a_tag_naming_a_version_of_an_unlisted_account_is_refused_before_anything_is_described(
    new_package: Builder, processing_job: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a workload's job whose tag names a version in an account registrar does not manage
    foreign = f"arn:aws:sagemaker:{REGION}:{UNLISTED}:model-package/credit-risk/1"
    job = registry.add_job(workload_job(processing_job, "eval-dev-2", None))
    registry.resource_tags[job["ProcessingJobArn"]] = {PACKAGE_TAG: foreign}
    # WHEN its event is handled
    outcome = flow_of(registry, reports, policy, accounts()).handle(event_of(job))
    # THEN it is invalid, naming the account; no version is described, nothing is read or written
    assert outcome.outcome == "invalid"
    assert f"is in account {UNLISTED}" in outcome.reasons[0]
    assert f"model package groups of account {ACCOUNT} alone" in outcome.reasons[0]
    assert registry.calls["describe"] == 0
    assert registry.updates == []
    assert reports.reads == []


def test_a_version_in_a_listed_workload_account_is_not_the_registry_either(
    new_package: Builder, processing_job: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a workload job tagged with a version ARN of the workload account itself (registry is elsewhere)
    own = f"arn:aws:sagemaker:{REGION}:{WORKLOAD}:model-package/credit-risk/1"
    job = registry.add_job(workload_job(processing_job, "eval-dev-3", None))
    registry.resource_tags[job["ProcessingJobArn"]] = {PACKAGE_TAG: own}
    # WHEN handled THEN refused: registrar decides the registry account's versions alone
    outcome = flow_of(registry, reports, policy, accounts()).handle(event_of(job))
    assert outcome.outcome == "invalid"
    assert f"is in account {WORKLOAD}" in outcome.reasons[0]
    assert registry.calls["describe"] == 0


def test_without_a_registry_account_a_version_must_be_in_the_account_of_its_job(
    new_package: Builder, processing_job: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a local run (no registry account set) and a job of account A tagged with a version of account B
    job = registry.add_job(processing_job("eval-local-1"))
    registry.resource_tags[job["ProcessingJobArn"]] = {
        PACKAGE_TAG: f"arn:aws:sagemaker:{REGION}:{UNLISTED}:model-package/credit-risk/1"
    }
    # WHEN handled THEN refused, naming the job's account as the one registrar acts in
    outcome = flow_of(registry, reports, policy, Accounts()).handle(event_of(job))
    assert outcome.outcome == "invalid"
    assert f"of account {ACCOUNT} alone" in outcome.reasons[0]
    assert registry.updates == []


def test_a_package_event_of_a_workload_account_is_refused(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a Model Package State Change forwarded from a workload account, about a version there
    arn = f"arn:aws:sagemaker:{REGION}:{WORKLOAD}:model-package/churn-model/4"
    event = package_event_of(arn, WORKLOAD)
    # WHEN handled THEN invalid, nothing described
    outcome = flow_of(registry, reports, policy, accounts()).handle(event)
    assert outcome.outcome == "invalid"
    assert registry.calls["describe"] == 0


# --- evidence counts only where it was made (security review of #18) ---------------------------------------------

PROD = "333333333333"
PROD_REPORTS = "s3://training-prod-evaluations/reports/"


def two_workloads() -> Accounts:
    return Accounts(
        registry=ACCOUNT,
        workloads={
            WORKLOAD: WorkloadAccount(report_locations=[WORKLOAD_REPORTS], neo_output_locations=[DEV_COMPILED]),
            PROD: WorkloadAccount(report_locations=[PROD_REPORTS], neo_output_locations=["s3://prod-compiled/neo/"]),
        },
    )


def test_a_workload_job_cannot_name_another_workloads_report_as_its_evidence(
    new_package: Builder,
    processing_job: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    quality_report: Builder,
) -> None:
    # GIVEN a dev job bound to the registry's version, whose output points at prod's reports (a good run of prod's)
    package = registry.add_package(new_package("credit-risk", 7))
    job = workload_job(processing_job, "eval-dev-steal", package)
    job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = f"{PROD_REPORTS}good-run/evaluation"
    registry.add_job(job, tags={PACKAGE_TAG: package.ModelPackageArn})
    reports.put(f"{PROD_REPORTS}good-run/evaluation/evaluation.json", quality_report(auc=0.99))
    # WHEN dev's event is handled
    outcome = flow_of(registry, reports, policy, two_workloads()).handle(event_of(job))
    # THEN the evidence is refused, unread: nothing is decided, the version stays pending with the refusal recorded
    assert outcome.verdict == "Refused"
    assert reports.reads == []
    assert f"to workload account {PROD}'s report locations" in outcome.reasons[0]
    assert registry.packages[package.ModelPackageArn].ModelApprovalStatus == "PendingManualApproval"


def test_a_workload_job_is_bound_by_the_versions_model_alone_not_by_its_arn(
    new_package: Builder, processing_job: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a dev job that names the registry's version in its environment but evaluated another model
    package = registry.add_package(new_package("credit-risk", 8))
    job = workload_job(processing_job, "eval-dev-named", "s3://training-dev-models/other/model.tar.gz")
    job["Environment"] = {"MODEL_PACKAGE": package.ModelPackageArn}
    registry.add_job(job, tags={PACKAGE_TAG: package.ModelPackageArn})
    # WHEN handled THEN refused: one account's job binds by ARN, a workload's by the model it took as input
    outcome = flow_of(registry, reports, policy, two_workloads()).handle(event_of(job))
    assert outcome.verdict == "Refused"
    assert "bound to a version by the version's model alone" in outcome.reasons[0]
    assert reports.reads == []


def test_a_registry_job_cannot_take_its_evidence_from_a_workloads_locations(
    new_package: Builder, processing_job: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a job of the registry account itself whose report lies in dev's locations
    package = registry.add_package(new_package("credit-risk", 9))
    job = workload_job(processing_job, "eval-home", package, account=ACCOUNT)
    registry.add_job(job, tags={PACKAGE_TAG: package.ModelPackageArn})
    # WHEN handled THEN refused, unread (it would be read with dev's role)
    outcome = flow_of(registry, reports, policy, two_workloads()).handle(event_of(job))
    assert outcome.verdict == "Refused"
    assert f"of account {ACCOUNT} wrote its report" in outcome.reasons[0]
    assert reports.reads == []


def test_a_versions_own_report_in_a_workloads_locations_is_refused(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy, quality_report: Builder
) -> None:
    # GIVEN a churn version (its rule reads the version's own report) whose ModelMetrics point into prod's bucket
    uri = f"{PROD_REPORTS}churn/evaluation.json"
    package = registry.add_package(new_package("churn-model", 3, report=uri))
    reports.put(uri, quality_report(auc=0.99, recall=0.9))
    event = package_event_of(package.ModelPackageArn, ACCOUNT)
    arn = package.ModelPackageArn
    # WHEN handled THEN refused unread: a workload's evidence counts through its job's event, read in its account
    outcome = flow_of(registry, reports, policy, two_workloads()).handle(event)
    assert outcome.verdict == "Refused"
    assert f"lies in workload account {PROD}'s report locations" in outcome.reasons[0]
    assert reports.reads == []
    assert registry.packages[arn].ModelApprovalStatus == "PendingManualApproval"


def test_with_one_account_a_job_still_binds_by_the_versions_arn(
    new_package: Builder,
    processing_job: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    quality_report: Builder,
) -> None:
    # GIVEN one account (no workloads) and a job that names the version in its environment only
    package = registry.add_package(new_package("credit-risk", 10))
    job = processing_job("eval-single", model="s3://elsewhere/model.tar.gz")
    job["Environment"] = {"MODEL_PACKAGE": package.ModelPackageArn}
    registry.add_job(job, tags={PACKAGE_TAG: package.ModelPackageArn})
    reports.put(
        f"{job['ProcessingOutputConfig']['Outputs'][0]['S3Output']['S3Uri']}/evaluation.json", quality_report(auc=0.93)
    )
    # WHEN handled THEN decided as before (the single-account binding rule is unchanged)
    outcome = flow_of(registry, reports, policy, Accounts()).handle(event_of(job))
    assert outcome.verdict == "Approved", outcome.reasons
