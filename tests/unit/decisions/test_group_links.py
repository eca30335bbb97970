"""Group links: a capability names a version or a group, each with its own actions; version tokens still verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from registrar.decisions import links

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
KEY = links.SigningKey("2026-12", b"k" * 32)
KEYS = links.SigningKeys(current=KEY)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: dict[str, object]) -> str:
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{b64(data)}.{b64(hmac.new(KEY.secret, data, hashlib.sha256).digest())}"


def test_a_group_capability_round_trips_through_a_token() -> None:
    capability = links.new_group_capability("churn-model", "Ops@Example.com", ttl=timedelta(days=1), now=NOW)
    verified = links.verify(links.mint(capability, KEY), KEYS, now=NOW)
    assert verified == capability
    assert (verified.kind, verified.subject, verified.actions) == ("group", "churn-model", ("rollback",))
    assert verified.model_package_arn is None and verified.allows("rollback") and not verified.allows("approve")


def test_a_group_token_carries_grp_and_no_arn() -> None:
    token = links.mint(links.new_group_capability("churn-model", "a@example.com", ttl=timedelta(hours=1), now=NOW), KEY)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert payload["grp"] == "churn-model" and "arn" not in payload and payload["act"] == ["rollback"]


def test_a_version_token_minted_before_groups_still_verifies() -> None:
    # GIVEN a token exactly as version 1 of the format minted it (no "grp" member)
    old = signed(
        {"v": 1, "kid": KEY.key_id, "arn": ARN, "sub": "a@example.com", "act": ["approve", "reject"],
         "exp": int((NOW + timedelta(days=1)).timestamp()), "nonce": "A" * 22}
    )  # fmt: skip
    capability = links.verify(old, KEYS, now=NOW)
    assert (capability.kind, capability.model_package_arn, capability.model_package_group) == ("version", ARN, None)
    # AND minting that capability again gives the very same token (a version's payload is unchanged)
    assert links.mint(capability, KEY) == old


@pytest.mark.parametrize(
    "members",
    [
        {"model_package_arn": ARN, "model_package_group": "churn-model", "actions": ("approve",)},
        {"actions": ("approve",)},
        {"model_package_arn": ARN, "actions": ("rollback",)},
        {"model_package_arn": ARN, "actions": ("approve", "rollback")},
        {"model_package_group": "churn-model", "actions": ("approve",)},
        {"model_package_group": "churn-model", "actions": ("reject", "rollback")},
        {"model_package_group": "churn_model", "actions": ("rollback",)},
    ],
)
def test_a_capability_names_one_kind_with_that_kinds_actions(members: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        links.Capability(recipient="a@example.com", expires_at=NOW, nonce="A" * 22, **members)


@pytest.mark.parametrize(
    "payload",
    [
        {"arn": ARN, "grp": "churn-model", "act": ["approve"]},
        {"act": ["rollback"]},
        {"grp": "churn-model", "act": ["approve"]},
        {"arn": ARN, "act": ["rollback"]},
    ],
)
def test_a_signed_payload_mixing_kinds_is_refused(payload: dict[str, object]) -> None:
    token = signed(
        {"v": 1, "kid": KEY.key_id, "sub": "a@example.com", "exp": int((NOW + timedelta(days=1)).timestamp()),
         "nonce": "A" * 22, **payload}
    )  # fmt: skip
    with pytest.raises(links.LinkRefusedError):
        links.verify(token, KEYS, now=NOW)


def test_the_ledger_records_a_group_links_use_under_its_group() -> None:
    capability = links.new_group_capability("churn-model", "a@example.com", ttl=timedelta(hours=1), now=NOW)
    ledger = links.MemoryLinkLedger()
    assert ledger.consume(capability, used_by_action="rollback", at=NOW)
    assert not ledger.consume(capability, used_by_action="rollback", at=NOW)
    used = ledger.used(capability)
    assert used is not None and used["model_package_arn"] == "churn-model" and used["action"] == "rollback"
