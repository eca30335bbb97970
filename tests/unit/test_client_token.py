"""The ClientToken: derived from the change, so a retry or a duplicate of the same change is one update."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from registrar.registry import Registry
from registrar.updates import PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
TOKEN_RULE = re.compile(r"[a-zA-Z0-9-]{1,36}")


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
