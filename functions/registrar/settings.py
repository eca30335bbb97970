"""The one settings model every handler parses its environment into, once, when it starts."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from registrar.errors import ConfigurationError

PREFIX = "REGISTRAR_"

# ``REGISTRAR_POLICY`` is the short name the CLI documents for ``REGISTRAR_POLICY_FILE``.
ALIASES: Final = {f"{PREFIX}POLICY": "policy_file"}

# REGISTRAR_* variables something other than Settings reads. Settings accepts and ignores them, so
# that a shell exporting one for that reader can still run the CLI, tests and handlers.
READ_ELSEWHERE: Final = {
    # infra/layer.py (BYTECODE_PYTHON_VARIABLE), at synth: the CPython 3.13 that compiles the layer's bytecode.
    f"{PREFIX}BYTECODE_PYTHON",
    # bench/ablation.py (POLICY_JSON): the deployed JSON policy its measures read, set in its own process.
    f"{PREFIX}BENCH_POLICY_JSON",
    # registrar.decisions.approver_mail.ApproverMailSettings: the approver mail function's own settings.
    f"{PREFIX}APPROVERS",
    f"{PREFIX}MAIL_FROM",
    f"{PREFIX}LINK_TTL_DAYS",
    # The decision page's URL: the approver mail function's links, and `registrar link` (tools/registrar_cli/link.py).
    f"{PREFIX}DECISION_PAGE_URL",
    # infra/app.py, at synth: the deployment's configuration file, instead of cdk.json's context.
    f"{PREFIX}CONFIG",
}

# SageMaker's group name rule, [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, widened by the two wildcards IAM and fnmatch share.
_GROUP = re.compile(r"[A-Za-z0-9*?][-A-Za-z0-9*?]{0,62}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ACCOUNT = re.compile(r"[0-9]{12}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)


def group_pattern(value: str) -> str:
    """Check a model package group name or pattern (``churn``, ``churn-*``); return it.

    Shared by :class:`Settings` (``REGISTRAR_MANAGED_GROUPS``) and cdk.json's ``model_package_groups``.

    Raises
    ------
    ValueError
        Naming the value and the rule it breaks.
    """
    if "[" in value or "]" in value:
        raise ValueError(
            f"{value!r} uses a [...] character class, which IAM resource ARNs cannot express: use * or ? instead"
        )
    if not _GROUP.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a model package group name or pattern: use 1-63 letters, digits and hyphens, "
            "with * or ? as wildcards (e.g. 'churn' or 'churn-*')"
        )
    if not re.search(r"[A-Za-z0-9]", value):
        raise ValueError(
            f"{value!r} matches every model package group: name the groups registrar may change (e.g. 'churn-*')"
        )
    return value


def report_location(value: str) -> str:
    """Check an ``s3://bucket[/prefix]`` report location; return it.

    Shared by :class:`Settings` (``REGISTRAR_REPORT_LOCATIONS``) and cdk.json's ``report_locations``.

    Raises
    ------
    ValueError
        Naming the value and the rule it breaks.
    """
    if not value.startswith("s3://"):
        raise ValueError(f"{value!r} is not an s3://bucket/prefix location")
    bucket, _, prefix = value.removeprefix("s3://").partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(
            f"{value!r}: {bucket!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, . and -)"
        )
    if "*" in prefix or "?" in prefix:
        raise ValueError(f"{value!r}: a location is a prefix, it cannot contain * or ?")
    if "$" in prefix:
        # IAM reads ${...} in a resource or condition as a policy variable, and the stack's Fn::Sub as a reference.
        raise ValueError(f"{value!r}: a location cannot contain '$' (IAM and CloudFormation read ${{...}})")
    if prefix != prefix.strip():
        raise ValueError(f"{value!r}: a location cannot begin or end with whitespace")
    return value


def account_id(value: str) -> str:
    """Check an AWS account id (twelve digits); return it.

    Raises
    ------
    ValueError
        Naming the value and the rule it breaks.
    """
    if not _ACCOUNT.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS account id (twelve digits)")
    return value


def role_name(value: str) -> str:
    """Check an IAM role name (1-64 of letters, digits and ``+=,.@_-``); return it.

    Raises
    ------
    ValueError
        Naming the value and the rule it breaks.
    """
    if not _ROLE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an IAM role name (1-64 letters, digits and +=,.@_-)")
    return value


GroupPattern = Annotated[str, AfterValidator(group_pattern)]
ReportLocation = Annotated[str, AfterValidator(report_location)]
AccountId = Annotated[str, AfterValidator(account_id)]
RoleName = Annotated[str, AfterValidator(role_name)]


class WorkloadAccount(BaseModel):
    """Where a workload account keeps the evidence registrar may read in it, through its evidence role.

    Attributes
    ----------
    report_locations
        ``s3://bucket/prefix`` locations of that account's evaluation reports.
    neo_output_locations
        ``s3://bucket/prefix`` locations its compilation jobs must write compiled models to, to be attached.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    report_locations: list[ReportLocation] = Field(min_length=1)
    neo_output_locations: list[ReportLocation] = Field(min_length=1)


def _bucket(location: str) -> str:
    return location.removeprefix("s3://").partition("/")[0]


