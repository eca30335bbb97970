"""Decision links: a link is a capability, signed, for one person, one version or group, named actions, expiring,
single use.

A **capability** (:class:`Capability`) says: ``recipient`` may take one of ``actions`` on ``model_package_arn``
(a version: ``approve``, ``reject``) or on ``model_package_group`` (a group: ``rollback``) until ``expires_at``;
exactly one of the two is set, and the actions are the kind's (:data:`KIND_ACTIONS`). ``nonce`` names this one
link. :func:`mint` turns it into a URL-safe **token**::

    base64url(payload) "." base64url(HMAC-SHA256(key, payload))

``payload`` is compact JSON with sorted keys, ``{"act": [...], "arn": ..., "exp": <epoch seconds>, "kid": ...,
"nonce": ..., "sub": <recipient>, "v": 1}`` for a version; a group's has ``"grp": <group name>`` instead of
``"arn"`` (same ``v``: a version's payload is byte for byte what it always was, so every version token minted
before groups existed still verifies; a verifier that predates groups refuses a group's token, as an unknown
member); base64url is unpadded; the MAC is over the payload's bytes (the
decoded JSON), with the key ``kid`` names. :func:`verify` checks, in order: the token's length
(:data:`MAX_TOKEN_LENGTH`, before any decoding), its shape, the key id (the current or the previous key), the
signature (:func:`hmac.compare_digest`), the payload's members, the expiry. Any failure is
:class:`LinkRefusedError`, whose ``reason`` is for logs: a page shows one refusal whatever the reason, so a
forger learns nothing from it.

What :func:`verify` does **not** check is the caller's: that the version (or group) the page acts on is the
capability's (the page takes it from the capability, never from the request), that the action asked is one of
``actions`` (:meth:`Capability.allows`), and that the link was not used (:class:`LinkLedger`).

**Keys** (:class:`SigningKeys`) live in one Secrets Manager secret (:data:`DEFAULT_SIGNING_SECRET`), read with
:func:`load_signing_keys`; its ``SecretString`` is JSON::

    {"current": {"id": "2026-12", "key": "<base64 of 32 bytes or more>"},
     "previous": {"id": "2026-11", "key": "<base64>"}}

``previous`` may be ``null`` or absent. Tokens are minted with ``current``; both verify. Rotation puts a new
version of the secret whose ``previous`` is the old ``current``, and drops ``previous`` once the longest link
minted with it has expired (docs/operations.md, "Deciding a held version").

**Single use** (:class:`LinkLedger`): deciding through a link first consumes it, a conditional PutItem of the
item ``link#<nonce>`` in the shared idempotency table (``attribute_not_exists(id)``); the second use finds it
and is refused, and :meth:`LinkLedger.used` says when and how it was used. The item's ``expiration`` is the
link's expiry (epoch seconds), so the table's TTL removes it once the link could not verify anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from registrar import aws
from registrar.constrained import EntityName, ModelPackageArn
from registrar.errors import ConfigurationError, RegistrarError

if TYPE_CHECKING:
    pass

Action = Literal["approve", "reject", "rollback"]
Kind = Literal["version", "group"]
# A version's actions (and the default of a version's link).
ACTIONS: tuple[Action, ...] = ("approve", "reject")
# A group's actions.
GROUP_ACTIONS: tuple[Action, ...] = ("rollback",)
KIND_ACTIONS: Mapping[Kind, tuple[Action, ...]] = {"version": ACTIONS, "group": GROUP_ACTIONS}
# The one name of the signing keys' secret the stack, the demo and the CLI share (each may be given another).
DEFAULT_SIGNING_SECRET = "registrar/decision-links"
# The longest token verify() reads: far above any real one (a package ARN is ~100 characters, a token ~400).
MAX_TOKEN_LENGTH = 2048
# The longest a link may live.
MAX_TTL = timedelta(days=30)
# A signing key holds at least this many bytes (HMAC-SHA256's own block of strength).
MIN_KEY_BYTES = 32
NONCE_BYTES = 16  # 128 bits
PAYLOAD_VERSION = 1

ID_PREFIX = "link#"
KEY_ATTRIBUTE = "id"
EXPIRATION_ATTRIBUTE = "expiration"

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class LinkRefusedError(RegistrarError):
    """A token does not grant anything: malformed, unknown key, bad signature, or expired.

    Parameters
    ----------
    reason
        Why, for logs only; whoever presented the token is shown one generic refusal.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"decision link refused: {reason}")


