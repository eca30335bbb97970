"""The additional inference specification built from a completed job."""

from __future__ import annotations

import pytest

from registrar.errors import InvalidUpdateError
from registrar.neo.spec import build_specification, build_specification_with_notes, specification_name
from tests.unit.neo.fakes import IMAGE, compilation_job, package_model


def test_the_container_serves_the_compiled_artifact_with_the_jobs_image() -> None:
    # GIVEN a COMPLETED ml_c5 job compiled from a TensorFlow 2.9 model
    job = compilation_job()

    # WHEN its specification is built
    spec = build_specification(job, package_model())

    # THEN the container is the job's image and artifact, framework from the job's InputConfig
    (container,) = spec.Containers
    assert container.Image == IMAGE
    assert container.ModelDataUrl == "s3://churn-artifacts/neo/model-ml_c5.tar.gz"
    assert (container.Framework, container.FrameworkVersion) == ("TENSORFLOW", "2.9")
    assert spec.Name == specification_name("churn-model-1-ml-c5", "ml_c5")
    assert spec.Description == "Neo: churn-model-1-ml-c5 compiled for ml_c5 (TENSORFLOW 2.9)"


def test_instance_types_are_the_targets_family_and_content_types_the_packages() -> None:
    spec = build_specification(compilation_job(), package_model())

    assert spec.SupportedRealtimeInferenceInstanceTypes
    assert all(value.startswith("ml.c5.") for value in spec.SupportedRealtimeInferenceInstanceTypes)
    assert spec.SupportedTransformInstanceTypes
    assert spec.SupportedContentTypes == ["text/csv"]
    assert spec.SupportedResponseMIMETypes == ["text/csv"]


@pytest.mark.parametrize("target", ["ml_inf1", "ml_c6g", "ml_m6g"])
def test_the_transform_list_is_left_out_where_the_family_has_none(target: str) -> None:
    spec = build_specification(compilation_job(target=target), package_model())

    assert spec.SupportedTransformInstanceTypes is None
    assert spec.SupportedRealtimeInferenceInstanceTypes


def test_a_job_on_the_package_takes_its_framework_from_the_primary_container() -> None:
    # GIVEN a job compiled from the package itself (no InputConfig)
    job = compilation_job(framework=None, framework_version=None)
    assert "InputConfig" not in job

    spec = build_specification(job, package_model(framework="PYTORCH", framework_version="1.13.1"))

    assert (spec.Containers[0].Framework, spec.Containers[0].FrameworkVersion) == ("PYTORCH", "1.13.1")
    assert spec.Description == "Neo: churn-model-1-ml-c5 compiled for ml_c5 (PYTORCH 1.13.1)"


@pytest.mark.parametrize("version", ["1", "latest", "1.13.1-build.7"])
def test_a_framework_version_the_api_refuses_is_left_out_and_said(version: str) -> None:
    job = compilation_job(framework=None, framework_version=None)

    spec, notes = build_specification_with_notes(job, package_model(framework_version=version))

    assert spec.Containers[0].FrameworkVersion is None
    assert any("FrameworkVersion" in note for note in notes)


def test_the_environment_is_carried_over_from_the_primary_container() -> None:
    spec = build_specification(compilation_job(), package_model(environment={"SAGEMAKER_PROGRAM": "serve.py"}))

    assert spec.Containers[0].Environment == {"SAGEMAKER_PROGRAM": "serve.py"}


def test_more_than_16_environment_entries_keeps_the_first_16_by_key_and_says_so() -> None:
    # GIVEN a primary container with 20 environment variables
    environment = {f"VAR_{index:02d}": str(index) for index in range(20)}

    spec, notes = build_specification_with_notes(compilation_job(), package_model(environment=environment))

    # THEN the first 16 by key are kept and the notes name the others
    assert sorted(spec.Containers[0].Environment or {}) == [f"VAR_{index:02d}" for index in range(16)]
    assert any("VAR_16, VAR_17, VAR_18, VAR_19" in note for note in notes)


def test_a_job_without_an_inference_image_cannot_become_a_specification() -> None:
    with pytest.raises(InvalidUpdateError, match="InferenceImage"):
        build_specification(compilation_job(image=None), package_model())


def test_an_artifact_that_is_not_a_tarball_is_refused() -> None:
    with pytest.raises(InvalidUpdateError, match=r"\.tar\.gz"):
        build_specification(compilation_job(artifact="s3://churn-artifacts/neo/"), package_model())


def test_an_edge_target_has_no_specification() -> None:
    with pytest.raises(ValueError, match="cannot host"):
        build_specification(compilation_job(target="jetson_nano"), package_model())
