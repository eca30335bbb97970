"""Issue #14 for Neo: a compilation job is attached only when it compiled the version's own model, and its
compiled model lies where the deployment allows; otherwise it is refused with the reason, and nothing is attached.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from registrar.errors import DeploymentError
from registrar.neo.job import CompilationJob
from registrar.neo.service import NeoFlow, Target
from registrar.package import ModelPackage
from tests.unit.neo.fakes import (
    MODEL_DATA_URL,
    PACKAGE_ARN,
    T0,
    FakeRegistry,
    compilation_job,
    job_arn,
    model_package,
)

# registrar's record of a refused compilation job (registrar.neo.service.REFUSED_KEY)
REFUSED = "registrar:neo:refused"
TAG = "registrar:model-package-arn"
ATTACKER_MODEL = "s3://attacker-bucket/backdoored/model.tar.gz"
OUTPUT = "s3://churn-artifacts/neo"  # where churn-model's compiled models are written


def approved_registry() -> FakeRegistry:
    """SageMaker holding churn-model/1, Approved, and no compilation jobs yet."""
    package = model_package()
    package["ModelApprovalStatus"] = "Approved"
    return FakeRegistry(packages=[package])


def add_tagged_job(registry: FakeRegistry, name: str, *, source: str, **fields: Any) -> str:
    """A job compiled from S3 (no ModelPackageVersionArn), tagged with churn-model/1's ARN."""
    registry.jobs[name] = compilation_job(name=name, package_arn=None, source=source, **fields)
    registry.job_tags[job_arn(name)] = {TAG: PACKAGE_ARN}
    return name


def specs(registry: FakeRegistry) -> list[str]:
    return [spec["Name"] for spec in registry.packages[PACKAGE_ARN]["AdditionalInferenceSpecifications"]]


def metadata(registry: FakeRegistry) -> dict[str, str]:
    return dict(registry.packages[PACKAGE_ARN]["CustomerMetadataProperties"])


# --- a job of another model ---------------------------------------------------------------------------


def test_a_tagged_job_of_another_model_attaches_nothing() -> None:
    # GIVEN an Approved churn-model/1, and a COMPLETED job that compiled an unrelated model
    # (s3://attacker-bucket/backdoored/model.tar.gz) into s3://attacker-bucket/out/, tagged with /1's ARN
    registry = approved_registry()
    name = add_tagged_job(
        registry, "backdoor-ml-c5", source=ATTACKER_MODEL, artifact="s3://attacker-bucket/out/model-ml_c5.tar.gz"
    )
    # WHEN it is registered
    outcome = NeoFlow(registry=registry).register(name)
    # THEN refused, not final: nothing attached, only registrar:neo:refused written, saying why
    assert (outcome.outcome, outcome.verdict, outcome.final) == ("skipped", "Refused", False)
    assert specs(registry) == []
    assert len(registry.updates) == 1
    request = registry.updates[0].to_request()
    assert set(request) == {"ModelPackageArn", "CustomerMetadataProperties", "ClientToken"}
    assert list(request["CustomerMetadataProperties"]) == [REFUSED]
    record = metadata(registry)[REFUSED]
    assert record.startswith(f"refused {name}: compilation job {name} did not compile {PACKAGE_ARN}")
    assert ATTACKER_MODEL in record
    assert outcome.reasons[0].startswith("compilation job refused: ")


def test_the_same_refused_job_again_writes_nothing() -> None:
    # GIVEN a refused job, its refusal recorded WHEN it is registered again THEN refused, nothing written
    registry = approved_registry()
    name = add_tagged_job(registry, "backdoor-ml-c5", source=ATTACKER_MODEL)
    NeoFlow(registry=registry).register(name)
    again = NeoFlow(registry=registry).register(name)
    assert (again.outcome, again.verdict, again.request) == ("skipped", "Refused", None)
    assert len(registry.updates) == 1


