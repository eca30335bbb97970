"""NeoFlow.resolve() and Target.subject: the idempotency key is the compilation job as SageMaker describes it.

Only the job's name is taken from the event; the subject is the job's ARN, status and LastModifiedTime as
read back. Two events about one finished job have one subject; a job deleted and created again under its
name is another. An event whose name and ARN disagree never reaches the flow: it is refused at parse.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from registrar.errors import EventError
from registrar.events import CompilationJobEvent
from registrar.neo.service import NeoFlow, Target, parse
from registrar.outcome import Outcome
from tests.unit.neo.fakes import PACKAGE_ARN, T0, FakeRegistry, compilation_job, job_arn, load_neo_event

NAME = "churn-model-1-ml-c5"
PLUS_ONE = timezone(timedelta(hours=1))


def event(**detail: Any) -> CompilationJobEvent:
    """The completed-ml-c5 sample, with detail members replaced; parsed as the Neo flow parses it."""
    raw = load_neo_event("completed-ml-c5.json")
    raw["detail"].update(detail)
    return parse(raw)


def resolved(flow: NeoFlow, compilation: CompilationJobEvent) -> Target:
    target = flow.resolve(compilation)
    assert isinstance(target, Target), f"resolved to an outcome: {target}"
    return target


def test_the_subject_is_the_job_as_described_not_the_event(registry: FakeRegistry) -> None:
    # GIVEN a job SageMaker describes as FAILED, modified at 14:30+01:00, and an event saying COMPLETED at 12:00Z
    registry.jobs[NAME] = compilation_job(
        status="FAILED", failure_reason="out of memory", modified=datetime(2024, 5, 1, 14, 30, tzinfo=PLUS_ONE)
    )
    # WHEN its event is resolved
    target = resolved(NeoFlow(registry=registry), event())
    # THEN the target is the described job and its version; the subject is the job's state, in UTC
    assert target.job.CompilationJobStatus == "FAILED"
    assert target.package.ModelPackageArn == PACKAGE_ARN
    assert target.link_source
    assert target.subject == f"{job_arn(NAME)}|FAILED|2024-05-01T13:30:00+00:00"


def test_two_events_about_one_finished_job_have_one_subject(registry: FakeRegistry) -> None:
    # GIVEN a finished job, and two events about it with other ids and other times
    registry.jobs[NAME] = compilation_job()
    flow = NeoFlow(registry=registry)
    first = event()
    raw = load_neo_event("completed-ml-c5.json")
    raw.update(id="0f0f0f0f-0000-4000-8000-000000000002", time="2024-05-01T15:00:00Z")
    raw["detail"]["LastModifiedTime"] = "2024-05-01T14:59:00Z"
    second = parse(raw)
    # WHEN both are resolved THEN one subject, and the sweeper's register (no event) agrees
    assert first.id != second.id
    subject = resolved(flow, first).subject
    assert resolved(flow, second).subject == subject
    by_name = flow.resolve_job(NAME)
    assert isinstance(by_name, Target) and by_name.subject == subject


def test_a_compilation_job_created_again_under_its_name_is_another_subject(registry: FakeRegistry) -> None:
    # GIVEN a job resolved once, then deleted and created again under the same name: same ARN, another time
    registry.jobs[NAME] = compilation_job(modified=T0)
    flow = NeoFlow(registry=registry)
    first = resolved(flow, event()).subject
    registry.jobs[NAME] = compilation_job(modified=datetime(2025, 3, 9, 10, 0, tzinfo=PLUS_ONE))
    # WHEN the second job's event is resolved
    second = resolved(flow, event(LastModifiedTime="2025-03-09T10:00:00+01:00")).subject
    # THEN the second job's announcement is not answered from the first's record
    assert first != second
    assert second.endswith("|COMPLETED|2025-03-09T09:00:00+00:00")


def test_a_job_described_without_an_arn_is_named_by_its_name(registry: FakeRegistry) -> None:
    # GIVEN a job whose description carries no ARN WHEN resolved THEN the subject names the job by its name
    job = compilation_job(modified=T0)
    del job["CompilationJobArn"]
    registry.jobs[NAME] = job
    target = resolved(NeoFlow(registry=registry), event())
    assert target.subject == f"{NAME}|COMPLETED|2024-05-01T12:00:00+00:00"


def test_resolving_costs_the_job_and_the_package_and_no_write(registry: FakeRegistry) -> None:
    # GIVEN a job linked by ModelPackageVersionArn WHEN resolved (what a duplicate costs before it is answered)
    # THEN DescribeCompilationJob and DescribeModelPackage once each; no tags, no write
    registry.jobs[NAME] = compilation_job()
    resolved(NeoFlow(registry=registry), event())
    assert registry.described_jobs == [NAME]
    assert registry.described_packages == [PACKAGE_ARN]
    assert registry.tag_calls == []
    assert registry.updates == []


def test_a_tag_linked_job_also_costs_its_tags(registry: FakeRegistry) -> None:
    # GIVEN a job that names its version only by tag WHEN resolved THEN ListTags is read too, once
    registry.jobs[NAME] = compilation_job(package_arn=None, framework="PYTORCH")
    registry.job_tags[job_arn(NAME)] = {"registrar:model-package-arn": PACKAGE_ARN}
    target = resolved(NeoFlow(registry=registry), event())
    assert target.package.ModelPackageArn == PACKAGE_ARN
    assert registry.tag_calls == [job_arn(NAME)]
    assert registry.described_packages == [PACKAGE_ARN]


def test_decide_and_write_after_resolve_attaches_the_specification(registry: FakeRegistry) -> None:
    # GIVEN a completed job WHEN resolved, then decided and written THEN attached with one write, as handle() does
    registry.jobs[NAME] = compilation_job()
    flow = NeoFlow(registry=registry)
    outcome = flow.decide_and_write(resolved(flow, event()), apply=True)
    assert (outcome.outcome, outcome.verdict) == ("updated", "Attached")
    assert len(registry.updates) == 1


def test_a_running_job_resolves_to_an_early_outcome(registry: FakeRegistry) -> None:
    # GIVEN the event's job still running (created before the event) WHEN resolved THEN early: retried, not described
    registry.jobs[NAME] = compilation_job(status="INPROGRESS", created=T0 - timedelta(hours=1))
    outcome = NeoFlow(registry=registry).resolve(event())
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.retry) == ("skipped", True)
    assert registry.described_packages == []


def test_an_unmanaged_group_resolves_to_a_skip_without_a_describe(registry: FakeRegistry) -> None:
    # GIVEN managed groups fraud-* WHEN a churn-model job is resolved THEN skipped; the version is not described
    registry.jobs[NAME] = compilation_job()
    outcome = NeoFlow(registry=registry, managed_groups=("fraud-*",)).resolve(event())
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.model_package_arn) == ("skipped", PACKAGE_ARN)
    assert registry.described_packages == []


def test_a_job_that_does_not_exist_resolves_to_invalid(registry: FakeRegistry) -> None:
    # GIVEN no such job WHEN its event is resolved THEN invalid, and nothing else is read
    outcome = NeoFlow(registry=registry).resolve(event())
    assert isinstance(outcome, Outcome)
    assert outcome.outcome == "invalid"
    assert registry.described_packages == []


def test_a_forged_event_naming_a_decoy_job_with_the_real_jobs_arn_is_refused_at_parse(
    registry: FakeRegistry,
) -> None:
    # GIVEN a real, finished job, and a forged event naming a decoy job by name but carrying the real job's ARN
    registry.jobs[NAME] = compilation_job()
    registry.jobs["decoy"] = compilation_job(name="decoy")
    raw = load_neo_event("completed-ml-c5.json")
    forged = copy.deepcopy(raw)
    forged["detail"]["CompilationJobName"] = "decoy"
    # WHEN the Neo flow parses it THEN invalid at parse: it names two jobs, and neither is described
    with pytest.raises(EventError, match="CompilationJobName 'decoy' is not the job its ARN names"):
        parse(forged)
    assert registry.described_jobs == []
    # AND the genuine event still parses and resolves to the real job
    assert resolved(NeoFlow(registry=registry), parse(raw)).job.CompilationJobName == NAME


def test_a_job_deleted_and_created_again_after_the_event_is_stale(registry: FakeRegistry) -> None:
    # GIVEN the job created again (running) after the event's LastModifiedTime WHEN resolved
    # THEN skipped for good (not early): the event is about an earlier job of that name
    registry.jobs[NAME] = compilation_job(status="INPROGRESS", created=datetime(2024, 5, 1, 12, 30, tzinfo=UTC))
    outcome = NeoFlow(registry=registry).resolve(event())
    assert isinstance(outcome, Outcome)
    assert (outcome.outcome, outcome.retry, outcome.final) == ("skipped", False, True)
    assert "earlier job of that name" in outcome.reasons[0]
