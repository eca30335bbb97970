"""Registry + plan against the embedded emulator: describe, plan, update, list, as a handler does them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from registrar.errors import InvalidUpdateError
from registrar.plan import plan
from registrar.registry import Registry
from registrar.updates import PackageUpdate
from registrar_dev.emulator import Emulator

MakePackage = Callable[..., str]
GROUP = "registrar-test-models"


class UpdateCalls:
    """Counts UpdateModelPackage calls a client is about to send (botocore's before-call event)."""

    def __init__(self, registry: Registry) -> None:
        self.count = 0
        registry.client.meta.events.register("before-call.sagemaker.UpdateModelPackage", self)

    def __call__(self, **_: Any) -> None:
        self.count += 1


@pytest.fixture
def registry(aws: Emulator) -> Registry:
    """A Registry over the emulator of this test (fresh state)."""
    return Registry(endpoint_url=aws.endpoint)


def reconcile(registry: Registry, desired: PackageUpdate) -> PackageUpdate | None:
    """What a handler does: describe the package, plan the change, send it if there is one."""
    update = plan(desired, registry.describe(desired.ModelPackageArn))
    if update is not None:
        registry.update(update)
    return update


def spec(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Description": "Neo-compiled for ml_c5",
        "Containers": [
            {
                "Image": "301217895009.dkr.ecr.us-west-2.amazonaws.com/sagemaker-neo-xgboost:1.7-cpu-py3",
                "ModelDataUrl": f"s3://registrar-test-artifacts/compiled/{name}/model.tar.gz",
            }
        ],
        "SupportedTransformInstanceTypes": ["ml.c5.xlarge"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.c5.large", "ml.c5.xlarge"],
    }


def test_approve_a_pending_package(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a package pending manual approval
    arn = make_package()
    # WHEN its approval is reconciled
    reconcile(
        registry, PackageUpdate(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="auc ok")
    )
    # THEN the package is Approved with the reason
    package = registry.describe(arn)
    assert (package.ModelApprovalStatus, package.ApprovalDescription) == ("Approved", "auc ok")


def test_add_metadata_sends_only_the_new_entries(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a package with metadata team=ml
    arn = make_package(CustomerMetadataProperties={"team": "ml"})
    # WHEN team=ml and registrar:decision=Approved are reconciled
    sent = reconcile(
        registry,
        PackageUpdate(ModelPackageArn=arn, CustomerMetadataProperties={"team": "ml", "registrar:decision": "Approved"}),
    )
    # THEN only the new entry was sent, and the package holds both
    assert sent is not None
    assert sent.CustomerMetadataProperties == {"registrar:decision": "Approved"}
    assert registry.describe(arn).CustomerMetadataProperties == {"team": "ml", "registrar:decision": "Approved"}


def test_remove_metadata(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a package with metadata stale=1 and team=ml
    arn = make_package(CustomerMetadataProperties={"stale": "1", "team": "ml"})
    # WHEN the removal of stale and of an absent key is reconciled
    reconcile(registry, PackageUpdate(ModelPackageArn=arn, CustomerMetadataPropertiesToRemove=["stale", "absent"]))
    # THEN only team=ml remains
    assert registry.describe(arn).CustomerMetadataProperties == {"team": "ml"}


def test_add_a_specification(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN an approved package without additional specifications
    arn = make_package(ModelApprovalStatus="Approved")
    # WHEN a Neo specification is reconciled
    reconcile(registry, PackageUpdate(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[spec("neo-ml-c5")]))
    # THEN the package holds it as sent, and is still Approved
    package = registry.describe(arn)
    assert package.AdditionalInferenceSpecifications == [spec("neo-ml-c5")]
    assert package.ModelApprovalStatus == "Approved"


def test_reconciling_twice_sends_one_update(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a pending package, a desired change to several members, and a counter of UpdateModelPackage calls
    arn = make_package(CustomerMetadataProperties={"stale": "1"})
    desired = PackageUpdate(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="auc 0.91 >= 0.85",
        CustomerMetadataProperties={"registrar:decision": "Approved"},
        CustomerMetadataPropertiesToRemove=["stale"],
        AdditionalInferenceSpecificationsToAdd=[spec("neo-ml-c5")],
        ModelLifeCycle={"Stage": "staging", "StageStatus": "Approved"},
        SourceUri="s3://registrar-test-artifacts/runs/42/",
    )
    calls = UpdateCalls(registry)
    # WHEN the change is reconciled twice (a duplicate event)
    first = reconcile(registry, desired)
    second = reconcile(registry, desired)
    # THEN the first sends one request and the second plans nothing and sends nothing
    assert first is not None
    assert second is None
    assert calls.count == 1


def test_no_op_plan_sends_nothing(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN an approved package and a counter of UpdateModelPackage calls
    arn = make_package(ModelApprovalStatus="Approved", CustomerMetadataProperties={"team": "ml"})
    calls = UpdateCalls(registry)
    # WHEN the state it already has is reconciled
    sent = reconcile(
        registry,
        PackageUpdate(ModelPackageArn=arn, ModelApprovalStatus="Approved", CustomerMetadataProperties={"team": "ml"}),
    )
    # THEN nothing is planned and no request leaves
    assert sent is None
    assert calls.count == 0


def test_retry_with_the_same_token_changes_nothing_more(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a planned metadata update, applied once
    arn = make_package(CustomerMetadataProperties={"n": "1"})
    update = plan(PackageUpdate(ModelPackageArn=arn, CustomerMetadataProperties={"n": "2"}), registry.describe(arn))
    assert update is not None
    registry.update(update)
    modified = registry.describe(arn).LastModifiedTime
    # WHEN the very same update is sent again (a retry after a lost response)
    returned = registry.update(update)
    # THEN the service answers with the ARN and the package is not modified again
    assert returned == arn
    package = registry.describe(arn)
    assert package.CustomerMetadataProperties == {"n": "2"}
    assert package.LastModifiedTime == modified


def test_plan_refusing_a_sixteenth_specification_sends_nothing(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a package holding 15 additional specifications
    arn = make_package(AdditionalInferenceSpecifications=[spec(f"neo-{i}") for i in range(15)])
    calls = UpdateCalls(registry)
    # WHEN a sixteenth is reconciled
    with pytest.raises(InvalidUpdateError, match="at most 15"):
        reconcile(registry, PackageUpdate(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=[spec("neo-x")]))
    # THEN it is refused before any call
    assert calls.count == 0


def test_describe_reads_the_package(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a package created with evaluation statistics
    arn = make_package()
    # WHEN it is described
    package = registry.describe(arn)
    # THEN its group, version, status and report location are read
    assert (package.ModelPackageArn, package.ModelPackageGroupName, package.ModelPackageVersion) == (arn, GROUP, 1)
    assert package.ModelApprovalStatus == "PendingManualApproval"
    assert package.quality_report_uri == f"s3://registrar-test-artifacts/{GROUP}/evaluation.json"


def test_describe_of_a_missing_package_raises_client_error(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN a group with version 1 only
    arn = make_package()
    # WHEN version 9 is described
    # THEN the service's error reaches the caller as a ClientError
    with pytest.raises(ClientError) as caught:
        registry.describe(arn.replace("/1", "/9"))
    assert caught.value.operation_name == "DescribeModelPackage"


def test_list_packages_newest_first(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN three versions of a group and one of another group
    arns = [make_package() for _ in range(3)]
    make_package(group="other-models")
    # WHEN the group's packages are listed
    listed = [summary["ModelPackageArn"] for summary in registry.list_packages(GROUP)]
    # THEN the group's three versions come newest first
    assert listed == arns[::-1]


def test_list_packages_by_approval_status(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN an approved, a rejected and a pending version
    approved = make_package(ModelApprovalStatus="Approved")
    make_package(ModelApprovalStatus="Rejected")
    make_package()
    # WHEN only the approved ones are listed
    listed = [summary["ModelPackageArn"] for summary in registry.list_packages(GROUP, approval_status="Approved")]
    # THEN only that version is listed
    assert listed == [approved]


def test_latest_approved_is_the_newest_approved_version(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN versions 1 and 2 approved and version 3 pending
    make_package(ModelApprovalStatus="Approved")
    champion = make_package(ModelApprovalStatus="Approved")
    make_package()
    # WHEN the champion is asked for
    package = registry.latest_approved(GROUP)
    # THEN it is version 2, described
    assert package is not None
    assert package.ModelPackageArn == champion
    assert package.ModelApprovalStatus == "Approved"


def test_latest_approved_excluding_the_candidate(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN versions 1 and 2 approved
    first = make_package(ModelApprovalStatus="Approved")
    second = make_package(ModelApprovalStatus="Approved")
    # WHEN the champion other than version 2 is asked for
    package = registry.latest_approved(GROUP, excluding=second)
    # THEN it is version 1
    assert package is not None
    assert package.ModelPackageArn == first


def test_latest_approved_is_none_without_an_approved_version(registry: Registry, make_package: MakePackage) -> None:
    # GIVEN only pending and rejected versions
    make_package()
    make_package(ModelApprovalStatus="Rejected")
    # WHEN the champion is asked for
    # THEN there is none
    assert registry.latest_approved(GROUP) is None


def test_default_registry_follows_aws_endpoint_url(aws: Emulator, make_package: MakePackage) -> None:
    # GIVEN AWS_ENDPOINT_URL pointing at the emulator (set by the aws fixture) and a package there
    arn = make_package()
    # WHEN a Registry is built without arguments and describes it
    package = Registry().describe(arn)
    # THEN it reached the emulator
    assert package.ModelPackageArn == arn