def _one_account_per_bucket(workloads: dict[str, WorkloadAccount], info: ValidationInfo) -> dict[str, WorkloadAccount]:
    """The workload accounts, once the registry account is set for them and no bucket is two accounts'.

    A bucket listed under two accounts would be read with whichever account's role matched first.
    """
    if not workloads:
        return workloads
    if info.data.get("registry_account") is None:
        raise ValueError(f"needs {PREFIX}REGISTRY_ACCOUNT: the account whose model package groups registrar manages")
    owners: dict[str, str] = {}
    own = [*info.data.get("report_locations", []), *info.data.get("neo_output_locations", [])]
    listed = [
        ("the registry account", own),
        *((f"account {a}", [*w.report_locations, *w.neo_output_locations]) for a, w in workloads.items()),
    ]
    for account, locations in listed:
        for bucket in map(_bucket, locations):
            other = owners.setdefault(bucket, account)
            if other != account:
                raise ValueError(
                    f"bucket {bucket} is listed for {other} and for {account}: give each bucket one account"
                )
    return workloads


def _json_object(value: object) -> object:
    if isinstance(value, str):
        import json  # here, not at the top: only a deployment of several accounts sets this variable

        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError(f"is not JSON ({error})") from None
    return value


def _split(value: object) -> object:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
        if "" in items:
            # An empty list means "no restriction": only an unset variable may say so.
            raise ValueError(
                "has an empty entry: separate the entries with single commas (unset the variable for no restriction)"
                if value.strip()
                else "cannot be empty: unset the variable for no restriction"
            )
        return items
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
        DynamoDB table for idempotency records and the sweeper's watermark; unset, there are no
        idempotency records and the watermark lives in memory (local runs).
    event_bus_name
        The bus the sweeper publishes Compilation Job State Change events on.
    report_locations
        ``s3://bucket/prefix`` locations evaluation reports may be read from; empty allows any.
    neo_output_locations
        ``s3://bucket/prefix`` locations a compiled model must lie in to be attached; empty allows any
        (the stack always sets it).
    managed_groups
        Model package group names or fnmatch patterns registrar may act on; empty allows any.
    sweep_lookback_minutes
        How far back the first sweep looks when no watermark exists yet.
    signing_secret
        The Secrets Manager secret holding the decision links' signing keys (the decision page and the link
        commands); ``registrar.decisions.links.DEFAULT_SIGNING_SECRET`` by default (a test holds the two equal).
    registry_account
        The account whose model package groups registrar manages (the stack sets its own); a version of
        any other account is refused. Unset (a local run), a version must be in the account of the event
        or job that names it.
    workload_accounts
        Accounts whose forwarded events registrar accepts, each with where its evidence lies, as a JSON
        object ``{"111111111111": {"report_locations": [...], "neo_output_locations": [...]}}``; their
        jobs and reports are read through :attr:`evidence_role` in that account. Empty: one account.
    evidence_role
        The name of the role registrar assumes in a workload account to read its evidence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_parameter: str | None = Field(default=None, min_length=1)
    policy_file: str | None = Field(default=None, min_length=1)
    table_name: str | None = Field(default=None, min_length=1)
    event_bus_name: str = Field(default="default", min_length=1)
    report_locations: list[ReportLocation] = Field(default_factory=list)
    neo_output_locations: list[ReportLocation] = Field(default_factory=list)
    managed_groups: list[GroupPattern] = Field(default_factory=list)
    sweep_lookback_minutes: int = Field(default=60, ge=1, le=60 * 24 * 14)
    policy_cache_seconds: int = Field(default=300, ge=0, le=3600)
    signing_secret: str = Field(default="registrar/decision-links", min_length=1)
    registry_account: AccountId | None = None
    workload_accounts: dict[AccountId, WorkloadAccount] = Field(default_factory=dict)
    evidence_role: RoleName = "registrar-evidence-reader"

    _split_lists = field_validator("report_locations", "neo_output_locations", "managed_groups", mode="before")(_split)
    _parse_accounts = field_validator("workload_accounts", mode="before")(_json_object)
    _check_accounts = field_validator("workload_accounts")(_one_account_per_bucket)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse ``REGISTRAR_*`` variables (``REGISTRAR_POLICY`` is accepted for ``policy_file``).

        A ``REGISTRAR_*`` variable that is neither a setting, nor an alias, nor one of
        :data:`READ_ELSEWHERE` is refused: a misspelt restriction must not silently lift it.

        Raises
        ------
        ConfigurationError
            Naming the variable and the rule it breaks.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for key, value in env.items():
            if key.startswith(PREFIX) and key not in READ_ELSEWHERE and key not in ALIASES:
                values[key[len(PREFIX) :].lower()] = value
        for alias, field in ALIASES.items():
            if alias in env:
                values.setdefault(field, env[alias])
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(_problem(e) for e in error.errors(include_url=False))
            raise ConfigurationError(f"invalid settings: {problems}") from None


def variable(field: str) -> str:
    """The environment variable a settings field is read from."""
    return f"{PREFIX}{field.upper()}"


def _problem(error: Any) -> str:
    name = variable(str(error["loc"][0]))
    if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
        import difflib  # here, not at the top: every cold start imports this module, only a typo needs difflib

        known = sorted([*map(variable, Settings.model_fields), *ALIASES])
        close = difflib.get_close_matches(name.removeprefix(PREFIX), [k.removeprefix(PREFIX) for k in known], n=1)
        hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
        return f"{name}: not a registrar setting{hint}; the settings are {', '.join(known)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_too_short":
        message = "cannot be empty: unset the variable instead"
    for part in [part for part in error["loc"][1:] if part != "[key]"]:
        # A list's index, or the path into a JSON object (REGISTRAR_WORKLOAD_ACCOUNTS.111111111111.report_locations).
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{name}: {message}"


@functools.cache
def deployed_settings() -> Settings:
    """The settings of a Lambda container: its ``REGISTRAR_*`` environment, parsed once, when first needed."""
    return Settings.from_environment()
