"""NeoFlow.handle(): read the job again, link, decide, plan and apply; re-plan when a concurrent write wins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from registrar.events import CompilationJobEvent, parse_event
from registrar.neo.service import MAX_REPLANS, NeoFlow
from registrar.neo.spec import specification_name
from registrar.observability import metric_name
from registrar.outcome import Outcome
from tests.unit.neo.fakes import (
    PACKAGE_ARN,
    T0,
    FakeRegistry,
    client_error,
    compilation_job,
    job_arn,
    load_neo_event,
    model_package,
)

C5_NAME = specification_name("churn-model-1-ml-c5", "ml_c5")


def _event(name: str) -> CompilationJobEvent:
    event = parse_event(load_neo_event(name))
    assert isinstance(event, CompilationJobEvent)
    return event


def run(
    event: CompilationJobEvent,
    *,
    registry: FakeRegistry,
    apply: bool,
    managed_groups: Sequence[str] = (),
    max_replans: int = MAX_REPLANS,
) -> Outcome:
    flow = NeoFlow(registry=registry, managed_groups=tuple(managed_groups), max_replans=max_replans)
    return flow.handle(event, apply=apply)


def _specs(registry: FakeRegistry) -> list[str]:
    return [spec["Name"] for spec in registry.packages[PACKAGE_ARN]["AdditionalInferenceSpecifications"]]


@pytest.mark.parametrize(
    "name", ["completed-ml-c5.json", "completed-ml-inf2.json", "edge-jetson-nano.json", "failed.json", "unlinked.json"]
)
def test_every_sample_event_is_a_compilation_job_event(name: str) -> None:
    event = _event(name)

    assert event.source == "registrar"
    assert event.resources == [event.detail.CompilationJobArn]


def test_a_completed_job_is_attached_with_one_planned_request(registry: FakeRegistry) -> None:
    # GIVEN the ml_c5 job compiled from churn-model/1
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()

    # WHEN its event is handled
    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    # THEN one UpdateModelPackage with a ClientToken attached the specification
    assert (outcome.outcome, outcome.verdict) == ("updated", "Attached")
    assert outcome.model_package_arn == PACKAGE_ARN
    assert len(registry.updates) == 1
    assert registry.updates[0].ClientToken
    assert outcome.request == registry.updates[0].to_request()
    assert _specs(registry) == [C5_NAME]
    assert registry.tag_calls == []  # linked by ModelPackageVersionArn: tags never read
    assert metric_name(outcome) == "SpecAttached"


def test_the_event_is_only_a_pointer_the_job_is_read_again(registry: FakeRegistry) -> None:
    # GIVEN an event claiming COMPLETED for a job that in fact FAILED
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(status="FAILED", failure_reason="out of memory")

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert outcome.verdict == "Recorded"
    assert _specs(registry) == []


def test_planning_only_sends_nothing(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=False)

    assert outcome.outcome == "updated"
    assert outcome.request is not None
    assert registry.updates == []


def test_handling_the_same_job_twice_changes_nothing_the_second_time(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    again = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert again.outcome == "unchanged"
    assert again.request is None
    assert len(registry.updates) == 1


def test_a_tag_linked_job_reads_its_tags(registry: FakeRegistry) -> None:
    name = "churn-model-1-ml-inf2"
    registry.jobs[name] = compilation_job(name=name, target="ml_inf2", package_arn=None, framework="PYTORCH")
    registry.job_tags[job_arn(name)] = {"registrar:model-package-arn": PACKAGE_ARN}

    outcome = run(_event("completed-ml-inf2.json"), registry=registry, apply=True)

    assert outcome.verdict == "Attached"
    assert registry.tag_calls == [job_arn(name)]


def test_an_unlinked_job_is_skipped_and_nothing_is_written(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-unlinked"] = compilation_job(name="churn-model-unlinked", package_arn=None)

    outcome = run(_event("unlinked.json"), registry=registry, apply=True)

    assert outcome.outcome == "skipped"
    assert outcome.reasons == [
        "compilation job churn-model-unlinked names no model package: "
        "set ModelPackageVersionArn or tag registrar:model-package-arn"
    ]
    assert registry.updates == []


def test_a_bad_tag_is_invalid(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-unlinked"] = compilation_job(name="churn-model-unlinked", package_arn=None)
    registry.job_tags[job_arn("churn-model-unlinked")] = {"registrar:model-package-arn": "churn-model/1"}

    outcome = run(_event("unlinked.json"), registry=registry, apply=True)

    assert outcome.outcome == "invalid"
    assert registry.updates == []


def test_an_edge_job_is_recorded_in_metadata(registry: FakeRegistry) -> None:
    name = "churn-model-1-jetson-nano"
    registry.jobs[name] = compilation_job(name=name, target="jetson_nano", image=None)

    outcome = run(_event("edge-jetson-nano.json"), registry=registry, apply=True)

    assert (outcome.outcome, outcome.verdict) == ("updated", "Recorded")
    assert registry.packages[PACKAGE_ARN]["CustomerMetadataProperties"]["registrar:neo:jetson_nano"].startswith(
        f"edge {name} s3://"
    )
    assert _specs(registry) == []
    assert metric_name(outcome) == "NeoRecorded"


def test_a_full_package_reports_over_cap_and_records_it() -> None:
    registry = FakeRegistry(jobs=[compilation_job()], packages=[model_package(specifications=15)])

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert outcome.outcome == "skipped"
    assert outcome.reasons[0] == "package already holds 15 additional inference specifications"
    assert outcome.verdict == "OverCap"
    assert registry.packages[PACKAGE_ARN]["CustomerMetadataProperties"] == {
        "registrar:neo:ml_c5": "over-cap churn-model-1-ml-c5"
    }
    assert metric_name(outcome) == "SpecOverCap"


def test_a_job_still_running_is_skipped_to_be_retried(registry: FakeRegistry) -> None:
    # GIVEN the event's job (created before the event's time) still described as running
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(
        status="INPROGRESS", created=datetime(2024, 5, 1, tzinfo=UTC)
    )

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    # THEN nothing is written and the event is to come back later (it is early)
    assert outcome.outcome == "skipped"
    assert outcome.retry
    assert registry.updates == []


def test_an_event_about_an_earlier_job_of_the_same_name_is_stale_not_early(registry: FakeRegistry) -> None:
    # GIVEN the job was deleted and created again under its name after the event's LastModifiedTime (12:00)
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(
        status="INPROGRESS", created=datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    )

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    # THEN skipped for good: retrying would only end in the dead-letter queue
    assert outcome.outcome == "skipped"
    assert not outcome.retry and outcome.final
    assert "earlier job of that name" in outcome.reasons[0]
    assert registry.updates == []


def test_a_job_that_does_not_exist_is_invalid(registry: FakeRegistry) -> None:
    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert outcome.outcome == "invalid"
    assert "not found" in outcome.reasons[0]


def test_a_package_that_does_not_exist_is_invalid() -> None:
    registry = FakeRegistry(jobs=[compilation_job()])

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert outcome.outcome == "invalid"
    assert outcome.model_package_arn == PACKAGE_ARN


def test_an_unmanaged_group_is_skipped(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True, managed_groups=["fraud-*"])

    assert outcome.outcome == "skipped"
    assert registry.updates == []
    # the version is not even described: the function's role allows that on the managed groups only
    assert registry.described_packages == []


def test_a_managed_group_spelled_in_capitals_manages_the_lower_case_group(registry: FakeRegistry) -> None:
    # GIVEN managed groups given as Churn-* (SageMaker's ARN spells the group in lower case)
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    # WHEN the job of a churn-model version is handled
    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True, managed_groups=["Churn-*"])
    # THEN the group is managed: groups match ignoring case everywhere (registrar.groups), so the version
    # is described and the specification attached (it was refused on the described name before)
    assert registry.described_packages == [PACKAGE_ARN]
    assert (outcome.outcome, outcome.verdict) == ("updated", "Attached")
    assert _specs(registry) == [C5_NAME]


def test_a_concurrent_attachment_of_the_same_job_ends_unchanged(registry: FakeRegistry) -> None:
    # GIVEN another handler attaches the same job's specification just before this one writes
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    registry.before_update = lambda fake: fake.attach(
        PACKAGE_ARN, C5_NAME, {"registrar:neo:ml_c5": f"attached churn-model-1-ml-c5 {C5_NAME}"}
    )

    # WHEN UpdateModelPackage refuses the duplicate name
    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    # THEN the package is described again and the re-plan finds nothing left to do
    assert outcome.outcome == "unchanged"
    assert any("re-planned" in reason for reason in outcome.reasons)
    assert _specs(registry) == [C5_NAME]


def test_a_concurrent_write_that_fills_the_cap_ends_over_cap() -> None:
    registry = FakeRegistry(jobs=[compilation_job()], packages=[model_package(specifications=14)])
    registry.before_update = lambda fake: fake.attach(PACKAGE_ARN, "someone-elses")

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert outcome.outcome == "skipped"
    assert "package already holds 15 additional inference specifications" in outcome.reasons
    assert len(registry.updates) == 1  # the over-cap record
    assert registry.updates[0].AdditionalInferenceSpecificationsToAdd is None


def test_a_validation_exception_once_is_replanned_and_applied(registry: FakeRegistry) -> None:
    # GIVEN UpdateModelPackage refuses the first request (e.g. a stale read after a concurrent write)
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    registry.fail_updates = [client_error("ValidationException", "concurrent modification")]

    outcome = run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert (outcome.outcome, outcome.verdict) == ("updated", "Attached")
    assert _specs(registry) == [C5_NAME]


def test_a_refusal_that_persists_is_raised_after_the_bounded_replans(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    registry.fail_updates = [client_error("ConflictException") for _ in range(4)]

    with pytest.raises(Exception, match="ConflictException"):
        run(_event("completed-ml-c5.json"), registry=registry, apply=True, max_replans=3)

    assert registry.fail_updates == []  # 1 attempt + 3 re-plans


def test_other_errors_are_not_replanned(registry: FakeRegistry) -> None:
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    registry.fail_updates = [client_error("AccessDeniedException"), client_error("ValidationException")]

    with pytest.raises(Exception, match="AccessDeniedException"):
        run(_event("completed-ml-c5.json"), registry=registry, apply=True)

    assert len(registry.fail_updates) == 1


def test_an_older_job_does_not_overwrite_a_newer_jobs_record(registry: FakeRegistry) -> None:
    # GIVEN the ml_c5 job succeeded after an earlier attempt failed, and was registered first
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(modified=T0.replace(hour=13))
    registry.jobs["churn-model-1-ml-c5-failed"] = compilation_job(
        name="churn-model-1-ml-c5-failed", status="FAILED", failure_reason="out of memory", modified=T0
    )
    NeoFlow(registry=registry).register("churn-model-1-ml-c5", apply=True)

    # WHEN the failed attempt's event arrives late
    outcome = run(_event("failed.json"), registry=registry, apply=True)

    # THEN the newer record stands
    assert outcome.outcome == "unchanged"
    assert registry.packages[PACKAGE_ARN]["CustomerMetadataProperties"]["registrar:neo:ml_c5"].startswith(
        "attached churn-model-1-ml-c5 "
    )