def _utc_second(moment: datetime) -> datetime:
    # A naive time is taken as UTC; a token carries whole seconds, so a capability does too.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0)


def _recipient(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError("not an e-mail address (name@example.com)")
    return value


def _nonce(value: str) -> str:
    if not _NONCE.fullmatch(value):
        raise ValueError("not a link nonce: 16-64 URL-safe base64 characters")
    return value


Recipient = Annotated[str, AfterValidator(_recipient)]
"""An e-mail address, stripped and lower-cased."""


class Capability(BaseModel):
    """What one link grants: ``recipient`` may take one of ``actions`` on a version or a group until ``expires_at``.

    Attributes
    ----------
    model_package_arn
        The version the link decides (a version's link); ``None`` for a group's.
    model_package_group
        The group the link acts on (a group's link); ``None`` for a version's. Exactly one of the two is set.
    recipient
        Whom the link was made for: an e-mail address, lower-cased.
    actions
        What it allows, at least one, each once: a version's ``approve``, ``reject``; a group's ``rollback``.
    expires_at
        When it stops verifying (UTC, whole seconds; a naive time is taken as UTC).
    nonce
        This link's identity (128 random bits, URL-safe base64): the key of its single use.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_package_arn: ModelPackageArn | None = None
    model_package_group: EntityName | None = None
    recipient: Recipient
    actions: tuple[Action, ...] = Field(min_length=1, max_length=len(ACTIONS) + len(GROUP_ACTIONS))
    expires_at: datetime
    nonce: Annotated[str, AfterValidator(_nonce)]

    @field_validator("actions")
    @classmethod
    def _distinct(cls, value: tuple[Action, ...]) -> tuple[Action, ...]:
        if len(set(value)) != len(value):
            raise ValueError("names an action twice")
        return value

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _utc_second(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Capability:
        if (self.model_package_arn is None) == (self.model_package_group is None):
            raise ValueError("names exactly one of a version (model_package_arn) and a group (model_package_group)")
        allowed = KIND_ACTIONS[self.kind]
        wrong = [action for action in self.actions if action not in allowed]
        if wrong:
            raise ValueError(f"a {self.kind}'s link allows {', '.join(allowed)}, not {', '.join(wrong)}")
        return self

    @property
    def kind(self) -> Kind:
        """``version`` or ``group``: what the link acts on."""
        return "version" if self.model_package_arn is not None else "group"

    @property
    def subject(self) -> str:
        """The version's ARN, or the group's name: what the link acts on, for logs and the ledger."""
        return self.model_package_arn or self.model_package_group or ""

    def allows(self, action: str) -> bool:
        """Whether the link grants ``action``."""
        return action in self.actions


@dataclass(frozen=True)
class SigningKey:
    """One HMAC key: ``key_id`` goes in every token it signs (``kid``); ``secret`` is never shown."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"signing key id {self.key_id!r}: use 1-64 letters, digits and ._-")
        if len(self.secret) < MIN_KEY_BYTES:
            raise ValueError(f"signing key {self.key_id!r} has {len(self.secret)} bytes: use {MIN_KEY_BYTES} or more")


@dataclass(frozen=True)
class SigningKeys:
    """The keys links are signed with: tokens are minted with ``current``; ``current`` and ``previous`` verify."""

    current: SigningKey
    previous: SigningKey | None = None

    def __post_init__(self) -> None:
        if self.previous is not None and self.previous.key_id == self.current.key_id:
            raise ValueError(f"the current and the previous signing key share the id {self.current.key_id!r}")

    def get(self, kid: str) -> SigningKey | None:
        """The key whose id is ``kid``, or ``None``."""
        for key in (self.current, self.previous):
            if key is not None and hmac.compare_digest(key.key_id.encode(), kid.encode()):
                return key
        return None


class _Payload(BaseModel):
    """The signed JSON of a token (member names kept short: the token goes in a URL)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    v: Literal[1]
    kid: str
    arn: str | None = None
    grp: str | None = None
    sub: str
    act: list[str]
    exp: int
    nonce: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: SigningKey, payload: bytes) -> bytes:
    return hmac.new(key.secret, payload, hashlib.sha256).digest()


def new_capability(
    model_package_arn: str,
    recipient: str,
    *,
    ttl: timedelta,
    now: datetime,
    actions: tuple[Action, ...] = ACTIONS,
) -> Capability:
    """A fresh capability for ``recipient`` on ``model_package_arn``, expiring ``ttl`` after ``now``.

    Parameters
    ----------
    model_package_arn
        The version to decide.
    recipient
        Whom it is for (an e-mail address).
    ttl
        How long it lives: more than nothing, at most :data:`MAX_TTL`.
    now
        The current time (UTC).
    actions
        What it allows; both by default.

    Raises
    ------
    ValueError
        ``ttl`` out of bounds; pydantic's ``ValidationError`` (a ``ValueError``) for an invalid ARN, address or
        action.
    """
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise ValueError(f"a link lives more than 0 seconds and at most {MAX_TTL.days} days, not {ttl}")
    return Capability(
        model_package_arn=model_package_arn,
        recipient=recipient,
        actions=actions,
        expires_at=now + ttl,
        nonce=secrets.token_urlsafe(NONCE_BYTES),
    )


def new_group_capability(
    group: str,
    recipient: str,
    *,
    ttl: timedelta,
    now: datetime,
    actions: tuple[Action, ...] = GROUP_ACTIONS,
) -> Capability:
    """A fresh capability for ``recipient`` on the model package group ``group``, expiring ``ttl`` after ``now``.

    As :func:`new_capability`, for a group: its actions are :data:`GROUP_ACTIONS` (``rollback``).

    Raises
    ------
    ValueError
        ``ttl`` out of bounds; pydantic's ``ValidationError`` for an invalid group name, address or action.
    """
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise ValueError(f"a link lives more than 0 seconds and at most {MAX_TTL.days} days, not {ttl}")
    return Capability(
        model_package_group=group,
        recipient=recipient,
        actions=actions,
        expires_at=now + ttl,
        nonce=secrets.token_urlsafe(NONCE_BYTES),
    )


def mint(capability: Capability, key: SigningKey) -> str:
    """The token of ``capability``, signed with ``key`` (module docstring: the format).

    Returns
    -------
    str
        URL-safe (``A-Z a-z 0-9 - _ .``), at most :data:`MAX_TOKEN_LENGTH` characters.

    Raises
    ------
    ValueError
        The token would be longer than :data:`MAX_TOKEN_LENGTH` (an ARN far longer than SageMaker makes).
    """
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "kid": key.key_id,
        "sub": capability.recipient,
        "act": list(capability.actions),
        "exp": int(capability.expires_at.timestamp()),
        "nonce": capability.nonce,
    }
    # A version's payload is what it always was (no "grp"): tokens minted before groups existed still verify.
    if capability.model_package_arn is not None:
        payload["arn"] = capability.model_package_arn
    else:
        payload["grp"] = capability.model_package_group
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode("ascii")
    token = f"{_b64encode(data)}.{_b64encode(_mac(key, data))}"
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(f"the token would be {len(token)} characters, more than {MAX_TOKEN_LENGTH}")
    return token


def verify(token: str, keys: SigningKeys, *, now: datetime) -> Capability:
    """The capability ``token`` grants, if it is well formed, signed by one of ``keys`` and not expired at ``now``.

    Whether the version and the action asked are the capability's, and whether the link was used, are the
    caller's to check (module docstring).

    Raises
    ------
    LinkRefusedError
        Too long, malformed, an unknown key id, a signature that does not match, a payload that is not a
        capability, or expired; ``reason`` says which (for logs only).
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefusedError(f"longer than {MAX_TOKEN_LENGTH} characters")
    encoded, dot, signature_text = token.partition(".")
    if not dot or not encoded or not signature_text or "." in signature_text:
        raise LinkRefusedError("not two dot-separated parts")
    try:
        data = _b64decode(encoded)
        signature = _b64decode(signature_text)
    except (ValueError, binascii.Error):
        raise LinkRefusedError("not base64url") from None
    try:
        payload = _Payload.model_validate_json(data)
    except ValidationError:
        raise LinkRefusedError("the payload is not a link's JSON") from None
    key = keys.get(payload.kid)
    if key is None:
        raise LinkRefusedError(f"unknown signing key id {payload.kid[:64]!r}")
    if not hmac.compare_digest(_mac(key, data), signature):
        raise LinkRefusedError(f"bad signature (key {key.key_id})")
    try:
        capability = Capability(
            model_package_arn=payload.arn,
            model_package_group=payload.grp,
            recipient=payload.sub,
            actions=tuple(payload.act),  # validated as Action by Capability
            expires_at=datetime.fromtimestamp(payload.exp, tz=UTC),
            nonce=payload.nonce,
        )
    except (ValidationError, ValueError, OverflowError, OSError):
        raise LinkRefusedError("a signed payload that is not a capability") from None
    if _utc_second(now) >= capability.expires_at:
        raise LinkRefusedError(f"expired at {capability.expires_at.isoformat()}")
    return capability


# --- the keys, from Secrets Manager -------------------------------------------------------------------------------


def _base64_key(value: str) -> str:
    try:
        key = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("not base64 (standard alphabet, padded)") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"decodes to {len(key)} bytes: use {MIN_KEY_BYTES} or more (openssl rand -base64 32)")
    return value


