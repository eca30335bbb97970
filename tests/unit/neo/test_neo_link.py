"""Which model package version a compilation job belongs to."""

from __future__ import annotations

from typing import Any

import pytest

from registrar.neo.job import CompilationJob
from registrar.neo.link import MODEL_PACKAGE_TAG, link, misplaced_reason, needs_tags, unbound_reason
from registrar.package import ModelPackage
from tests.unit.neo.fakes import MODEL_DATA_URL, PACKAGE_ARN, compilation_job, package_model


def _job(**kwargs: Any) -> CompilationJob:
    return CompilationJob.model_validate(compilation_job(**kwargs))


def test_a_job_compiled_from_a_package_version_is_linked_by_its_own_field() -> None:
    job = _job(package_arn=PACKAGE_ARN)

    result = link(job)

    assert (result.status, result.model_package_arn, result.source) == (
        "linked",
        PACKAGE_ARN,
        "ModelPackageVersionArn",
    )
    assert not needs_tags(job)


def test_a_job_compiled_from_s3_is_linked_by_its_tag() -> None:
    job = _job(package_arn=None)

    result = link(job, {MODEL_PACKAGE_TAG: PACKAGE_ARN, "team": "churn"})

    assert needs_tags(job)
    assert (result.status, result.model_package_arn) == ("linked", PACKAGE_ARN)


def test_the_field_wins_over_the_tag() -> None:
    other = PACKAGE_ARN.replace("/1", "/2")

    assert link(_job(package_arn=PACKAGE_ARN), {MODEL_PACKAGE_TAG: other}).model_package_arn == PACKAGE_ARN


def test_a_job_naming_no_package_is_unlinked_with_a_clear_reason() -> None:
    result = link(_job(name="orphan", package_arn=None), {"team": "churn"})

    assert result.status == "unlinked"
    assert result.reason == (
        "compilation job orphan names no model package: set ModelPackageVersionArn or tag registrar:model-package-arn"
    )


def test_a_tag_that_is_not_a_version_arn_is_invalid() -> None:
    for value in ("churn-model", "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-model"):
        result = link(_job(package_arn=None), {MODEL_PACKAGE_TAG: value})

        assert result.status == "invalid"
        assert "not a model package version ARN" in (result.reason or "")


def test_an_unversioned_package_arn_is_invalid() -> None:
    unversioned = "arn:aws:sagemaker:us-east-1:123456789012:model-package/my-unversioned-package"

    assert link(_job(package_arn=None), {MODEL_PACKAGE_TAG: unversioned}).status == "invalid"


# --- bound: the job compiled the version's own model ------------------------------------------------


def test_a_job_naming_the_version_is_bound() -> None:
    # GIVEN a job SageMaker compiled from churn-model/1 itself WHEN checked against /1 THEN bound, whatever its input
    job = _job(package_arn=PACKAGE_ARN, source="s3://anywhere/model.tar.gz")
    assert unbound_reason(job, package_model()) is None


def test_a_job_naming_another_version_is_unbound() -> None:
    # GIVEN a job compiled from churn-model/2 WHEN checked against /1 THEN unbound, naming both, even with /1's input
    other = PACKAGE_ARN.replace("/1", "/2")
    reason = unbound_reason(_job(package_arn=other, source=MODEL_DATA_URL), package_model())
    assert reason == f"compilation job churn-model-1-ml-c5 compiled {other}, not {PACKAGE_ARN}"


def test_a_tag_linked_job_of_the_versions_model_artifact_is_bound() -> None:
    # GIVEN a job compiled from S3, whose input is /1's ModelDataUrl exactly WHEN checked THEN bound
    assert unbound_reason(_job(package_arn=None, source=MODEL_DATA_URL), package_model()) is None


@pytest.mark.parametrize(
    "source",
    [
        "s3://attacker-bucket/backdoored/model.tar.gz",
        "s3://churn-artifacts/train/",  # the artifact's folder
        MODEL_DATA_URL + ".bak",
    ],
)
def test_a_tag_linked_job_of_another_model_is_unbound(source: str) -> None:
    # GIVEN a job compiled from S3 from anything but /1's ModelDataUrl WHEN checked THEN unbound, naming both models
    reason = unbound_reason(_job(package_arn=None, source=source), package_model())
    assert reason == (
        f"compilation job churn-model-1-ml-c5 did not compile {PACKAGE_ARN}'s model: it compiled {source}, "
        f"the version's model is {MODEL_DATA_URL}"
    )


def test_a_version_without_a_model_in_s3_binds_no_tag_linked_job() -> None:
    # GIVEN a version whose primary container has no ModelDataUrl WHEN a tag-linked job is checked THEN unbound
    package = ModelPackage.model_validate(
        {"ModelPackageArn": PACKAGE_ARN, "InferenceSpecification": {"Containers": [{"Image": "example/image:1"}]}}
    )
    reason = unbound_reason(_job(package_arn=None, source=MODEL_DATA_URL), package)
    assert reason is not None and reason.endswith("the version's model is not in S3")


# --- misplaced: the compiled model outside the configured output locations ---------------------------


@pytest.mark.parametrize(
    ("locations", "misplaced"),
    [
        ((), False),  # none configured: any location
        (("s3://churn-artifacts",), False),
        (("s3://churn-artifacts/neo",), False),
        (("s3://churn-artifacts/neo/",), False),
        (("s3://other", "s3://churn-artifacts/neo"), False),
        (("s3://churn-artifacts/ne",), True),  # whole path segments only
        (("s3://churn-artifacts/train",), True),
        (("s3://other",), True),
    ],
)
def test_a_compiled_model_is_misplaced_outside_every_output_location(
    locations: tuple[str, ...], misplaced: bool
) -> None:
    # GIVEN a COMPLETED job whose compiled model is s3://churn-artifacts/neo/model-ml_c5.tar.gz
    job = _job(artifact="s3://churn-artifacts/neo/model-ml_c5.tar.gz")
    # WHEN checked against the output locations THEN misplaced only when none holds it, saying where it is
    reason = misplaced_reason(job, locations)
    assert (reason is not None) == misplaced
    if reason is not None:
        assert reason == (
            "compilation job churn-model-1-ml-c5's compiled model s3://churn-artifacts/neo/model-ml_c5.tar.gz "
            f"is outside the configured Neo output locations ({', '.join(locations)})"
        )


def test_a_job_without_a_compiled_model_is_never_misplaced() -> None:
    # GIVEN a FAILED job (no S3ModelArtifacts) WHEN checked THEN not misplaced: there is nothing to attach
    assert misplaced_reason(_job(status="FAILED"), ("s3://other",)) is None
