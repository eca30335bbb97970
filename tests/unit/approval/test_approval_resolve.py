"""ApprovalFlow.resolve() and Target.subject: the idempotency key is the version (or job) as read back from AWS.

Nothing but which package or job to look at is taken from the event, so two events about the same state
(another id, another time, another LastModifiedTime in the event) have one subject, and a change of the
state read back is a new subject. What a duplicate costs is the resolve step's reads, and no write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from registrar.approval.policy import Policy
from registrar.approval.service import PACKAGE_TAG, ApprovalEvent, ApprovalFlow, Target, parse
from registrar.errors import EventError
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from tests.unit.neo.fakes import client_error

Builder = Callable[..., ModelPackage]
Report = Callable[..., dict[str, Any]]
# The approval fixtures' fakes (conftest.py): FakeRegistry counts its calls, FakeReportStore its reads.
FakeRegistry = Any
FakeReportStore = Any

ACCOUNT = "123456789012"
REGION = "us-east-1"

MODIFIED = datetime(2025, 3, 4, 9, 15, 27, tzinfo=UTC)
PLUS_ONE = timezone(timedelta(hours=1))


def flow_of(registry: FakeRegistry, reports: FakeReportStore, policy: Policy, managed: tuple[str, ...] = ()) -> Any:
    return ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy, managed_groups=managed)


def package_event(
    arn: str,
    *,
    event_id: str = "11111111-2222-3333-4444-555555555555",
    time: str = "2025-03-04T09:15:27Z",
    status: str = "PendingManualApproval",
    modified: Any = "2025-03-04T09:15:27Z",
    updated_fields: tuple[str, ...] = (),
) -> ApprovalEvent:
    """A Model Package State Change for ``arn``, as the approval flow parses it."""
    return parse(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": time,
            "region": REGION,
            "resources": [arn],
            "detail": {
                "ModelPackageArn": arn,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": status,
                "UpdatedModelPackageFields": list(updated_fields),
                "LastModifiedTime": modified,
            },
        }
    )


def job_event(
    job: dict[str, Any],
    *,
    event_id: str = "66666666-7777-8888-9999-000000000000",
    time: str = "2025-03-06T08:30:12Z",
    status: str = "Completed",
    modified: Any = 1741251012000,
) -> ApprovalEvent:
    """A Processing Job State Change for ``job``, as the approval flow parses it."""
    return parse(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "SageMaker Processing Job State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": time,
            "region": REGION,
            "resources": [job["ProcessingJobArn"]],
            "detail": {
                "ProcessingJobArn": job["ProcessingJobArn"],
                "ProcessingJobName": job["ProcessingJobName"],
                "ProcessingJobStatus": status,
                "LastModifiedTime": modified,
            },
        }
    )


def resolved(flow: Any, event: ApprovalEvent) -> Target:
    target = flow.resolve(event)
    assert isinstance(target, Target), f"resolved to an outcome: {target}"
    return target


# --- a package's event --------------------------------------------------------------------------


def test_the_subject_is_the_package_as_described_not_the_event(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a version SageMaker describes as Approved, modified at 10:20+01:00, and an event that still says
    # PendingManualApproval at 09:15Z
    package = registry.add_package(
        new_package(approval="Approved", LastModifiedTime=datetime(2025, 3, 4, 10, 20, tzinfo=PLUS_ONE))
    )
    # WHEN the event is resolved
    target = resolved(flow_of(registry, reports, policy), package_event(package.ModelPackageArn))
    # THEN the target is the described package, and the subject is its state, in UTC
    assert target.package == package
    assert target.job is None
    assert target.subject == f"{package.ModelPackageArn}|Completed|Approved|2025-03-04T09:20:00+00:00"


def test_two_events_about_one_package_state_have_one_subject(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN one version, and two events about it with other ids, other times and other LastModifiedTimes
    package = registry.add_package(new_package(LastModifiedTime=MODIFIED))
    flow = flow_of(registry, reports, policy)
    first = package_event(package.ModelPackageArn)
    second = package_event(
        package.ModelPackageArn,
        event_id="99999999-8888-7777-6666-555555555555",
        time="2025-03-04T11:00:00Z",
        modified="2025-03-04T10:59:59Z",
    )
    # WHEN both are resolved THEN one subject: the package as it is, which neither event changes
    assert resolved(flow, first).subject == resolved(flow, second).subject


def test_one_instant_has_one_subject_whatever_the_offset_it_is_described_in(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN the same version described at the same instant in UTC and at +01:00 (botocore answers in local time)
    flow, subjects = flow_of(registry, reports, policy), []
    for moment in (datetime(2025, 3, 4, 17, 0, 14, tzinfo=UTC), datetime(2025, 3, 4, 18, 0, 14, tzinfo=PLUS_ONE)):
        package = registry.add_package(new_package(LastModifiedTime=moment))
        subjects.append(resolved(flow, package_event(package.ModelPackageArn)).subject)
    # THEN both are about the same thing
    assert subjects[0] == subjects[1]
    assert subjects[0].endswith("|2025-03-04T17:00:14+00:00")


def test_a_change_of_the_package_is_a_new_subject(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a version resolved once
    package = registry.add_package(new_package(LastModifiedTime=MODIFIED))
    flow = flow_of(registry, reports, policy)
    event = package_event(package.ModelPackageArn)
    before = resolved(flow, event).subject
    # WHEN a person approves it, and later sets it back to PendingManualApproval (each a new LastModifiedTime)
    registry.add_package(package.model_copy(update={"ModelApprovalStatus": "Approved"}))
    approved = resolved(flow, event).subject
    registry.add_package(package.model_copy(update={"LastModifiedTime": MODIFIED + timedelta(hours=1)}))
    reset = resolved(flow, event).subject
    # THEN each state read back is a subject of its own, though the event is the same
    assert len({before, approved, reset}) == 3


def test_a_package_described_without_a_modification_time_keeps_its_status_in_the_subject(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a version described without LastModifiedTime WHEN resolved
    # THEN the subject says so ("-"), and the event's own times do not stand in for it
    package = registry.add_package(new_package())
    flow = flow_of(registry, reports, policy)
    subject = resolved(flow, package_event(package.ModelPackageArn)).subject
    assert subject == f"{package.ModelPackageArn}|Completed|PendingManualApproval|-"
    later = package_event(package.ModelPackageArn, time="2025-03-05T00:00:00Z", modified="2025-03-05T00:00:00Z")
    assert resolved(flow, later).subject == subject


def test_resolving_a_package_event_costs_one_describe_and_nothing_else(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN a pending version WHEN its event is resolved (what a duplicate costs before it is answered)
    # THEN one DescribeModelPackage: no report read, no champion, no write
    package = registry.add_package(new_package())
    resolved(flow_of(registry, reports, policy), package_event(package.ModelPackageArn))
    assert dict(registry.calls) == {"describe": 1}
    assert reports.reads == []


def test_decide_and_write_after_resolve_is_handle(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy, quality_report: Report
) -> None:
    # GIVEN a pending churn version with a passing report
    package = registry.add_package(new_package())
    reports.put(package.quality_report_uri, quality_report(auc=0.91, recall=0.72))
    flow = flow_of(registry, reports, policy)
    # WHEN resolved, then decided and written
    outcome = flow.decide_and_write(resolved(flow, package_event(package.ModelPackageArn)), apply=True)
    # THEN approved with one write, as handle() does
    assert (outcome.outcome, outcome.verdict) == ("updated", "Approved")
    assert registry.calls["update"] == 1


def test_registrars_own_write_resolves_to_a_skip_without_any_call(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN an event reporting only fields registrar writes WHEN resolved THEN skipped (the loop guard), no call
    package = registry.add_package(new_package())
    event = package_event(package.ModelPackageArn, updated_fields=("ApprovalDescription",))
    outcome = flow_of(registry, reports, policy).resolve(event)
    assert isinstance(outcome, Outcome)
    assert outcome.outcome == "skipped"
    assert outcome.reasons[0].startswith("loop guard")
    assert sum(registry.calls.values()) == 0


def test_an_unmanaged_group_resolves_to_a_skip_without_a_describe(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN managed groups fraud-* WHEN a churn version's event is resolved THEN skipped, not described
    package = registry.add_package(new_package())
    outcome = flow_of(registry, reports, policy, ("fraud-*",)).resolve(package_event(package.ModelPackageArn))
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.model_package_arn) == ("skipped", package.ModelPackageArn)
    assert registry.calls["describe"] == 0


def test_a_managed_group_in_capitals_manages_the_version(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN managed groups CHURN-* WHEN a churn-model version's event is resolved THEN described: case is ignored
    package = registry.add_package(new_package())
    target = resolved(flow_of(registry, reports, policy, ("CHURN-*",)), package_event(package.ModelPackageArn))
    assert target.package == package


def test_a_package_that_does_not_exist_is_invalid(
    registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN an event about a version SageMaker does not know WHEN resolved THEN invalid (poison), naming the error
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/404"
    outcome = flow_of(registry, reports, policy).resolve(package_event(arn))
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.model_package_arn) == ("invalid", arn)
    assert "ValidationException" in outcome.reasons[0]


def test_any_other_aws_error_is_raised_to_be_retried(
    new_package: Builder, registry: FakeRegistry, reports: FakeReportStore, policy: Policy
) -> None:
    # GIVEN DescribeModelPackage throttled beyond the client's retries WHEN resolved THEN the error is raised
    package = new_package()

    def throttled(model_package_arn: str) -> ModelPackage:
        raise client_error("ThrottlingException", "Rate exceeded")

    registry.describe = throttled
    with pytest.raises(Exception, match="ThrottlingException"):
        flow_of(registry, reports, policy).resolve(package_event(package.ModelPackageArn))


# --- a processing job's event -------------------------------------------------------------------


def test_a_job_event_resolves_to_the_job_and_the_version_it_is_tagged_with(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN a job SageMaker describes as Completed at 09:00Z, tagged with credit-risk/1, and an event about it
    # from another time
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = registry.add_job(
        processing_job("credit-eval-1", LastModifiedTime=datetime(2025, 3, 6, 10, 0, tzinfo=PLUS_ONE)),
        {PACKAGE_TAG: package.ModelPackageArn},
    )
    # WHEN resolved
    target = resolved(flow_of(registry, reports, policy), job_event(job))
    # THEN the target is the version and the described job; the subject is the job as described, in UTC
    assert target.package == package
    assert target.job == job
    assert target.subject == f"{job['ProcessingJobArn']}|Completed|2025-03-06T09:00:00+00:00"
    # AND the reads are the resolve step's: DescribeProcessingJob, ListTags, DescribeModelPackage; nothing else
    assert dict(registry.calls) == {"describe_processing_job": 1, "tags": 1, "describe": 1}
    assert reports.reads == []


def test_two_events_about_one_finished_job_have_one_subject(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN a finished, tagged job, and two events about it with other ids, times and LastModifiedTimes
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = registry.add_job(
        processing_job("credit-eval-1", LastModifiedTime=MODIFIED), {PACKAGE_TAG: package.ModelPackageArn}
    )
    flow = flow_of(registry, reports, policy)
    first = job_event(job)
    second = job_event(job, event_id="00000000-1111-2222-3333-444444444444", time="2025-03-07T00:00:00Z", modified=1)
    # WHEN both are resolved THEN one subject
    assert resolved(flow, first).subject == resolved(flow, second).subject


def test_the_job_status_in_the_subject_is_the_described_one(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN an event saying Completed about a job SageMaker describes as Failed WHEN resolved
    # THEN the subject carries Failed: the event's status is not read
    package = registry.add_package(new_package("credit-risk", 2, report=None))
    job = registry.add_job(
        processing_job("credit-eval-2", "Failed", LastModifiedTime=MODIFIED), {PACKAGE_TAG: package.ModelPackageArn}
    )
    target = resolved(flow_of(registry, reports, policy), job_event(job, status="Completed"))
    assert target.subject == f"{job['ProcessingJobArn']}|Failed|2025-03-04T09:15:27+00:00"


def test_a_job_that_does_not_exist_is_invalid(
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN an event about a job SageMaker cannot describe WHEN resolved THEN invalid, nothing else read
    outcome = flow_of(registry, reports, policy).resolve(job_event(processing_job("gone-job")))
    assert isinstance(outcome, Outcome)
    assert outcome.outcome == "invalid"
    assert "processing job gone-job cannot be described" in outcome.reasons[0]
    assert dict(registry.calls) == {"describe_processing_job": 1}


def test_an_unfinished_job_is_early_and_to_be_retried(
    new_package: Builder,
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN a tagged job still InProgress WHEN its Completed event is resolved THEN early (retry), not described
    package = registry.add_package(new_package("credit-risk", 1, report=None))
    job = registry.add_job(processing_job("credit-eval-1", "InProgress"), {PACKAGE_TAG: package.ModelPackageArn})
    outcome = flow_of(registry, reports, policy).resolve(job_event(job))
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.retry, outcome.model_package_arn) == ("skipped", True, package.ModelPackageArn)
    assert registry.calls["describe"] == 0


def test_an_untagged_job_is_skipped_but_not_final(
    registry: FakeRegistry,
    reports: FakeReportStore,
    policy: Policy,
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN a job without the tag WHEN resolved THEN skipped, not final: the job may be tagged and announced again
    job = registry.add_job(processing_job("unrelated"))
    outcome = flow_of(registry, reports, policy).resolve(job_event(job))
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.final) == ("skipped", False)


def test_a_job_event_naming_another_job_than_its_arn_is_refused_at_parse(
    processing_job: Callable[..., dict[str, Any]],
) -> None:
    # GIVEN a forged job event whose ProcessingJobName is a decoy and whose ARN is the real job's
    job = processing_job("credit-eval-1")
    raw = {
        "version": "0",
        "id": "66666666-7777-8888-9999-000000000000",
        "detail-type": "SageMaker Processing Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2025-03-06T08:30:12Z",
        "region": REGION,
        "resources": [job["ProcessingJobArn"]],
        "detail": {
            "ProcessingJobArn": job["ProcessingJobArn"],
            "ProcessingJobName": "decoy-eval",
            "ProcessingJobStatus": "Completed",
        },
    }
    # WHEN the approval flow parses it THEN refused: the flow never sees it
    with pytest.raises(EventError, match="ProcessingJobName 'decoy-eval' is not the job its ARN names"):
        parse(raw)
