"""plan(): the smallest UpdateModelPackage request that brings a package to the desired state, or None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registrar.errors import InvalidUpdateError
from registrar.plan import metadata_record, plan
from registrar.updates import PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
LIFE_CYCLE = {"Stage": "staging", "StageStatus": "Approved", "StageDescription": "promoted by registrar"}
CARD = {"ModelCardContent": '{"model_overview": {"model_creator": "ml"}}', "ModelCardStatus": "Draft"}
WRITTEN = datetime(2025, 3, 4, 9, 15, 27, 123000, tzinfo=UTC)  # a LastModifiedTime
PRIMARY = {
    "Containers": [{"Image": "repo/xgboost:1.7", "ModelDataUrl": "s3://models/churn/3/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
}


def desired(**members: Any) -> PackageUpdate:
    return PackageUpdate(ModelPackageArn=ARN, **members)


def test_approves_a_pending_package(make_package: Any) -> None:
    # GIVEN a package pending manual approval
    package = make_package(ModelApprovalStatus="PendingManualApproval")
    # WHEN the desired state is Approved with a reason
    update = plan(desired(ModelApprovalStatus="Approved", ApprovalDescription="auc 0.91 >= 0.85"), package)
    # THEN the plan sets exactly the status and the reason
    assert update is not None
    assert update.changes == {"ModelApprovalStatus": "Approved", "ApprovalDescription": "auc 0.91 >= 0.85"}
    assert update.ModelPackageArn == ARN


def test_nothing_to_do_when_status_description_and_metadata_already_match(make_package: Any) -> None:
    # GIVEN an approved package with its reason and metadata
    package = make_package(
        ModelApprovalStatus="Approved",
        ApprovalDescription="auc 0.91 >= 0.85",
        CustomerMetadataProperties={"registrar:decision": "Approved", "team": "ml"},
    )
    # WHEN the same state is desired again
    update = plan(
        desired(
            ModelApprovalStatus="Approved",
            ApprovalDescription="auc 0.91 >= 0.85",
            CustomerMetadataProperties={"registrar:decision": "Approved"},
        ),
        package,
    )
    # THEN there is nothing to send
    assert update is None


def test_same_status_new_description_sends_only_the_description(make_package: Any) -> None:
    # GIVEN an approved package with an old reason
    package = make_package(ModelApprovalStatus="Approved", ApprovalDescription="old")
    # WHEN the same status with another reason is desired
    update = plan(desired(ModelApprovalStatus="Approved", ApprovalDescription="new"), package)
    # THEN only the description is sent
    assert update is not None
    assert update.changes == {"ApprovalDescription": "new"}


def test_empty_description_matches_a_package_without_one(make_package: Any) -> None:
    # GIVEN a package without an approval description WHEN an empty one is desired
    update = plan(desired(ApprovalDescription=""), make_package(ApprovalDescription=None))
    # THEN there is nothing to send
    assert update is None


def test_only_differing_metadata_entries_are_kept(make_package: Any) -> None:
    # GIVEN a package with two metadata entries
    package = make_package(CustomerMetadataProperties={"same": "1", "changed": "old"})
    # WHEN one is desired unchanged, one changed and one added
    update = plan(desired(CustomerMetadataProperties={"same": "1", "changed": "new", "added": "x"}), package)
    # THEN only the changed and the added entries are sent
    assert update is not None
    assert update.changes == {"CustomerMetadataProperties": {"changed": "new", "added": "x"}}


def test_removal_of_absent_keys_is_dropped(make_package: Any) -> None:
    # GIVEN a package with one metadata key
    package = make_package(CustomerMetadataProperties={"stale": "1", "keep": "2"})
    # WHEN the removal of that key and of two absent keys is desired
    update = plan(desired(CustomerMetadataPropertiesToRemove=["absent", "stale", "gone"]), package)
    # THEN only the present key is removed
    assert update is not None
    assert update.changes == {"CustomerMetadataPropertiesToRemove": ["stale"]}


def test_removal_of_only_absent_keys_is_nothing_to_do(make_package: Any) -> None:
    # GIVEN a package without the keys WHEN their removal is desired
    update = plan(desired(CustomerMetadataPropertiesToRemove=["absent"]), make_package())
    # THEN there is nothing to send
    assert update is None


def test_specification_with_an_attached_name_is_dropped(make_package: Any, valid_spec: Any) -> None:
    # GIVEN a package with attached-0 and attached-1
    package = make_package(specifications=2)
    # WHEN attached-1 and a new specification are desired
    update = plan(
        desired(AdditionalInferenceSpecificationsToAdd=[valid_spec("attached-1"), valid_spec("neo")]), package
    )
    # THEN only the new one is added, exactly as desired
    assert update is not None
    assert update.changes == {"AdditionalInferenceSpecificationsToAdd": [valid_spec("neo")]}


def test_every_specification_attached_is_nothing_to_do(make_package: Any, valid_spec: Any) -> None:
    # GIVEN a package with attached-0 WHEN it is desired again
    update = plan(
        desired(AdditionalInferenceSpecificationsToAdd=[valid_spec("attached-0")]), make_package(specifications=1)
    )
    # THEN there is nothing to send
    assert update is None


@pytest.mark.parametrize(
    ("member", "value"),
    [
        pytest.param("ModelLifeCycle", LIFE_CYCLE, id="life-cycle"),
        pytest.param("ModelCard", CARD, id="model-card"),
        pytest.param("SourceUri", "s3://code/runs/42/", id="source-uri"),
        pytest.param("InferenceSpecification", PRIMARY, id="inference-specification"),
    ],
)
def test_member_equal_to_the_package_is_dropped(member: str, value: Any, make_package: Any) -> None:
    # GIVEN a package that already has the member
    package = make_package(**{member: value})
    # WHEN the same value is desired
    update = plan(desired(**{member: value}), package)
    # THEN there is nothing to send
    assert update is None


@pytest.mark.parametrize(
    ("member", "current", "wanted"),
    [
        pytest.param("ModelLifeCycle", LIFE_CYCLE, {**LIFE_CYCLE, "StageStatus": "Rejected"}, id="life-cycle"),
        pytest.param("ModelCard", CARD, {**CARD, "ModelCardStatus": "PendingReview"}, id="model-card"),
        pytest.param("SourceUri", "s3://code/runs/42/", "s3://code/runs/43/", id="source-uri"),
        pytest.param(
            "InferenceSpecification",
            PRIMARY,
            {**PRIMARY, "SupportedContentTypes": ["application/json"]},
            id="inference",
        ),
        pytest.param("ModelLifeCycle", None, LIFE_CYCLE, id="life-cycle-absent"),
    ],
)
def test_member_different_from_the_package_is_sent_whole(
    member: str, current: Any, wanted: Any, make_package: Any
) -> None:
    # GIVEN a package with one value of the member (or none)
    package = make_package(**{member: current})
    # WHEN another value is desired
    update = plan(desired(**{member: wanted}), package)
    # THEN the member is sent, whole, and nothing else
    assert update is not None
    assert update.changes == {member: wanted}


def test_life_cycle_subset_of_the_package_is_dropped(make_package: Any) -> None:
    # GIVEN a package in stage staging/Approved with a description
    package = make_package(ModelLifeCycle=LIFE_CYCLE)
    # WHEN the same stage and status are desired without a description
    update = plan(desired(ModelLifeCycle={"Stage": "staging", "StageStatus": "Approved"}), package)
    # THEN there is nothing to send (the description is left as it is)
    assert update is None


def test_plan_carries_the_deterministic_client_token(make_package: Any) -> None:
    # GIVEN a pending package WHEN an approval is planned
    package = make_package(LastModifiedTime=WRITTEN)
    update = plan(desired(ModelApprovalStatus="Approved"), package)
    # THEN the plan carries the token derived from the change and the package it was planned against
    assert update is not None
    assert update.ClientToken is not None
    assert update.ClientToken == update.derive_client_token(package)


def test_plan_ignores_the_desired_token(make_package: Any) -> None:
    # GIVEN a desired change that carries a token of its own
    wanted = desired(ModelApprovalStatus="Approved", ClientToken="caller-token")
    # WHEN it is planned
    package = make_package()
    update = plan(wanted, package)
    # THEN the token is derived from the minimal change again
    assert update is not None
    assert update.ClientToken == desired(ModelApprovalStatus="Approved").derive_client_token(package)


def test_token_depends_on_the_minimal_change_not_on_the_desired_state(make_package: Any) -> None:
    # GIVEN a package that already has one of two desired metadata entries
    package = make_package(CustomerMetadataProperties={"a": "1"})
    # WHEN the two are planned, and the missing one alone is planned
    both = plan(desired(CustomerMetadataProperties={"a": "1", "b": "2"}), package)
    missing = plan(desired(CustomerMetadataProperties={"b": "2"}), package)
    # THEN the two plans are the same request with the same token
    assert both is not None
    assert both == missing


def test_replanning_against_the_same_description_keeps_the_token(make_package: Any) -> None:
    # GIVEN one description of a pending package (a redelivery, or a duplicate event read before any write)
    package = make_package(LastModifiedTime=WRITTEN)
    wanted = desired(ModelApprovalStatus="Approved", CustomerMetadataProperties={"registrar:verdict": "Approved"})
    # WHEN the same desired state is planned twice
    # THEN both plans are the same request with the same token: the service applies one
    assert plan(wanted, package) == plan(wanted, package)


def test_approval_replanned_after_a_second_reset_gets_a_new_token(make_package: Any, apply_to: Any) -> None:
    # GIVEN a version registrar approved, a person reset to pending, and registrar approved again
    wanted = desired(ModelApprovalStatus="Approved", ApprovalDescription="auc 0.91")
    first_reset = make_package(ApprovalDescription="auc 0.91", LastModifiedTime=WRITTEN)
    first = plan(wanted, first_reset)
    assert first is not None
    approved = apply_to(first_reset, first).model_copy(update={"LastModifiedTime": WRITTEN + timedelta(seconds=1)})
    assert plan(wanted, approved) is None
    # WHEN the person resets it again (the same values as after the first reset, written later) and it is planned
    second_reset = approved.model_copy(
        update={"ModelApprovalStatus": "PendingManualApproval", "LastModifiedTime": WRITTEN + timedelta(minutes=5)}
    )
    second = plan(wanted, second_reset)
    # THEN it is the same minimal change with another token, so the service applies it instead of ignoring it
    assert second is not None
    assert second.changes == first.changes == {"ModelApprovalStatus": "Approved"}
    assert second.ClientToken != first.ClientToken


def test_neo_record_rewritten_after_it_was_restored_gets_a_new_token(make_package: Any) -> None:
    # GIVEN a Neo record naming job A, planned to name job B; then B written, then someone restored A
    record = "registrar:neo:ml_c5"
    wanted = desired(CustomerMetadataProperties={record: "job-b"})
    before = make_package(CustomerMetadataProperties={record: "job-a"}, LastModifiedTime=WRITTEN)
    restored = make_package(
        CustomerMetadataProperties={record: "job-a"}, LastModifiedTime=WRITTEN + timedelta(minutes=5)
    )
    # WHEN B is planned against each
    first, again = plan(wanted, before), plan(wanted, restored)
    # THEN the byte-identical change carries another token the second time
    assert first is not None and again is not None
    assert first.changes == again.changes
    assert first.ClientToken != again.ClientToken


def test_a_changed_member_read_with_another_value_gets_a_new_token(make_package: Any) -> None:
    # GIVEN the same minimal approval planned against a pending and a rejected version (same LastModifiedTime)
    wanted = desired(ModelApprovalStatus="Approved")
    pending = make_package(ModelApprovalStatus="PendingManualApproval", LastModifiedTime=WRITTEN)
    rejected = make_package(ModelApprovalStatus="Rejected", LastModifiedTime=WRITTEN)
    # WHEN it is planned against each
    first, second = plan(wanted, pending), plan(wanted, rejected)
    # THEN the tokens differ
    assert first is not None and second is not None
    assert first.changes == second.changes
    assert first.ClientToken != second.ClientToken


def test_a_member_the_plan_does_not_change_does_not_alter_the_token(make_package: Any) -> None:
    # GIVEN two descriptions at the same LastModifiedTime differing only in metadata the plan does not touch
    wanted = desired(ModelApprovalStatus="Approved", CustomerMetadataProperties={"registrar:verdict": "Approved"})
    plain = make_package(LastModifiedTime=WRITTEN)
    tagged = make_package(LastModifiedTime=WRITTEN, CustomerMetadataProperties={"team": "fraud"})
    # WHEN the same change is planned against each
    # THEN the plans carry the same token
    assert plan(wanted, plain) == plan(wanted, tagged)


def test_planning_the_result_again_after_applying_it_is_nothing_to_do(
    make_package: Any, apply_to: Any, valid_spec: Any
) -> None:
    # GIVEN a package with some state and a desired state changing every member
    package = make_package(
        CustomerMetadataProperties={"same": "1", "changed": "old", "stale": "x"},
        ModelLifeCycle=LIFE_CYCLE,
        specifications=2,
    )
    wanted = desired(
        ModelApprovalStatus="Approved",
        ApprovalDescription="auc 0.91",
        CustomerMetadataProperties={"same": "1", "changed": "new", "added": "y"},
        CustomerMetadataPropertiesToRemove=["stale", "absent"],
        AdditionalInferenceSpecificationsToAdd=[valid_spec("attached-0"), valid_spec("neo")],
        InferenceSpecification=PRIMARY,
        SourceUri="s3://code/runs/42/",
        ModelCard=CARD,
        ModelLifeCycle={**LIFE_CYCLE, "Stage": "production"},
    )
    first = plan(wanted, package)
    assert first is not None
    # WHEN the plan is applied and the same desired state is planned again
    second = plan(wanted, apply_to(package, first))
    # THEN there is nothing left to do
    assert second is None


def test_plan_refuses_a_sixteenth_specification(make_package: Any, valid_spec: Any) -> None:
    # GIVEN a package holding 15 specifications
    package = make_package(specifications=15)
    # WHEN a new one is desired
    # THEN planning refuses it, before any call
    with pytest.raises(InvalidUpdateError, match="at most 15"):
        plan(desired(AdditionalInferenceSpecificationsToAdd=[valid_spec("neo")]), package)


def test_plan_refuses_a_fifty_first_metadata_entry(make_package: Any) -> None:
    # GIVEN a package holding 50 metadata entries
    package = make_package(CustomerMetadataProperties={f"k{i}": "v" for i in range(50)})
    # WHEN a new key is desired
    # THEN planning refuses it
    with pytest.raises(InvalidUpdateError, match="at most 50"):
        plan(desired(CustomerMetadataProperties={"new": "v"}), package)


def test_plan_accepts_a_new_entry_when_a_removal_makes_room(make_package: Any) -> None:
    # GIVEN a package holding 50 metadata entries
    package = make_package(CustomerMetadataProperties={f"k{i}": "v" for i in range(50)})
    # WHEN a new key is desired together with the removal of an existing one
    update = plan(desired(CustomerMetadataProperties={"new": "v"}, CustomerMetadataPropertiesToRemove=["k0"]), package)
    # THEN both are planned
    assert update is not None
    assert update.changes == {"CustomerMetadataProperties": {"new": "v"}, "CustomerMetadataPropertiesToRemove": ["k0"]}


def test_plan_refuses_a_content_change_to_an_archived_card(make_package: Any) -> None:
    # GIVEN a package whose model card is Archived
    package = make_package(ModelCard={**CARD, "ModelCardStatus": "Archived"})
    # WHEN new content is desired
    # THEN planning refuses it
    with pytest.raises(InvalidUpdateError, match="Archived"):
        plan(desired(ModelCard={"ModelCardContent": "{}"}), package)


def test_plan_refuses_a_change_to_another_package(make_package: Any, other_arn: str) -> None:
    # GIVEN version 4 pending approval WHEN an approval of version 3 is planned against it
    package = make_package(ModelPackageArn=other_arn)
    # THEN planning refuses it
    with pytest.raises(InvalidUpdateError, match="ModelPackageArn"):
        plan(desired(ModelApprovalStatus="Approved"), package)


def test_plan_refuses_another_package_even_when_nothing_differs(make_package: Any, other_arn: str) -> None:
    # GIVEN version 4, already Approved
    package = make_package(ModelPackageArn=other_arn, ModelApprovalStatus="Approved")
    # WHEN an approval of version 3 is planned against it
    # THEN planning refuses it instead of reporting "nothing to do"
    with pytest.raises(InvalidUpdateError, match="ModelPackageArn"):
        plan(desired(ModelApprovalStatus="Approved"), package)


# --- metadata_record: one entry registrar keeps beside its decisions ---------------------------------


def test_a_record_sets_one_metadata_entry_and_nothing_else(make_package: Any) -> None:
    # GIVEN a package without the entry WHEN a record is planned THEN only that entry, with a deterministic token
    package = make_package(CustomerMetadataProperties={"team:owner": "ml"})
    update = metadata_record(package, "registrar:refused", "job x did not evaluate it")
    assert update is not None
    assert update.changes == {"CustomerMetadataProperties": {"registrar:refused": "job x did not evaluate it"}}
    assert update.ModelPackageArn == ARN
    assert update.ClientToken is not None
    assert metadata_record(package, "registrar:refused", "job x did not evaluate it") == update


def test_a_record_already_holding_the_value_is_nothing_to_do(make_package: Any) -> None:
    package = make_package(CustomerMetadataProperties={"registrar:refused": "job x did not evaluate it"})
    assert metadata_record(package, "registrar:refused", "job x did not evaluate it") is None


def test_a_record_with_another_value_is_rewritten(make_package: Any) -> None:
    # GIVEN the entry holding an older value WHEN a new one is recorded THEN rewritten (it costs no new entry)
    package = make_package(
        CustomerMetadataProperties={"registrar:refused": "job x", **{f"k{i}": "v" for i in range(49)}}
    )
    update = metadata_record(package, "registrar:refused", "job y")
    assert update is not None
    assert update.CustomerMetadataProperties == {"registrar:refused": "job y"}


def test_a_record_never_takes_a_fifty_first_entry(make_package: Any) -> None:
    # GIVEN 50 entries of others WHEN a new record is planned THEN nothing: no entry of theirs is displaced
    package = make_package(CustomerMetadataProperties={f"k{i}": "v" for i in range(50)})
    assert metadata_record(package, "registrar:refused", "job x") is None


def test_a_record_breaking_the_metadata_rules_is_refused(make_package: Any) -> None:
    # GIVEN a value longer than 256 characters WHEN planned THEN InvalidUpdateError (sanitise it first)
    with pytest.raises(InvalidUpdateError):
        metadata_record(make_package(), "registrar:refused", "x" * 257)
