"""Several accounts: a workload's compilation job is read in its account and attached to the registry's version.

Its compiled model must lie in that workload's own Neo output locations; a tag naming a version of any
account but the registry's is refused before anything is described or written.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registrar.accounts import Accounts
from registrar.errors import DeploymentError
from registrar.events import CompilationJobEvent, parse_event
from registrar.neo.service import NeoFlow
from registrar.settings import WorkloadAccount
from tests.unit.neo.fakes import ACCOUNT, PACKAGE_ARN, REGION, FakeRegistry, compilation_job, model_package

WORKLOAD = "111111111111"
UNLISTED = "999999999999"
WORKLOAD_COMPILED = "s3://dev-compiled/neo/"
REGISTRY_COMPILED = "s3://churn-artifacts/neo/"


def workload_job(name: str, *, account: str = WORKLOAD, **fields: Any) -> dict[str, Any]:
    job = compilation_job(name, **fields)
    job["CompilationJobArn"] = f"arn:aws:sagemaker:{REGION}:{account}:compilation-job/{name}"
    return job


def event_of(job: dict[str, Any]) -> CompilationJobEvent:
    arn = job["CompilationJobArn"]
    event = parse_event(
        {
            "version": "0",
            "id": "6a7e8f00-0c5a-4c1e-9d2a-000000000001",
            "detail-type": "Compilation Job State Change",
            "source": "registrar",
            "account": arn.split(":")[4],
            "time": "2024-05-01T12:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "CompilationJobName": job["CompilationJobName"],
                "CompilationJobArn": arn,
                "CompilationJobStatus": job["CompilationJobStatus"],
                "LastModifiedTime": "2024-05-01T12:00:00Z",
            },
        }
    )
    assert isinstance(event, CompilationJobEvent)
    return event


def flow_of(registry: FakeRegistry) -> NeoFlow:
    accounts = Accounts(
        registry=ACCOUNT,
        workloads={
            WORKLOAD: WorkloadAccount(report_locations=["s3://dev-reports/"], neo_output_locations=[WORKLOAD_COMPILED])
        },
    )
    return NeoFlow(registry=registry, output_locations=(REGISTRY_COMPILED,), accounts=accounts)


def test_a_workload_compilation_is_read_there_and_attached_to_the_registry_version() -> None:
    # GIVEN a job of the workload account that compiled the registry's churn-model/1 into the workload's bucket
    job = workload_job("churn-model-1-ml-c5", artifact=f"{WORKLOAD_COMPILED}model-ml_c5.tar.gz")
    registry = FakeRegistry(jobs=[job], packages=[model_package()])
    # WHEN its forwarded event is handled
    outcome = flow_of(registry).handle(event_of(job))
    # THEN the job was described in the workload account and its specification attached to the registry's version
    assert registry.job_accounts == [WORKLOAD]
    assert outcome.verdict == "Attached", outcome.reasons
    assert [spec["Name"] for spec in registry.packages[PACKAGE_ARN]["AdditionalInferenceSpecifications"]] == [
        outcome.request["AdditionalInferenceSpecificationsToAdd"][0]["Name"]  # type: ignore[index]
    ]


def test_a_workload_compilation_writing_to_the_registry_locations_is_not_where_its_account_may_write() -> None:
    # GIVEN a workload job whose compiled model lies in the registry's Neo output location, not its own
    job = workload_job("churn-model-1-ml-c5", artifact=f"{REGISTRY_COMPILED}model-ml_c5.tar.gz")
    registry = FakeRegistry(jobs=[job], packages=[model_package()])
    # WHEN handled THEN refused as misplaced, naming the workload's own locations (the event is dead-lettered, for a
    # redrive once the configuration is fixed), and nothing attached
    with pytest.raises(DeploymentError, match="outside the configured Neo output locations") as refused:
        flow_of(registry).handle(event_of(job))
    assert WORKLOAD_COMPILED in str(refused.value)
    assert registry.packages[PACKAGE_ARN]["AdditionalInferenceSpecifications"] == []


def test_a_tag_naming_a_version_of_another_account_is_refused_before_anything_is_described() -> None:
    # GIVEN a workload job that names a version of an account registrar does not manage
    foreign = PACKAGE_ARN.replace(ACCOUNT, UNLISTED)
    job = workload_job("churn-model-1-ml-c5", package_arn=foreign, artifact=f"{WORKLOAD_COMPILED}m.tar.gz")
    package = model_package(foreign)
    registry = FakeRegistry(jobs=[job], packages=[package])
    before = copy.deepcopy(registry.packages)
    # WHEN handled THEN invalid, naming the account; the version is neither described nor written
    outcome = flow_of(registry).handle(event_of(job))
    assert outcome.outcome == "invalid"
    assert f"is in account {UNLISTED}" in outcome.reasons[0]
    assert registry.described_packages == []
    assert registry.packages == before
