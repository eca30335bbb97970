"""decide / desired_update: what a finished compilation job changes on its package."""

from __future__ import annotations

import pytest

from registrar.neo.decide import OVER_CAP_REASON, decide, desired_update, recorded_job_name, sanitise
from registrar.neo.job import CompilationJob
from registrar.neo.spec import specification_name
from registrar.plan import plan
from tests.unit.neo.fakes import T0, compilation_job, package_model

KEY = "registrar:neo:ml_c5"


def test_a_completed_instance_job_attaches_its_specification_and_records_it() -> None:
    package = package_model()

    decision = decide(compilation_job(), package)
    update = desired_update(decision, package)

    name = specification_name("churn-model-1-ml-c5", "ml_c5")
    assert decision.action == "attach"
    assert decision.verdict == "Attached"
    assert update is not None
    assert [spec.Name for spec in update.AdditionalInferenceSpecificationsToAdd or []] == [name]
    assert update.CustomerMetadataProperties == {KEY: f"attached churn-model-1-ml-c5 {name}"}


def test_14_existing_specifications_leave_room_for_one_more() -> None:
    package = package_model(specifications=14)

    decision = decide(compilation_job(), package)
    update = desired_update(decision, package)

    assert decision.action == "attach"
    assert update is not None
    assert plan(update, package) is not None


def test_a_package_holding_15_specifications_records_the_job_as_over_cap() -> None:
    # GIVEN a package at the cap WHEN another instance job completes
    package = package_model(specifications=15)

    decision = decide(compilation_job(), package)
    update = desired_update(decision, package)

    # THEN nothing is attached, the reason says why, and the metadata records it (allowed at the cap)
    assert decision.action == "over-cap"
    assert decision.specification is None
    assert OVER_CAP_REASON in decision.reasons
    assert OVER_CAP_REASON == "package already holds 15 additional inference specifications"
    assert update is not None
    assert update.AdditionalInferenceSpecificationsToAdd is None
    assert update.CustomerMetadataProperties == {KEY: "over-cap churn-model-1-ml-c5"}
    assert plan(update, package) is not None


@pytest.mark.parametrize("status", ["FAILED", "STOPPED"])
def test_a_failed_or_stopped_job_records_its_reason_and_attaches_nothing(status: str) -> None:
    job = compilation_job(status=status, failure_reason='ClientError: InputConfiguration: "shape" [1,3] is invalid')

    decision = decide(job, package_model())

    assert decision.action == "record"
    assert decision.specification is None
    assert decision.verdict == "Recorded"
    assert decision.metadata == {
        KEY: f"{status} churn-model-1-ml-c5: ClientError: InputConfiguration: shape 1 3 is invalid"
    }


def test_a_failure_reason_is_cut_to_fit_a_metadata_value() -> None:
    decision = decide(compilation_job(status="FAILED", failure_reason="x" * 1024), package_model())

    value = decision.metadata[KEY]
    assert len(value) == 256
    assert value.endswith("...")


def test_a_stopped_job_without_a_reason_records_just_the_job() -> None:
    decision = decide(compilation_job(status="STOPPED"), package_model())

    assert decision.metadata == {KEY: "STOPPED churn-model-1-ml-c5"}


def test_an_edge_target_is_recorded_with_its_artifact_and_no_specification() -> None:
    job = compilation_job(
        name="churn-model-1-jetson-nano", target="jetson_nano", image=None, artifact="s3://a/neo/m-jetson_nano.tar.gz"
    )

    decision = decide(job, package_model())

    assert decision.action == "record"
    assert decision.specification is None
    assert decision.metadata == {
        "registrar:neo:jetson_nano": "edge churn-model-1-jetson-nano s3://a/neo/m-jetson_nano.tar.gz"
    }


