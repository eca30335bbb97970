"""The ClientToken: derived from the change and the state it was planned against.

A retry or a duplicate of the same change planned against the same description is one update; the
same change planned again after someone wrote to the package is another.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from registrar.errors import InvalidUpdateError
from registrar.registry import Registry
from registrar.updates import PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
TOKEN_RULE = re.compile(r"[a-zA-Z0-9-]{1,36}")
DERIVED_TOKEN = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
WRITTEN = datetime(2025, 3, 4, 9, 15, 27, 123000, tzinfo=UTC)  # the package's LastModifiedTime
LATER = WRITTEN + timedelta(minutes=5)  # after someone else wrote to it


def approval(**members: Any) -> PackageUpdate:
    return PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="Approved", **members)


def test_derived_token_matches_the_api_rule() -> None:
    # GIVEN an update WHEN its token is derived
    token = approval(CustomerMetadataProperties={"k": "v"}).derive_client_token()
    # THEN it is 1-36 characters of [a-zA-Z0-9-]
    assert TOKEN_RULE.fullmatch(token)


def test_derived_token_is_accepted_as_a_client_token() -> None:
    # GIVEN a derived token WHEN an update is built with it
    token = approval().derive_client_token()
    update = approval(ClientToken=token)
    # THEN PackageUpdate's own validation accepts it
    assert update.ClientToken == token


def test_same_change_built_twice_gets_the_same_token() -> None:
    # GIVEN two updates built separately from equal inputs
    first = approval(ApprovalDescription="auc 0.91", CustomerMetadataProperties={"a": "1", "b": "2"})
    second = approval(ApprovalDescription="auc 0.91", CustomerMetadataProperties={"a": "1", "b": "2"})
    # WHEN their tokens are derived
    # THEN they are equal
    assert first.derive_client_token() == second.derive_client_token()


def test_token_does_not_depend_on_metadata_order() -> None:
    # GIVEN the same metadata given in two orders
    first = approval(CustomerMetadataProperties={"a": "1", "b": "2"})
    second = approval(CustomerMetadataProperties={"b": "2", "a": "1"})
    # WHEN their tokens are derived
    # THEN they are equal: a map has no order
    assert first.derive_client_token() == second.derive_client_token()


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="Rejected"), id="status"),
        pytest.param(approval(ApprovalDescription="why"), id="added-member"),
        pytest.param(approval(CustomerMetadataProperties={"k": "v"}), id="metadata"),
        pytest.param(
            PackageUpdate(
                ModelPackageArn=ARN.replace("churn/3", "churn/4"),
                ModelApprovalStatus="Approved",
            ),
            id="other-package",
        ),
    ],
)
def test_token_differs_when_the_change_differs(other: PackageUpdate) -> None:
    # GIVEN an approval of churn/3 and a different change
    # WHEN both tokens are derived
    # THEN they differ
    assert approval().derive_client_token() != other.derive_client_token()


def test_token_differs_for_a_different_metadata_value() -> None:
    # GIVEN two updates that differ only in one metadata value
    first = approval(CustomerMetadataProperties={"auc": "0.91"})
    second = approval(CustomerMetadataProperties={"auc": "0.92"})
    # WHEN their tokens are derived THEN they differ
    assert first.derive_client_token() != second.derive_client_token()


def test_derivation_ignores_a_token_already_set() -> None:
    # GIVEN the same change with and without a caller's token
    # WHEN the token is derived
    # THEN the caller's token does not influence it
    assert approval(ClientToken="caller").derive_client_token() == approval().derive_client_token()


def test_with_client_token_sets_the_derived_token() -> None:
    # GIVEN an update without a token WHEN a token is requested
    update = approval().with_client_token()
    # THEN it carries the derived one and the change is unchanged
    assert update.ClientToken == approval().derive_client_token()
    assert update.changes == approval().changes


def test_with_client_token_keeps_a_given_token() -> None:
    # GIVEN an update with a caller's token WHEN a token is requested
    update = approval(ClientToken="run-42-retry").with_client_token()
    # THEN the caller's token is kept
    assert update.ClientToken == "run-42-retry"


def test_registry_sends_the_request_with_its_derived_token() -> None:
    # GIVEN a registry over a stubbed SageMaker client (no network) expecting exactly the request and the token
    client = botocore.session.get_session().create_client("sagemaker", region_name="us-east-1")
    update = approval(ApprovalDescription="auc 0.91")
    expected = {**update.to_request(), "ClientToken": update.derive_client_token()}
    with Stubber(client) as stub:
        stub.add_response("update_model_package", {"ModelPackageArn": ARN}, expected)
        # WHEN the update is applied
        returned = Registry(client=client).update(update)
        # THEN exactly that request was sent, and the ARN is returned
        stub.assert_no_pending_responses()
    assert returned == ARN


def test_registry_sends_a_planned_request_with_the_token_planned_against_the_package(make_package: Any) -> None:
    # GIVEN a request planned against a described package, and a stubbed SageMaker client expecting its token
    client = botocore.session.get_session().create_client("sagemaker", region_name="us-east-1")
    package = make_package(LastModifiedTime=WRITTEN)
    update = approval().with_client_token(package)
    expected = {**update.to_request(), "ClientToken": approval().derive_client_token(package)}
    with Stubber(client) as stub:
        stub.add_response("update_model_package", {"ModelPackageArn": ARN}, expected)
        # WHEN the registry sends it
        Registry(client=client).update(update)
        # THEN the token planned against the package is sent, not the token of the request alone
        stub.assert_no_pending_responses()


# Planned against a described package ------------------------------------------------------------------


def test_token_planned_against_a_package_matches_the_api_rule(make_package: Any) -> None:
    # GIVEN a described package WHEN the token of a change planned against it is derived
    token = approval(CustomerMetadataProperties={"k": "v"}).derive_client_token(make_package(LastModifiedTime=WRITTEN))
    # THEN it is a UUID-formatted hash: 36 characters of [a-f0-9-], accepted by the API's rule and PackageUpdate's
    assert DERIVED_TOKEN.fullmatch(token)
    assert approval(ClientToken=token).ClientToken == token


def test_same_change_against_the_same_state_gets_the_same_token(make_package: Any) -> None:
    # GIVEN the same package described twice (a retry, or a duplicate event handled concurrently)
    first = make_package(LastModifiedTime=WRITTEN, CustomerMetadataProperties={"registrar:verdict": "Held"})
    second = make_package(LastModifiedTime=WRITTEN, CustomerMetadataProperties={"registrar:verdict": "Held"})
    change = approval(ApprovalDescription="auc 0.91", CustomerMetadataProperties={"registrar:verdict": "Approved"})
    # WHEN the same change is derived against each
    # THEN the tokens are equal: the service applies the change once
    assert change.derive_client_token(first) == change.derive_client_token(second)


def test_same_change_after_a_write_that_restored_the_value_gets_another_token(make_package: Any) -> None:
    # GIVEN a pending version, and the same version pending again after registrar approved it and a person
    # reset it (every member the change touches holds the same value; only LastModifiedTime moved)
    before = make_package(ModelApprovalStatus="PendingManualApproval", LastModifiedTime=WRITTEN)
    reset = make_package(ModelApprovalStatus="PendingManualApproval", LastModifiedTime=LATER)
    # WHEN the same approval is derived against each
    # THEN the tokens differ: the second approval is a new change, not a retry of the first
    assert approval().derive_client_token(before) != approval().derive_client_token(reset)


@pytest.mark.parametrize(
    ("change", "current", "other_current"),
    [
        pytest.param(
            approval(),
            {"ModelApprovalStatus": "PendingManualApproval"},
            {"ModelApprovalStatus": "Rejected"},
            id="status",
        ),
        pytest.param(
            PackageUpdate(ModelPackageArn=ARN, ApprovalDescription="auc 0.91"),
            {"ApprovalDescription": "auc 0.80"},
            {},
            id="description",
        ),
        pytest.param(
            PackageUpdate(ModelPackageArn=ARN, CustomerMetadataProperties={"registrar:neo:ml_c5": "job-b"}),
            {"CustomerMetadataProperties": {"registrar:neo:ml_c5": "job-a"}},
            {"CustomerMetadataProperties": {"registrar:neo:ml_c5": "job-c"}},
            id="metadata-value",
        ),
        pytest.param(
            PackageUpdate(ModelPackageArn=ARN, CustomerMetadataProperties={"registrar:neo:ml_c5": "job-b"}),
            {"CustomerMetadataProperties": {"registrar:neo:ml_c5": "job-a"}},
            {},
            id="metadata-key-absent",
        ),
        pytest.param(
            PackageUpdate(ModelPackageArn=ARN, CustomerMetadataPropertiesToRemove=["stale"]),
            {"CustomerMetadataProperties": {"stale": "1"}},
            {"CustomerMetadataProperties": {"stale": "2"}},
            id="metadata-removal",
        ),
        pytest.param(
            PackageUpdate(ModelPackageArn=ARN, SourceUri="s3://code/runs/42/"),
            {"SourceUri": "s3://code/runs/41/"},
            {"SourceUri": "s3://code/runs/40/"},
            id="source-uri",
        ),
        pytest.param(
            PackageUpdate(ModelPackageArn=ARN, ModelLifeCycle={"Stage": "production", "StageStatus": "Approved"}),
            {"ModelLifeCycle": {"Stage": "staging", "StageStatus": "Approved"}},
            {"ModelLifeCycle": {"Stage": "staging", "StageStatus": "Rejected"}},
            id="life-cycle",
        ),
    ],
)
def test_same_change_against_another_value_of_a_changed_member_gets_another_token(
    make_package: Any, change: PackageUpdate, current: dict[str, Any], other_current: dict[str, Any]
) -> None:
    # GIVEN two descriptions that differ in the current value of a member the change sets (even at the
    # same LastModifiedTime, as a description without reliable times would show them)
    first = make_package(LastModifiedTime=WRITTEN, **current)
    second = make_package(LastModifiedTime=WRITTEN, **other_current)
    # WHEN the same change is derived against each
    # THEN the tokens differ
    assert change.derive_client_token(first) != change.derive_client_token(second)


def test_same_specification_against_other_attached_names_gets_another_token(make_package: Any, valid_spec: Any) -> None:
    # GIVEN two descriptions with one and with two specifications attached, at the same LastModifiedTime
    change = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[valid_spec("neo")])
    one = make_package(specifications=1, LastModifiedTime=WRITTEN)
    two = make_package(specifications=2, LastModifiedTime=WRITTEN)
    # WHEN the same addition is derived against each THEN the tokens differ
    assert change.derive_client_token(one) != change.derive_client_token(two)


@pytest.mark.parametrize(
    "unrelated",
    [
        pytest.param({"CustomerMetadataProperties": {"team": "fraud"}}, id="another-metadata-key"),
        pytest.param({"ApprovalDescription": "set by a person"}, id="description"),
        pytest.param({"SourceUri": "s3://code/runs/7/"}, id="source-uri"),
        pytest.param({"ModelLifeCycle": {"Stage": "staging", "StageStatus": "Approved"}}, id="life-cycle"),
    ],
)
def test_members_the_change_leaves_alone_do_not_enter_the_token(make_package: Any, unrelated: dict[str, Any]) -> None:
    # GIVEN two descriptions at the same LastModifiedTime that differ only in a member an approval with
    # metadata does not touch
    change = approval(CustomerMetadataProperties={"registrar:verdict": "Approved"})
    plain = make_package(LastModifiedTime=WRITTEN)
    other = make_package(LastModifiedTime=WRITTEN, **unrelated)
    # WHEN the change is derived against each
    # THEN the tokens are equal: only the state of the members the change sets is named
    assert change.derive_client_token(plain) == change.derive_client_token(other)


def test_the_same_instant_in_another_zone_is_the_same_state(make_package: Any) -> None:
    # GIVEN one LastModifiedTime as botocore renders it in UTC, in a local zone, and as a naive UTC time
    local = WRITTEN.astimezone(timezone(timedelta(hours=-5)))
    naive = WRITTEN.replace(tzinfo=None)
    # WHEN the same change is derived against each
    tokens = {approval().derive_client_token(make_package(LastModifiedTime=when)) for when in (WRITTEN, local, naive)}
    # THEN the token is one: two Lambda processes in different zones agree
    assert len(tokens) == 1


def test_token_planned_against_a_package_differs_from_the_request_alone(make_package: Any) -> None:
    # GIVEN a change WHEN derived with and without the package it was planned against
    # THEN the tokens differ (the request-only token stays what it was for callers without a description)
    assert approval().derive_client_token(make_package(LastModifiedTime=WRITTEN)) != approval().derive_client_token()


def test_token_refuses_a_description_of_another_package(make_package: Any, other_arn: str) -> None:
    # GIVEN a description of churn/4 WHEN an approval of churn/3 is derived against it THEN it is refused
    with pytest.raises(InvalidUpdateError, match="ModelPackageArn"):
        approval().derive_client_token(make_package(ModelPackageArn=other_arn))


def test_with_client_token_against_a_package_sets_that_token(make_package: Any) -> None:
    # GIVEN an update without a token and the package it was planned against
    package = make_package(LastModifiedTime=WRITTEN)
    # WHEN a token is requested THEN it is the one derived against the package; a given token is kept
    assert approval().with_client_token(package).ClientToken == approval().derive_client_token(package)
    assert approval(ClientToken="run-42-retry").with_client_token(package).ClientToken == "run-42-retry"
