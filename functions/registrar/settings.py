"""The one settings model every handler parses its environment into, once, when it starts."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from registrar.errors import ConfigurationError

PREFIX = "REGISTRAR_"


def _split(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseModel):
    """registrar's settings, read from ``REGISTRAR_*`` environment variables.

    Attributes
    ----------
    policy_parameter
        SSM parameter holding the approval policy (deployed); read with a cache.
    policy_file
        A local policy file (CLI, demo, tests); takes precedence over the parameter.
    table_name
        DynamoDB table for idempotency records and the sweeper's watermark.
    event_bus_name
        The bus the sweeper publishes Compilation Job State Change events on.
    report_locations
        ``s3://bucket/prefix`` locations evaluation reports may be read from; empty allows any.
    managed_groups
        Model package group names or fnmatch patterns registrar may act on; empty allows any.
    sweep_lookback_minutes
        How far back the first sweep looks when no watermark exists yet.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    policy_parameter: str | None = None
    policy_file: str | None = None
    table_name: str | None = None
    event_bus_name: str = "default"
    report_locations: list[str] = Field(default_factory=list)
    managed_groups: list[str] = Field(default_factory=list)
    sweep_lookback_minutes: int = Field(default=60, ge=1, le=60 * 24 * 14)
    policy_cache_seconds: int = Field(default=300, ge=0, le=3600)

    _split_lists = field_validator("report_locations", "managed_groups", mode="before")(_split)

    @field_validator("report_locations")
    @classmethod
    def _s3_uris(cls, locations: list[str]) -> list[str]:
        for location in locations:
            if not location.startswith("s3://") or len(location) <= len("s3://"):
                raise ValueError(f"{location!r} is not an s3://bucket[/prefix] location")
        return locations

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse ``REGISTRAR_*`` variables (``REGISTRAR_POLICY`` is accepted for ``policy_file``).

        Raises
        ------
        ConfigurationError
            Naming the variable and the rule it breaks.
        """
        env = os.environ if environ is None else environ
        values = {key[len(PREFIX) :].lower(): value for key, value in env.items() if key.startswith(PREFIX)}
        if "policy" in values:
            values.setdefault("policy_file", values.pop("policy"))
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{PREFIX}{'_'.join(str(p) for p in e['loc'][:1]).upper()}: {e['msg']}" for e in error.errors()
            )
            raise ConfigurationError(f"invalid settings: {problems}") from None
