"""The ClientToken against the emulator: the same change planned again after someone wrote is applied again.

The emulator, like SageMaker, treats a repeated ClientToken with the same request as a no-op. A token
derived from the request alone made a genuine repeat of the same minimal change a silent no-op (a
person resetting a version to pending twice; a Neo record restored twice to an older job's value);
the token now also names the package state it was planned against.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from registrar.neo.service import NeoFlow
from registrar.registry import Registry
from registrar_dev.emulator import Emulator
from tests.integration.scenario import (
    POLICY,
    Clients,
    approval_event_path,
    build_approval_state,
    build_neo_package,
    compile_job,
    read_event,
    run_cli,
    specification_name,
)

Drain = Callable[[], list[dict[str, Any]]]
RECORD = "registrar:neo:ml_c5"


@pytest.fixture
def clients(aws: Emulator) -> Clients:
    return Clients.of(aws)


def reset_by_a_person(clients: Clients, arn: str, drain: Drain) -> dict[str, Any]:
    """A person sets the version back to PendingManualApproval; returns the state-change event it published."""
    drain()
    clients.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="PendingManualApproval")
    [event] = [event for event in drain() if event["detail"].get("ModelPackageArn") == arn]
    assert event["detail"]["UpdatedModelPackageFields"] == ["ModelApprovalStatus"]
    return event


def apply(event: dict[str, Any], directory: pathlib.Path, name: str) -> dict[str, Any]:
    """`registrar apply <event> --policy events/policy.yaml`: the one JSON object it printed (exit 0 asserted)."""
    path = directory / f"{name}.json"
    path.write_text(json.dumps(event))
    status, [printed], _ = run_cli("apply", str(path), "--policy", str(POLICY))
    assert status == 0
    return printed


def test_a_version_reset_to_pending_twice_is_approved_again_each_time(
    clients: Clients, sagemaker_events: Drain, tmp_path: pathlib.Path
) -> None:
    # GIVEN churn-model/1 (pending, passing report) approved by registrar from its sample event
    arn = build_approval_state(clients)["passing"]
    assert apply(read_event(approval_event_path("passing")), tmp_path, "created")["outcome"] == "updated"
    assert clients.describe(arn)["ModelApprovalStatus"] == "Approved"

    # AND a person reset it to pending, and registrar approved it again with the status alone
    second = apply(reset_by_a_person(clients, arn, sagemaker_events), tmp_path, "first-reset")
    assert (second["outcome"], set(second["request"])) == (
        "updated",
        {"ModelPackageArn", "ModelApprovalStatus", "ClientToken"},
    )
    assert clients.describe(arn)["ModelApprovalStatus"] == "Approved"

    # WHEN the person resets it again and registrar decides again (the very same minimal change)
    third = apply(reset_by_a_person(clients, arn, sagemaker_events), tmp_path, "second-reset")

    # THEN the version is Approved again: the same change carried a new token, and was applied
    assert third["outcome"] == "updated"
    assert clients.describe(arn)["ModelApprovalStatus"] == "Approved"
    assert {**third["request"], "ClientToken": None} == {**second["request"], "ClientToken": None}
    assert third["request"]["ClientToken"] != second["request"]["ClientToken"]


def test_a_neo_record_restored_twice_is_rewritten_each_time(aws: Emulator, clients: Clients) -> None:
    # GIVEN an old and a new ml_c5 job of churn-model/1, both registered: the record names the new job
    arn = build_neo_package(clients)
    flow = NeoFlow(registry=Registry())
    for name in ("churn-model-1-c5-old", "churn-model-1-c5-new"):
        compile_job(clients, name, "ml_c5", package=arn)
        flow.register(name, apply=True)
    assert recorded_job(clients, arn) == "churn-model-1-c5-new"

    # AND someone restored the old job's record, and re-registering the new job wrote its record back alone
    restore_old_record(clients, arn)
    first = flow.register("churn-model-1-c5-new", apply=True)
    assert first.request is not None and set(first.request) == {
        "ModelPackageArn",
        "CustomerMetadataProperties",
        "ClientToken",
    }
    assert recorded_job(clients, arn) == "churn-model-1-c5-new"

    # WHEN the old record is restored again and the new job is registered again (the byte-identical change)
    restore_old_record(clients, arn)
    again = flow.register("churn-model-1-c5-new", apply=True)

    # THEN the record names the new job again: the repeat carried a new token and was applied
    assert recorded_job(clients, arn) == "churn-model-1-c5-new"
    assert again.request is not None
    assert {**again.request, "ClientToken": None} == {**first.request, "ClientToken": None}
    assert again.request["ClientToken"] != first.request["ClientToken"]


def restore_old_record(clients: Clients, arn: str) -> None:
    """Someone writes the old job's record back with a plain UpdateModelPackage (the same value each time)."""
    stale = f"attached churn-model-1-c5-old {specification_name('churn-model-1-c5-old', 'ml_c5')}"
    clients.sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={RECORD: stale})
    assert recorded_job(clients, arn) == "churn-model-1-c5-old"


def recorded_job(clients: Clients, arn: str) -> str:
    """The job the package's registrar:neo:ml_c5 record names."""
    return str(clients.describe(arn)["CustomerMetadataProperties"][RECORD].split()[1])
