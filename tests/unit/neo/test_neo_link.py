"""Which model package version a compilation job belongs to."""

from __future__ import annotations

from typing import Any

from registrar.neo.job import CompilationJob
from registrar.neo.link import MODEL_PACKAGE_TAG, link, needs_tags
from tests.unit.neo.fakes import PACKAGE_ARN, compilation_job


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
