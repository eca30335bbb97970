"""Deployment records: where a model package version serves, kept in its ``CustomerMetadataProperties``. Pure.

One entry per endpoint the version went live on::

    registrar:deployed:<endpoint name>   live since 2026-12-03T17:00:00Z variant AllTraffic
    registrar:deployed:<endpoint name>   live since 2026-12-03T17:00:00Z variant Blue shadow:Canary
    registrar:deployed:<endpoint name>   retired 2026-12-04T09:30:00Z live since 2026-12-03T17:00:00Z variant AllTraffic

- The key is :data:`KEY_PREFIX` and the endpoint's name (1-63 characters of ``[a-zA-Z0-9-]``, so the key is at
  most 82 characters of the allowed ones).
- ``live since <time>``: when the endpoint first went ``InService`` serving this version (its
  ``LastModifiedTime`` as DescribeEndpoint read it then), in UTC to the second. An update of the endpoint that
  keeps serving the version keeps the time and rewrites only the variants.
- ``variant <name>...``: the variants whose model is the version, production variants first, then shadow
  variants as ``shadow:<name>``. Variant names have neither spaces nor colons
  (``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``); a list too long for the 256 characters of a value ends in
  ``+<n> more``.
- ``retired <time> live since ...``: the endpoint no longer serves the version since ``<time>`` (the
  ``LastModifiedTime`` of the endpoint update that replaced it); what followed is the record it closed.

Values use only letters, digits, spaces and ``:-+`` (the metadata rules: docs/sagemaker.md#metadata).
A value registrar did not write under such a key is not a record: :func:`parse_record` answers ``None``,
:func:`deployments_of` leaves it out, and the next deployment overwrites it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from registrar.package import MAX_METADATA_ENTRIES, ModelPackage

KEY_PREFIX = "registrar:deployed:"
SHADOW = "shadow:"
MAX_KEY = 128
MAX_VALUE = 256
_METADATA_EXTRA = frozenset("_.:/=+-@")
_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
_NAME = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"
_TOKEN = rf"(?:shadow:)?{_NAME}"
_NAMES = rf"(?:{_TOKEN}(?: {_TOKEN})*(?: \+\d+ more)?|\+\d+ more)"
_LIVE = rf"live since (?P<since>{_TIME})(?: variant (?P<variants>{_NAMES}))?"
_RECORD = re.compile(rf"(?:retired (?P<retired>{_TIME}) )?{_LIVE}")

State = Literal["live", "retired"]


class DeploymentRecord(BaseModel):
    """One endpoint a version serves, or served, as its metadata records it.

    Attributes
    ----------
    endpoint
        The endpoint's name.
    state
        ``live`` (the endpoint served the version when last recorded) or ``retired``.
    since
        When the version went live on the endpoint (UTC).
    retired
        When the endpoint stopped serving it (UTC); ``None`` while live.
    variants
        The production variants that served it.
    shadow_variants
        The shadow variants that served it.
    key, value
        The metadata entry, as written.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    state: State
    since: datetime
    retired: datetime | None = None
    variants: tuple[str, ...] = ()
    shadow_variants: tuple[str, ...] = ()
    key: str = Field(default="")
    value: str = Field(default="")

    @property
    def live(self) -> bool:
        return self.state == "live"


def deployments_of(package: ModelPackage) -> list[DeploymentRecord]:
    """Every deployment record on a version: live ones first, then retired ones; newest first within each.

    Parameters
    ----------
    package
        The version as DescribeModelPackage returned it.

    Returns
    -------
    list of DeploymentRecord
        One per ``registrar:deployed:<endpoint>`` entry whose value registrar wrote; others are left out.
    """
    return records_in(package.CustomerMetadataProperties)


def records_in(metadata: Mapping[str, str]) -> list[DeploymentRecord]:
    """:func:`deployments_of` for a bare ``CustomerMetadataProperties`` mapping."""
    found = [record for key, value in metadata.items() if (record := parse_record(key, value)) is not None]
    return sorted(found, key=lambda r: (r.state != "live", -(r.retired or r.since).timestamp(), r.endpoint))


def record_key(endpoint_name: str) -> str:
    """``registrar:deployed:<endpoint name>``, fitted to the metadata key rules."""
    return (KEY_PREFIX + _clean(endpoint_name))[:MAX_KEY]


def endpoint_of(key: str) -> str | None:
    """The endpoint a record key names, or ``None`` for any other key."""
    if not key.startswith(KEY_PREFIX) or len(key) == len(KEY_PREFIX):
        return None
    return key[len(KEY_PREFIX) :]


def parse_record(key: str, value: str) -> DeploymentRecord | None:
    """The record of one metadata entry, or ``None`` when the entry is not a deployment record registrar wrote."""
    endpoint = endpoint_of(key)
    match = _RECORD.fullmatch(value or "")
    if endpoint is None or match is None:
        return None
    retired = match.group("retired")
    names = _names(match.group("variants"))
    return DeploymentRecord(
        endpoint=endpoint,
        state="retired" if retired else "live",
        since=_parse_time(match.group("since")),
        retired=_parse_time(retired) if retired else None,
        variants=tuple(name for name in names if not name.startswith(SHADOW)),
        shadow_variants=tuple(name.removeprefix(SHADOW) for name in names if name.startswith(SHADOW)),
        key=key,
        value=value,
    )


def live_value(
    since: datetime, variants: Sequence[str], shadow_variants: Sequence[str] = (), *, limit: int = MAX_VALUE
) -> str:
    """The value of a live record (the module docstring's format), at most ``limit`` characters."""
    head = f"live since {format_time(since)}"
    words = [*(_clean(name) for name in variants), *(SHADOW + _clean(name) for name in shadow_variants)]
    return head + _listed(" variant", words, limit - len(head))


def retired_value(record: DeploymentRecord, at: datetime) -> str:
    """The value closing a live record: ``retired <time>`` before the live record it closes, fitted to 256."""
    head = f"retired {format_time(at)} "
    return head + live_value(record.since, record.variants, record.shadow_variants, limit=MAX_VALUE - len(head))


def has_room(metadata: Mapping[str, str], key: str) -> bool:
    """Whether ``key`` can be written: it is there already, or the package holds fewer than 50 entries."""
    return key in metadata or len(metadata) < MAX_METADATA_ENTRIES


def format_time(moment: datetime) -> str:
    """``2026-12-03T17:00:00Z``: UTC, to the second (naive times are UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _names(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(word for word in text.split(" ") if word != "more" and not word.startswith("+"))


def _listed(label: str, names: Sequence[str], room: int) -> str:
    """`` variant a b c`` within ``room`` characters; names that do not fit become `` +<n> more``."""
    if not names:
        return ""
    words = [name.replace(" ", "-") for name in names]
    for kept in range(len(words), -1, -1):
        more = len(words) - kept
        text = label + "".join(f" {word}" for word in words[:kept]) + (f" +{more} more" if more else "")
        if len(text) <= room:
            return text
    return ""


def _clean(text: str) -> str:
    kept = "".join(char if unicodedata.category(char)[0] in "LNZ" or char in _METADATA_EXTRA else " " for char in text)
    return " ".join(kept.split()) or "-"
