"""Decision links: a token verifies only as minted, with a known key, before it expires; a link is used once.

Whether the version a page acts on is the capability's, and the action one it allows, is the caller's check:
verify() returns the capability and the caller takes the version from it (test_the_capability_names_...).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registrar.decisions.links import (
    DEFAULT_SIGNING_SECRET,
    MAX_TOKEN_LENGTH,
    MAX_TTL,
    Capability,
    LinkLedger,
    LinkRefusedError,
    MemoryLinkLedger,
    SigningKey,
    SigningKeys,
    mint,
    new_capability,
    parse_signing_keys,
    verify,
)
from registrar.errors import ConfigurationError

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
OTHER_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/4"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
KEY = SigningKey("2026-12", b"k" * 32)
OLD_KEY = SigningKey("2026-11", b"o" * 32)
KEYS = SigningKeys(current=KEY)


def capability(**fields: Any) -> Capability:
    return new_capability(ARN, "Alice@Example.com", ttl=timedelta(days=7), now=NOW, **fields)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def refusal(token: str, keys: SigningKeys = KEYS, now: datetime = NOW) -> str:
    with pytest.raises(LinkRefusedError) as caught:
        verify(token, keys, now=now)
    return caught.value.reason


# Minting and verifying ---------------------------------------------------------------------------------------


def test_a_minted_token_verifies_to_its_capability() -> None:
    # GIVEN a capability for alice on version 3 WHEN minted and verified before it expires
    granted = capability()
    token = mint(granted, KEY)
    # THEN the capability comes back as it was, the address lower-cased, its expiry 7 days on
    assert verify(token, KEYS, now=NOW + timedelta(days=6)) == granted
    assert granted.recipient == "alice@example.com"
    assert granted.expires_at == NOW + timedelta(days=7)
    assert granted.actions == ("approve", "reject")


def test_a_token_is_url_safe_and_names_its_key() -> None:
    token = mint(capability(), KEY)
    payload, signature = token.split(".")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert json.loads(unb64(payload))["kid"] == "2026-12"
    assert len(unb64(signature)) == 32  # HMAC-SHA256


def test_each_new_capability_has_its_own_128_bit_nonce() -> None:
    nonces = {capability().nonce for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(unb64(nonce)) == 16 for nonce in nonces)


def test_a_capability_may_allow_one_action_only() -> None:
    granted = capability(actions=("approve",))
    assert verify(mint(granted, KEY), KEYS, now=NOW).allows("approve")
    assert not granted.allows("reject")


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1), MAX_TTL + timedelta(seconds=1)])
def test_a_link_lives_more_than_nothing_and_at_most_30_days(ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="at most 30 days"):
        new_capability(ARN, "alice@example.com", ttl=ttl, now=NOW)


@pytest.mark.parametrize("recipient", ["alice", "alice@", "@example.com", "a b@example.com", "a@b@example.com"])
def test_a_recipient_is_an_email_address(recipient: str) -> None:
    with pytest.raises(ValueError, match="e-mail address"):
        new_capability(ARN, recipient, ttl=timedelta(days=1), now=NOW)


def test_the_capability_names_the_version_and_checking_it_is_the_callers() -> None:
    # GIVEN a link for version 3 WHEN it is verified THEN it grants version 3, whatever page it is presented on:
    # the page acts on the capability's version and never on one the request names
    granted = verify(mint(capability(), KEY), KEYS, now=NOW)
    assert granted.model_package_arn == ARN != OTHER_ARN


# Refusals -----------------------------------------------------------------------------------------------------


def test_an_expired_token_is_refused() -> None:
    token = mint(capability(), KEY)
    assert refusal(token, now=NOW + timedelta(days=7)).startswith("expired at 2026-12-08T09:30:00")


def test_a_tampered_payload_is_refused() -> None:
    # GIVEN a token for version 3 WHEN its payload is changed to name version 4, the signature kept
    payload, signature = mint(capability(), KEY).split(".")
    data = json.loads(unb64(payload))
    data["arn"] = OTHER_ARN
    forged = b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()) + "." + signature
    # THEN it is refused for its signature
    assert refusal(forged).startswith("bad signature")


def test_a_tampered_expiry_is_refused() -> None:
    payload, signature = mint(capability(), KEY).split(".")
    data = json.loads(unb64(payload))
    data["exp"] += 86_400 * 365
    assert refusal(b64(json.dumps(data).encode()) + "." + signature).startswith("bad signature")


def test_a_tampered_signature_is_refused() -> None:
    payload, signature = mint(capability(), KEY).split(".")
    raw = bytearray(unb64(signature))
    raw[0] ^= 1
    assert refusal(payload + "." + b64(bytes(raw))).startswith("bad signature")


def test_a_token_signed_with_another_key_of_the_same_id_is_refused() -> None:
    token = mint(capability(), SigningKey("2026-12", b"x" * 32))
    assert refusal(token).startswith("bad signature")


def test_a_token_of_an_unknown_key_id_is_refused() -> None:
    token = mint(capability(), SigningKey("2025-01", b"k" * 32))
    assert refusal(token).startswith("unknown signing key id")


def test_an_over_long_token_is_refused_before_it_is_decoded() -> None:
    assert refusal("A" * (MAX_TOKEN_LENGTH + 1)) == f"longer than {MAX_TOKEN_LENGTH} characters"


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "!!!.???",
        "eyJ9.AAAA",  # base64 of something that is not JSON
        b64(b"[1,2]") + ".AAAA",
        b64(b'{"v":1}') + ".AAAA",
        b64("é".encode()) + ".AAAA",
        "A===.AAAA",
    ],
)
def test_garbage_is_refused(token: str) -> None:
    assert refusal(token)


def test_a_signed_payload_that_is_not_a_capability_is_refused() -> None:
    # GIVEN a payload signed with the real key but naming an action links do not grant
    data = json.dumps(
        {
            "v": 1,
            "kid": KEY.key_id,
            "arn": ARN,
            "sub": "a@example.com",
            "act": ["delete"],
            "exp": 2**40,
            "nonce": "n" * 22,
        }
    ).encode()
    import hashlib
    import hmac

    token = b64(data) + "." + b64(hmac.new(KEY.secret, data, hashlib.sha256).digest())
    assert refusal(token) == "a signed payload that is not a capability"


def test_the_refusal_message_does_not_hold_the_key() -> None:
    token = mint(capability(), SigningKey("2026-12", b"x" * 32))
    with pytest.raises(LinkRefusedError) as caught:
        verify(token, KEYS, now=NOW)
    assert "kkkk" not in str(caught.value) and "kkkk" not in repr(KEY)


# Rotation ------------------------------------------------------------------------------------------------------


def test_a_token_minted_with_the_previous_key_verifies_while_it_is_kept() -> None:
    # GIVEN a token minted before rotation WHEN the keys rotate (the old current becomes previous)
    token = mint(capability(), OLD_KEY)
    rotated = SigningKeys(current=KEY, previous=OLD_KEY)
    # THEN it still verifies; new tokens are minted with the new key; once previous is dropped, it is refused
    assert verify(token, rotated, now=NOW).model_package_arn == ARN
    assert verify(mint(capability(), rotated.current), rotated, now=NOW)
    assert refusal(token, SigningKeys(current=KEY)).startswith("unknown signing key id")


def test_the_current_and_previous_keys_have_their_own_ids() -> None:
    with pytest.raises(ValueError, match="share the id"):
        SigningKeys(current=KEY, previous=SigningKey("2026-12", b"o" * 32))


def test_a_signing_key_has_32_bytes_or_more() -> None:
    with pytest.raises(ValueError, match="32 or more"):
        SigningKey("short", b"k" * 31)


# The secret's JSON ---------------------------------------------------------------------------------------------


def secret_json(current: Any, previous: Any = None) -> str:
    return json.dumps({"current": current, "previous": previous})


def entry(key_id: str, key: bytes) -> dict[str, str]:
    return {"id": key_id, "key": base64.b64encode(key).decode()}


def test_the_secret_json_gives_both_keys() -> None:
    keys = parse_signing_keys(secret_json(entry("2026-12", b"k" * 32), entry("2026-11", b"o" * 32)))
    assert keys == SigningKeys(current=KEY, previous=OLD_KEY)
    assert keys.get("2026-11") == OLD_KEY and keys.get("nope") is None


def test_previous_may_be_absent() -> None:
    assert parse_signing_keys(json.dumps({"current": entry("2026-12", b"k" * 32)})).previous is None


@pytest.mark.parametrize(
    ("text", "member"),
    [
        ("not json", "(the document)"),
        (json.dumps({}), "current"),
        (secret_json({"id": "2026-12"}), "current.key"),
        (secret_json(entry("2026-12", b"k" * 16)), "current.key"),
        (secret_json({"id": "2026-12", "key": "***"}), "current.key"),
        (secret_json(entry("bad id!", b"k" * 32)), "current.id"),
        (secret_json(entry("2026-12", b"k" * 32), {"id": "x"}), "previous.key"),
        (secret_json(entry("2026-12", b"k" * 32), entry("2026-12", b"o" * 32)), "previous.id"),
        (json.dumps({"current": entry("2026-12", b"k" * 32), "next": None}), "next"),
    ],
)
def test_an_invalid_secret_is_a_configuration_error_naming_the_member(text: str, member: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_signing_keys(text, source=f"secret {DEFAULT_SIGNING_SECRET}")
    message = str(caught.value)
    assert message.startswith(f"secret {DEFAULT_SIGNING_SECRET}: {member}")
    assert base64.b64encode(b"k" * 32).decode() not in message


# Single use ----------------------------------------------------------------------------------------------------


def test_a_link_is_used_once() -> None:
    # GIVEN a fresh link WHEN it is consumed twice
    ledger = MemoryLinkLedger()
    granted = capability()
    assert ledger.used(granted) is None
    first = ledger.consume(granted, used_by_action="approve", at=NOW)
    second = ledger.consume(granted, used_by_action="reject", at=NOW + timedelta(minutes=1))
    # THEN only the first use counts, and the ledger says how and when it was used
    assert (first, second) == (True, False)
    assert ledger.used(granted) == {
        "model_package_arn": ARN,
        "recipient": "alice@example.com",
        "action": "approve",
        "used_at": NOW,
        "expires_at": NOW + timedelta(days=7),
    }


def test_another_link_for_the_same_person_and_version_is_its_own() -> None:
    ledger = MemoryLinkLedger()
    ledger.consume(capability(), used_by_action="approve", at=NOW)
    assert ledger.consume(capability(), used_by_action="approve", at=NOW)


class FakeDynamo:
    """PutItem with attribute_not_exists(id), GetItem: as DynamoDB answers them (botocore's member names)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        assert request["ConditionExpression"] == "attribute_not_exists(id)"
        key = request["Item"]["id"]["S"]
        if key in self.items:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        self.items[key] = request["Item"]
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        assert request["ConsistentRead"]
        item = self.items.get(request["Key"]["id"]["S"])
        return {"Item": item} if item else {}


def test_the_ledger_writes_one_item_per_link_that_expires_with_it() -> None:
    dynamo = FakeDynamo()
    ledger = LinkLedger("idempotency", client=dynamo)
    granted = capability()
    assert ledger.consume(granted, used_by_action="reject", at=NOW)
    assert not ledger.consume(granted, used_by_action="reject", at=NOW)
    (item,) = dynamo.items.values()
    assert item["id"] == {"S": f"link#{granted.nonce}"}
    assert item["expiration"] == {"N": str(int((NOW + timedelta(days=7)).timestamp()))}
    used = ledger.used(granted)
    assert used is not None and used["action"] == "reject" and used["used_at"] == NOW


def test_a_retried_put_that_had_landed_is_this_use() -> None:
    # GIVEN a PutItem whose answer was lost and that botocore retried: the retry meets the item it wrote
    dynamo = FakeDynamo()
    real_put = dynamo.put_item

    def put_twice(**kwargs: Any) -> dict[str, Any]:
        real_put(**kwargs)
        return real_put(**kwargs)  # the retry: ConditionalCheckFailed on our own item

    dynamo.put_item = put_twice  # type: ignore[method-assign]
    # THEN the use is this call's
    assert LinkLedger("idempotency", client=dynamo).consume(capability(), used_by_action="approve", at=NOW)