class _KeyEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    key: Annotated[str, AfterValidator(_base64_key)]


class _KeysDocument(BaseModel):
    """The secret's JSON: ``{"current": {"id", "key"}, "previous": {"id", "key"} | null}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    current: _KeyEntry
    previous: _KeyEntry | None = None


def parse_signing_keys(text: str, *, source: str = "the signing keys") -> SigningKeys:
    """The keys a secret's JSON holds (module docstring: the format).

    Raises
    ------
    ConfigurationError
        Not JSON, a member missing, unknown or invalid (named: ``current.key``), or both keys with one id;
        the message never holds a key.
    """
    try:
        document = _KeysDocument.model_validate_json(text)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        member = ".".join(str(part) for part in first["loc"]) or "(the document)"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(
            f"{source}: {member}: {message}; expected "
            '{"current": {"id": "...", "key": "<base64, 32 bytes or more>"}, "previous": {...} or null}'
        ) from None
    current = SigningKey(document.current.id, base64.b64decode(document.current.key))
    previous = SigningKey(document.previous.id, base64.b64decode(document.previous.key)) if document.previous else None
    if previous is not None and previous.key_id == current.key_id:
        raise ConfigurationError(
            f"{source}: previous.id: the same as current.id ({current.key_id!r}); give each its own"
        )
    return SigningKeys(current=current, previous=previous)


def load_signing_keys(
    secret_name: str = DEFAULT_SIGNING_SECRET,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    max_age: int = 300,
) -> SigningKeys:
    """The signing keys in the Secrets Manager secret ``secret_name`` (its current version), cached ``max_age`` s.

    Read through :func:`registrar.secrets.read_secret` (Powertools Parameters' ``SecretsProvider``): a rotated
    secret is seen within ``max_age`` seconds; the previous key keeps verifying meanwhile.

    Raises
    ------
    ConfigurationError
        The secret does not exist, holds binary data, or its JSON is not the keys' (the member named).
    botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
        Secrets Manager refused or failed the read otherwise (access denied, throttling).
    """
    from registrar.secrets import read_secret

    try:
        text = read_secret(secret_name, endpoint_url=endpoint_url, region=region, max_age=max_age)
    except TypeError as error:
        raise ConfigurationError(str(error)) from None
    except Exception as error:
        if aws.error_code(error) == "ResourceNotFoundException":
            raise ConfigurationError(
                f"secret {secret_name} does not exist: create it with the signing keys "
                '({"current": {"id": ..., "key": ...}}, docs/operations.md "Deciding a held version")'
            ) from None
        raise
    return parse_signing_keys(text, source=f"secret {secret_name}")


# --- single use ---------------------------------------------------------------------------------------------------


def _use_record(capability: Capability, used_by_action: str, at: datetime) -> dict[str, Any]:
    return {
        "model_package_arn": capability.subject,
        "recipient": capability.recipient,
        "action": used_by_action,
        "used_at": _utc_second(at),
        "expires_at": capability.expires_at,
    }


class UsedLinks(Protocol):
    """Where single use is kept (:class:`LinkLedger`, :class:`MemoryLinkLedger`)."""

    def consume(self, capability: Capability, *, used_by_action: str, at: datetime) -> bool: ...

    def used(self, capability: Capability) -> dict[str, Any] | None: ...


class LinkLedger(aws.DynamoDBTable):
    """Which links were used, in DynamoDB: the shared idempotency table, one item ``link#<nonce>`` a used link.

    Parameters
    ----------
    table_name
        The table (partition key ``id``, a string; TTL on ``expiration``), shared with Powertools Idempotency,
        the decision journal and the sweeper's watermark.
    client
        A botocore ``dynamodb`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    """

    @staticmethod
    def item_id(capability: Capability) -> str:
        """The link's item id: ``link#<nonce>``."""
        return ID_PREFIX + capability.nonce

    def consume(self, capability: Capability, *, used_by_action: str, at: datetime) -> bool:
        """Mark the link used (by ``used_by_action``, at ``at``); ``False`` when it was used already.

        A conditional PutItem (``attribute_not_exists(id)``): of two uses at once, one wins. Each call marks its
        item with a random ``claim``: when the condition fails on the very item this call wrote (botocore retried
        a PutItem that had landed), the use is this one, ``True``.
        """
        record = _use_record(capability, used_by_action, at)
        claim = secrets.token_hex(8)  # this call's own mark: botocore's retries resend it, another use has its own
        item = {
            KEY_ATTRIBUTE: {"S": self.item_id(capability)},
            "model_package_arn": {"S": record["model_package_arn"]},
            "recipient": {"S": record["recipient"]},
            "action": {"S": used_by_action},
            "used_at": {"S": record["used_at"].isoformat()},
            "claim": {"S": claim},
            EXPIRATION_ATTRIBUTE: {"N": str(int(capability.expires_at.timestamp()))},
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=f"attribute_not_exists({KEY_ATTRIBUTE})",
            )
        except Exception as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            response = self.client.get_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": self.item_id(capability)}},
                ConsistentRead=True,
            )
            return (response.get("Item") or {}).get("claim", {}).get("S") == claim
        return True

    def used(self, capability: Capability) -> dict[str, Any] | None:
        """How the link was used, or ``None`` if it was not (a consistent read).

        Returns
        -------
        dict or None
            ``model_package_arn`` (a group's link: the group's name, :attr:`Capability.subject`), ``recipient``,
            ``action`` (str), ``used_at`` and ``expires_at`` (UTC datetimes).
        """
        response = self.client.get_item(
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": self.item_id(capability)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        return _from_item(item, capability)


def _from_item(item: Mapping[str, Any], capability: Capability) -> dict[str, Any]:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    used_at_text = text("used_at")
    try:
        used_at = datetime.fromisoformat(used_at_text) if used_at_text else None
    except ValueError:
        used_at = None
    return {
        "model_package_arn": text("model_package_arn") or capability.subject,
        "recipient": text("recipient") or capability.recipient,
        "action": text("action") or "",
        "used_at": used_at,
        "expires_at": capability.expires_at,
    }


class MemoryLinkLedger:
    """Used links held in memory: tests and local runs without a table. As :class:`LinkLedger`."""

    def __init__(self) -> None:
        self._used: dict[str, dict[str, Any]] = {}

    def consume(self, capability: Capability, *, used_by_action: str, at: datetime) -> bool:
        """Mark the link used; ``False`` when it was used already."""
        key = LinkLedger.item_id(capability)
        if key in self._used:
            return False
        self._used[key] = _use_record(capability, used_by_action, at)
        return True

    def used(self, capability: Capability) -> dict[str, Any] | None:
        """How the link was used (a copy), or ``None``."""
        record = self._used.get(LinkLedger.item_id(capability))
        return dict(record) if record is not None else None