def test_a_job_naming_another_version_is_refused_for_this_one() -> None:
    # GIVEN a job SageMaker compiled from churn-model/2 (ModelPackageVersionArn), put to churn-model/1
    registry = approved_registry()
    other = PACKAGE_ARN.replace("/1", "/2")
    job = CompilationJob.model_validate(compilation_job(package_arn=other))
    package = ModelPackage.model_validate(registry.packages[PACKAGE_ARN])
    # WHEN decided for /1 THEN refused, naming the version it compiled; nothing attached
    outcome = NeoFlow(registry=registry).decide_and_write(
        Target(job=job, package=package, link_source="ModelPackageVersionArn")
    )
    assert outcome.verdict == "Refused"
    assert f"compiled {other}, not {PACKAGE_ARN}" in outcome.reasons[0]
    assert f"compiled {other} not {PACKAGE_ARN}" in metadata(registry)[REFUSED]  # a comma is no metadata character
    assert specs(registry) == []


def test_a_tagged_job_of_the_versions_own_model_is_attached() -> None:
    # GIVEN a COMPLETED job compiled from churn-model/1's own ModelDataUrl, tagged with its ARN
    registry = approved_registry()
    name = add_tagged_job(registry, "churn-model-1-ml-c5", source=MODEL_DATA_URL)
    # WHEN registered THEN attached, as before; no refusal recorded
    outcome = NeoFlow(registry=registry).register(name)
    assert (outcome.outcome, outcome.verdict) == ("updated", "Attached")
    assert len(specs(registry)) == 1
    assert REFUSED not in metadata(registry)


def test_unbound_jobs_cannot_fill_the_fifteen_slots() -> None:
    # GIVEN 15 COMPLETED jobs of another model, each tagged with churn-model/1's ARN
    registry = approved_registry()
    flow = NeoFlow(registry=registry)
    for index in range(15):
        name = add_tagged_job(
            registry, f"filler-{index}", source=ATTACKER_MODEL, modified=T0 + timedelta(minutes=index)
        )
        # WHEN each is registered THEN refused
        assert flow.register(name).verdict == "Refused"
    # THEN nothing is attached, and a job of the version's own model still is
    assert specs(registry) == []
    own = add_tagged_job(registry, "churn-model-1-ml-c5", source=MODEL_DATA_URL, modified=T0 + timedelta(hours=1))
    assert flow.register(own).verdict == "Attached"
    assert len(specs(registry)) == 1


# --- a compiled model outside the configured output locations ----------------------------------------


def test_a_compiled_model_outside_the_output_locations_is_recorded_then_fails_the_event() -> None:
    # GIVEN a COMPLETED job of churn-model/1's own model whose compiled model lies outside the Neo output locations
    registry = approved_registry()
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(artifact="s3://elsewhere/neo/model-ml_c5.tar.gz")
    flow = NeoFlow(registry=registry, output_locations=(OUTPUT,))
    # WHEN registered THEN the refusal is recorded, nothing attached, and DeploymentError fails the event
    with pytest.raises(DeploymentError, match="outside the configured Neo output locations"):
        flow.register("churn-model-1-ml-c5")
    assert specs(registry) == []
    assert "s3://elsewhere/neo/model-ml_c5.tar.gz" in metadata(registry)[REFUSED]
    # AND once the locations allow it (the fix), the same job is attached
    fixed = NeoFlow(registry=registry, output_locations=(OUTPUT, "s3://elsewhere/neo"))
    assert fixed.register("churn-model-1-ml-c5").verdict == "Attached"


def test_a_compiled_model_inside_the_output_locations_is_attached() -> None:
    # GIVEN churn-model/1's job writing under s3://churn-artifacts/neo/ WHEN registered THEN attached
    registry = approved_registry()
    registry.jobs["churn-model-1-ml-c5"] = compilation_job()
    outcome = NeoFlow(registry=registry, output_locations=(OUTPUT,)).register("churn-model-1-ml-c5")
    assert outcome.verdict == "Attached"


def test_a_failed_job_of_the_versions_own_model_is_still_recorded() -> None:
    # GIVEN a FAILED job of churn-model/1 (no compiled model) and output locations configured
    registry = approved_registry()
    registry.jobs["churn-model-1-ml-c5"] = compilation_job(status="FAILED", failure_reason="out of memory")
    # WHEN registered THEN recorded as before: there is no compiled model to be misplaced
    outcome = NeoFlow(registry=registry, output_locations=(OUTPUT,)).register("churn-model-1-ml-c5")
    assert (outcome.outcome, outcome.verdict) == ("updated", "Recorded")
    assert metadata(registry)["registrar:neo:ml_c5"].startswith("FAILED churn-model-1-ml-c5")
    assert REFUSED not in metadata(registry)