def test_a_target_platform_job_is_recorded_as_edge() -> None:
    job = compilation_job(target=None, platform={"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}, image=None)

    decision = decide(job, package_model())

    assert decision.action == "record"
    assert list(decision.metadata) == ["registrar:neo:linux_arm64_nvidia"]
    assert decision.metadata["registrar:neo:linux_arm64_nvidia"].startswith("edge ")


@pytest.mark.parametrize(("target", "word"), [("lambda", "lambda"), ("ml_eia2", "unhostable")])
def test_lambda_and_elastic_inference_are_recorded_not_attached(target: str, word: str) -> None:
    decision = decide(compilation_job(target=target), package_model())

    assert decision.action == "record"
    assert decision.metadata[f"registrar:neo:{target}"].startswith(f"{word} churn-model-1-ml-c5")


def test_an_artifact_uri_that_is_not_valid_metadata_is_left_out_of_the_record() -> None:
    job = compilation_job(target="rasp4b", artifact="s3://a/neo/model (copy).tar.gz")

    decision = decide(job, package_model())

    assert decision.metadata == {"registrar:neo:rasp4b": "edge churn-model-1-ml-c5"}
    assert any("artifact URI left out" in reason for reason in decision.reasons)


def test_a_job_already_attached_and_recorded_changes_nothing() -> None:
    name = specification_name("churn-model-1-ml-c5", "ml_c5")
    package = package_model()
    attached = package.model_copy(
        update={
            "AdditionalInferenceSpecifications": [{"Name": name, "Containers": [{"Image": "x"}]}],
            "CustomerMetadataProperties": {"registrar:neo:ml_c5": f"attached churn-model-1-ml-c5 {name}"},
        }
    )

    decision = decide(compilation_job(), attached)

    assert decision.action == "unchanged"
    assert plan(desired_update(decision, attached), attached) is None  # type: ignore[arg-type]


def test_an_attached_job_whose_record_was_lost_gets_it_back() -> None:
    # GIVEN the specification is attached but a concurrent older job's write replaced the record
    name = specification_name("churn-model-1-ml-c5", "ml_c5")
    attached = package_model().model_copy(
        update={
            "AdditionalInferenceSpecifications": [{"Name": name, "Containers": [{"Image": "x"}]}],
            "CustomerMetadataProperties": {"registrar:neo:ml_c5": "attached some-deleted-job neo-ml-c5-old"},
        }
    )

    # WHEN the job is handled again
    decision = decide(compilation_job(), attached)

    # THEN nothing is attached, and the record is written again
    update = plan(desired_update(decision, attached), attached)  # type: ignore[arg-type]
    assert update is not None
    assert update.AdditionalInferenceSpecificationsToAdd is None
    assert update.CustomerMetadataProperties == {"registrar:neo:ml_c5": f"attached churn-model-1-ml-c5 {name}"}


def test_a_job_that_has_not_ended_waits() -> None:
    decision = decide(compilation_job(status="INPROGRESS"), package_model())

    assert decision.action == "wait"
    assert desired_update(decision, package_model()) is None


def test_a_job_without_an_image_is_invalid() -> None:
    decision = decide(compilation_job(image=None), package_model())

    assert decision.action == "invalid"
    assert "InferenceImage" in decision.reasons[0]


def test_a_newer_jobs_record_is_not_replaced_by_an_older_job() -> None:
    # GIVEN the record names a job modified after this one (an old event replayed late)
    package = package_model(metadata={KEY: "FAILED churn-model-1-ml-c5-retry: out of memory"})
    newer = CompilationJob.model_validate(
        compilation_job(name="churn-model-1-ml-c5-retry", status="FAILED", modified=T0.replace(hour=13))
    )

    decision = decide(compilation_job(status="FAILED", failure_reason="bad"), package, recorded=newer)

    assert decision.action == "unchanged"
    assert decision.metadata == {}


def test_an_older_jobs_record_is_replaced() -> None:
    package = package_model(metadata={KEY: "FAILED churn-model-1-ml-c5-old: out of memory"})
    older = CompilationJob.model_validate(
        compilation_job(name="churn-model-1-ml-c5-old", status="FAILED", modified=T0.replace(hour=11))
    )

    decision = decide(compilation_job(), package, recorded=older)

    assert decision.action == "attach"
    assert decision.metadata[KEY].startswith("attached churn-model-1-ml-c5 ")


def test_a_full_metadata_budget_still_attaches_without_the_record() -> None:
    package = package_model(metadata={f"key-{index}": "v" for index in range(50)})

    decision = decide(compilation_job(), package)
    update = desired_update(decision, package)

    assert decision.action == "attach"
    assert decision.metadata == {}
    assert update is not None and plan(update, package) is not None
    assert any("50 metadata entries" in reason for reason in decision.reasons)


def test_a_full_metadata_budget_skips_a_record_only_job() -> None:
    package = package_model(metadata={f"key-{index}": "v" for index in range(50)})

    decision = decide(compilation_job(status="FAILED"), package)

    assert decision.action == "skip"
    assert desired_update(decision, package) is None


def test_records_name_their_job() -> None:
    assert recorded_job_name("FAILED churn-model-1: out of memory") == "churn-model-1"
    assert recorded_job_name("edge job-2 s3://a/b.tar.gz") == "job-2"
    assert recorded_job_name("set by hand") is None
    assert recorded_job_name("") is None


def test_sanitise_keeps_only_metadata_characters() -> None:
    assert sanitise("a,b;c\n(d) é @x=1+2") == "a b c d é @x=1+2"
