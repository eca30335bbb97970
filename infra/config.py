"""The deployment's configuration: the ``registrar`` key of cdk.json's context, validated at synth."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from infra.names import CONTEXT_KEY, ENV_REPORT_LOCATIONS
from registrar.approval.policy import deployable_json
from registrar.decisions.contract import DecisionVerdict
from registrar.errors import ConfigurationError, PolicyError
from registrar.settings import GroupPattern, account_id, report_location
from registrar.settings import role_name as iam_role_name

# The signing secret's default name (registrar.decisions.links.DEFAULT_SIGNING_SECRET; a test holds the two equal).
# Spelled here so that reading cdk.json never imports the page's runtime.
DEFAULT_SIGNING_SECRET = "registrar/decision-links"
# The verdicts approvers may be e-mailed a decision link for: a version a person must decide (Held), or one
# registrar rejected and a person may overrule (Rejected). The page decides versions in PendingManualApproval.
ApproverVerdict = Literal["Held", "Rejected"]
DEFAULT_APPROVER_VERDICTS: tuple[ApproverVerdict, ...] = ("Held",)
# A decision link lives at most a month: long enough for a holiday, short enough that a forwarded mail goes stale.
MIN_LINK_TTL_DAYS, DEFAULT_LINK_TTL_DAYS, MAX_LINK_TTL_DAYS = 1, 7, 30
# The local part of the From address when the sender is a domain identity.
SENDER_LOCAL_PART = "registrar"

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# An SSM String parameter holds 4 KB in the standard tier and 8 KB in the advanced tier.
STANDARD_PARAMETER_BYTES = 4096
ADVANCED_PARAMETER_BYTES = 8192

_EMAIL = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# An SES domain identity: a DNS name of at least two labels (SES verifies it through DNS records).
_DOMAIN = re.compile(r"(?=.{4,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
# Secrets Manager's rule for a secret name: 1 to 512 of ASCII letters, digits and /_+=.@- (so no ARN, which has ':').
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")

# Who hears of a decision unless cdk.json says otherwise: what a person must act on or look into.
DEFAULT_NOTIFY_VERDICTS: tuple[DecisionVerdict, ...] = ("Held", "Rejected", "Failed")

# The role registrar assumes in each workload account to read its evidence, unless accounts.evidence_role says so.
DEFAULT_EVIDENCE_ROLE = "registrar-evidence-reader"
# A commercial, China, GovCloud or ISO region name: us-east-1, cn-north-1, us-gov-west-1, us-isob-east-1.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
# A workload's name becomes part of its forwarder stack's name (RegistrarForwarder-<name>): CloudFormation allows
# letters, digits and hyphens there.
_WORKLOAD_NAME = re.compile(r"[A-Za-z0-9](-?[A-Za-z0-9])*")
MAX_WORKLOAD_NAME = 64
# Lambda holds at most 4 KB of environment variables per function; the workloads' locations share them with the rest.
MAX_WORKLOAD_SETTINGS_BYTES = 2560


def _report_location(value: str) -> str:
    # The functions' rule (registrar.settings.report_location), and no ',': it separates the locations
    # in the variable the functions read them from.
    if value.startswith("s3://") and "," in value:
        raise ValueError(
            f"{value!r}: a report location cannot contain ',', which separates the locations the functions receive "
            f"in {ENV_REPORT_LOCATIONS}"
        )
    return report_location(value)


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _secret_name(value: str) -> str:
    if not _SECRET_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Secrets Manager secret name (1 to 512 letters, digits and /_+=.@-; "
            "the name, not an ARN)"
        )
    return value


def _sender(value: str) -> str:
    # An SES identity is an address or a domain; SES sends "From" a verified one (or an address of a verified domain).
    if not _EMAIL.fullmatch(value) and not _DOMAIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an SES identity: give the verified e-mail address or domain the e-mails come from"
        )
    return value


def _account_id_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"{value} is a number: give the account id as a string of 12 digits (a number loses leading zeros)"
        )
    return value


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS region name (e.g. 'eu-west-1')")
    return value


def _organization_id(value: str) -> str:
    if not _ORGANIZATION_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an AWS Organizations id: 'o-' and 10 to 32 lowercase letters or digits (the "
            "organization's id, not its root's 'r-' id or an account id)"
        )
    return value


def _workload_name(value: str) -> str:
    if len(value) > MAX_WORKLOAD_NAME or not _WORKLOAD_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} cannot name a forwarder stack (RegistrarForwarder-<name>): use 1 to {MAX_WORKLOAD_NAME} "
            "letters, digits and single hyphens, beginning and ending with a letter or digit"
        )
    return value


ReportLocation = Annotated[str, AfterValidator(_report_location)]
AccountId = Annotated[str, BeforeValidator(_account_id_text), AfterValidator(account_id)]
Email = Annotated[str, AfterValidator(_email)]
Sender = Annotated[str, AfterValidator(_sender)]
SecretName = Annotated[str, AfterValidator(_secret_name)]


def _recordable_as_decider(address: str) -> None:
    """An approver's address is recorded as who decided (``person:<address>``): it must be a valid decider's name."""
    from pydantic import TypeAdapter
    from pydantic import ValidationError as InvalidName

    from registrar.rollback import PersonName

    try:
        TypeAdapter(PersonName).validate_python(address)
    except InvalidName as error:
        rule = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(
            f"{address!r} cannot be recorded as who decided ({rule}): use an address of at most 64 letters, "
            "digits and _.@+=-"
        ) from None


def _listed_once(values: list[str], what: str, *, key: Any = str) -> list[str]:
    seen: set[Any] = set()
    for value in values:
        if key(value) in seen:
            raise ValueError(f"{value!r} is listed twice: each {what} may appear once")
        seen.add(key(value))
    return values


class NotifyConfig(BaseModel):
    """Who hears of registrar's decisions: ``context.registrar.notify`` (docs/deployment.md, Notifications).

    Attributes
    ----------
    email
        Addresses subscribed (each confirms by e-mail) to the decision topic; unique, case-insensitively.
    chat
        The name of an existing Secrets Manager secret whose SecretString is a Slack or Microsoft Teams
        incoming-webhook URL; EventBridge posts each decision to it through an API destination.
    verdicts
        The verdicts (:data:`registrar.decisions.contract.DecisionVerdict`) that notify; by default
        :data:`DEFAULT_NOTIFY_VERDICTS`: what a person must act on (Held), or may want to look into
        (Rejected, and Failed: a Neo compilation that failed or stopped).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: list[Email] = Field(default_factory=list)
    chat: SecretName | None = None
    verdicts: list[DecisionVerdict] = Field(default_factory=lambda: list(DEFAULT_NOTIFY_VERDICTS), min_length=1)

    @field_validator("email")
    @classmethod
    def _one_subscription_per_address(cls, values: list[str]) -> list[str]:
        # The domain of an address is case-insensitive, and SNS would subscribe the same mailbox twice.
        return _listed_once(values, "address", key=str.lower)

    @field_validator("verdicts")
    @classmethod
    def _verdicts_once(cls, values: list[str]) -> list[str]:
        return _listed_once(values, "verdict")

    @model_validator(mode="after")
    def _someone_to_notify(self) -> NotifyConfig:
        if not self.email and self.chat is None:
            raise ValueError("names nobody to notify: give email addresses, a chat webhook secret, or leave notify out")
        return self


class WorkloadAccount(BaseModel):
    """One workload account: where models are trained, evaluated and compiled, and whose evidence registrar reads.

    Attributes
    ----------
    name
        Names the account's forwarder stack (``RegistrarForwarder-<name>``): letters, digits and single hyphens.
    account
        The account's 12-digit id.
    report_locations
        ``s3://bucket/prefix`` locations in that account evaluation reports may be read from, through the
        evidence role (the same rules as the top-level ``report_locations``).
    neo_output_locations
        ``s3://bucket/prefix`` locations where that account's Neo compilations write compiled models.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, AfterValidator(_workload_name)]
    account: AccountId
    report_locations: list[ReportLocation] = Field(min_length=1)
    neo_output_locations: list[ReportLocation] = Field(min_length=1)

    @field_validator("report_locations", "neo_output_locations")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class AccountsConfig(BaseModel):
    """Several accounts: registrar in the registry account, the workload accounts forwarding to it.

    ``context.registrar.accounts`` (docs/deployment.md, "Several accounts"). Absent, registrar runs in the
    one account it is deployed to.

    Attributes
    ----------
    registry
        The account holding the model registry, where the registrar stack is deployed.
    region
        The region of every stack: the registry's and each workload's forwarder.
    organization_id
        An AWS Organizations id (``o-...``): the registry's bus then also requires ``aws:PrincipalOrgID``
        of the forwarded events' senders. It narrows the account list, never replaces it.
    evidence_role
        The name of the role each forwarder stack creates for registrar to read evidence with.
    workloads
        The workload accounts (:class:`WorkloadAccount`), at least one; each gets a forwarder stack.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    registry: AccountId
    region: Annotated[str, AfterValidator(_region)]
    organization_id: Annotated[str, AfterValidator(_organization_id)] | None = None
    evidence_role: Annotated[str, AfterValidator(iam_role_name)] = DEFAULT_EVIDENCE_ROLE
    workloads: list[WorkloadAccount] = Field(min_length=1)

    @field_validator("workloads")
    @classmethod
    def _distinct_workloads(cls, workloads: list[WorkloadAccount], info: ValidationInfo) -> list[WorkloadAccount]:
        registry = info.data.get("registry")
        accounts: set[str] = set()
        names: set[str] = set()
        for number, workload in enumerate(workloads):
            where = f"[{number}] ({workload.name})"
            if workload.account == registry:
                raise ValueError(
                    f"{where}: the account {workload.account} is the registry account: list only the other accounts as "
                    "workloads"
                )
            if workload.account in accounts:
                raise ValueError(
                    f"{where}: the account {workload.account} is listed twice: each account may appear once"
                )
            # Case-insensitively: CloudFormation stack names are case-sensitive, but people are not.
            if workload.name.lower() in names:
                raise ValueError(f"{where}: the name {workload.name!r} is listed twice: each name may appear once")
            accounts.add(workload.account)
            names.add(workload.name.lower())
        return workloads

    @model_validator(mode="after")
    def _settings_fit(self) -> AccountsConfig:
        size = len(self.workload_settings.encode("utf-8"))
        if size > MAX_WORKLOAD_SETTINGS_BYTES:
            raise ValueError(
                f"workloads: their locations come to {size} bytes of JSON, more than the "
                f"{MAX_WORKLOAD_SETTINGS_BYTES} the functions' environment leaves for them (Lambda holds 4 KB in "
                "all): use fewer or shorter locations"
            )
        return self

    @property
    def workload_ids(self) -> list[str]:
        """The workload accounts' ids, in the configured order."""
        return [workload.account for workload in self.workloads]

    @property
    def workload_settings(self) -> str:
        """What the functions receive of the workloads: compact JSON, account id → its locations.

        ``{"111111111111": {"report_locations": [...], "neo_output_locations": [...]}, ...}``
        """
        return json.dumps(
            {
                workload.account: {
                    "report_locations": list(workload.report_locations),
                    "neo_output_locations": list(workload.neo_output_locations),
                }
                for workload in self.workloads
            },
            separators=(",", ":"),
        )


def split_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → ``("bucket", "prefix")``; the prefix may be empty."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def covers(managed: str, pattern: str) -> bool:
    """Whether every group the fnmatch ``pattern`` matches is matched by the managed pattern ``managed``.

    ``pattern`` is read as text that ``managed`` must match, its own wildcards as characters: a ``*`` of
    ``managed`` may stand for any of them, a ``?`` for one character other than ``*`` (which may stand for
    many). So ``churn-eu-*`` is covered by ``churn-*``, ``churn-*`` is not covered by ``churn-?``. Case is
    ignored, as registrar matches groups (:func:`registrar.groups.matches`).
    """
    regex = "".join(".*" if c == "*" else "[^*]" if c == "?" else re.escape(c) for c in managed.lower())
    return re.fullmatch(regex, pattern.lower(), flags=re.DOTALL) is not None


def _check_policy(path: Path) -> str:
    """Read and validate the policy file with the model the functions use; return the JSON text to deploy."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(f"cannot read the policy file {path}: {reason}") from None
    if not text.strip():
        raise ValueError(f"the policy file {path} is empty")
    try:
        deployed = deployable_json(path)
    except PolicyError as error:
        raise ValueError(f"the policy file {path} is not a valid policy: {error}") from None
    size = len(deployed.encode("utf-8"))
    if size > ADVANCED_PARAMETER_BYTES:
        raise ValueError(
            f"the policy file {path} is {size} bytes as compact JSON; the SSM parameter that delivers it "
            f"holds at most {ADVANCED_PARAMETER_BYTES} bytes"
        )
    return deployed


class RegistrarConfig(BaseModel):
    """What one deployment of registrar acts on, read from cdk.json's ``context.registrar``.

    Attributes
    ----------
    model_package_groups
        Model package group names or fnmatch patterns (``churn-*``) registrar may update; IAM
        scopes UpdateModelPackage to exactly these.
    report_locations
        ``s3://bucket/prefix`` locations evaluation reports may be read from; IAM scopes
        s3:GetObject, and the s3:prefix of s3:ListBucket, to exactly these. No ``,``: the functions
        receive them joined with commas.
    neo_output_locations
        ``s3://bucket/prefix`` locations where Neo writes compiled models: a compilation job's model is
        attached to a version only when it lies in one of them (a job writing elsewhere is refused).
        Required: a deployment always restricts it. No ``,``, as for report locations.
    policy_file
        The approval policy, relative to the project root; validated at synth and delivered to
        the functions as compact JSON in an SSM parameter.
    sweep_rate_minutes
        How often the sweeper looks for finished Neo compilation jobs.
    alarm_email
        Where alarms are sent; without it the alarm topic has no subscriber.
    max_concurrency
        The most concurrent invocations each queue's event source mapping starts, which keeps a
        burst of events from throttling SageMaker's API.
    tracing
        X-Ray active tracing with Powertools Tracer (the default). Off, the functions neither send
        traces nor import the X-Ray SDK: about 185 ms less CPU per cold start (docs/performance.md).
    notify
        Who hears of decisions (:class:`NotifyConfig`): e-mail through an SNS topic, chat through an
        EventBridge API destination. Absent, nothing is deployed for it (the functions still publish
        their ``Registrar Decision`` events).
    approvers
        Who decides held versions from a personal link: a list of e-mail addresses (for every managed
        group), or a mapping of group name or fnmatch pattern (each within ``model_package_groups``) to
        addresses. Set, the stack deploys the decision page, its signing secret and the approver e-mails
        (docs/deployment.md, "Approvers and the decision page").
    sender
        The SES identity the approver e-mails come from: a verified address, or a verified domain (the
        e-mails then come from ``registrar@<domain>``). Required with ``approvers``.
    link_ttl_days
        How long a decision link stays valid (1 to 30 days; 7 by default).
    approvers_notified_of
        The verdicts that e-mail the approvers a link: ``Held`` (the default) and, optionally, ``Rejected``.
    signing_secret
        The name of the Secrets Manager secret the stack creates for the links' signing key
        (``registrar/decision-links`` by default).
    accounts
        Several accounts (:class:`AccountsConfig`): the registry account the stack is deployed to, and the
        workload accounts that forward their events to it. Absent, one account: the one deployed to.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_package_groups: list[GroupPattern] = Field(min_length=1)
    report_locations: list[ReportLocation] = Field(min_length=1)
    neo_output_locations: list[ReportLocation] = Field(min_length=1)
    policy_file: str = "events/policy.yaml"
    sweep_rate_minutes: int = Field(default=5, ge=1, le=480)
    alarm_email: Email | None = None
    max_concurrency: int = Field(default=2, ge=2, le=1000)
    tracing: bool = True
    notify: NotifyConfig | None = None
    approvers: list[Email] | dict[GroupPattern, list[Email]] | None = Field(default=None, union_mode="left_to_right")
    sender: Sender | None = None
    link_ttl_days: int = Field(default=DEFAULT_LINK_TTL_DAYS, ge=MIN_LINK_TTL_DAYS, le=MAX_LINK_TTL_DAYS)
    approvers_notified_of: list[ApproverVerdict] = Field(
        default_factory=lambda: list(DEFAULT_APPROVER_VERDICTS), min_length=1
    )
    signing_secret: SecretName = DEFAULT_SIGNING_SECRET
    accounts: AccountsConfig | None = None

    _root: Path = PrivateAttr(default=PROJECT_ROOT)
    _policy_text: str = PrivateAttr(default="")

    @field_validator("model_package_groups", "report_locations", "neo_output_locations")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))

    @field_validator("policy_file")
    @classmethod
    def _policy_is_valid(cls, value: str, info: ValidationInfo) -> str:
        _check_policy(_root(info.context) / value)
        return value

    @field_validator("approvers", mode="before")
    @classmethod
    def _approvers_shape(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, list | dict):
            raise ValueError(
                "must be a list of e-mail addresses, or a mapping of group pattern to a list of e-mail addresses"
            )
        if isinstance(value, dict) and any(not isinstance(v, list) for v in value.values()):
            raise ValueError("each group pattern must map to a list of e-mail addresses")
        return value

    @field_validator("approvers")
    @classmethod
    def _approvers_named(
        cls, value: list[str] | dict[str, list[str]] | None
    ) -> list[str] | dict[str, list[str]] | None:
        everyone = value if isinstance(value, list) else [a for group in (value or {}).values() for a in group]
        for address in everyone:
            _recordable_as_decider(address)
        if isinstance(value, list):
            if not value:
                raise ValueError("names no approver: give e-mail addresses, or leave approvers out")
            return _listed_once(value, "approver", key=str.lower)
        if isinstance(value, dict):
            if not value:
                raise ValueError("names no group: map group patterns to e-mail addresses, or leave approvers out")
            for pattern, addresses in value.items():
                if not addresses:
                    raise ValueError(f"{pattern!r} names no approver: give at least one e-mail address")
                _listed_once(addresses, f"approver of {pattern!r}", key=str.lower)
        return value

    @field_validator("approvers_notified_of")
    @classmethod
    def _approver_verdicts_once(cls, values: list[str]) -> list[str]:
        return _listed_once(values, "verdict")

    @model_validator(mode="after")
    def _approvers_are_reachable(self) -> RegistrarConfig:
        if self.approvers is None:
            return self
        if self.sender is None:
            raise ValueError(
                "sender: required when approvers are set: name the SES identity (a verified address or domain) "
                "the approver e-mails come from"
            )
        if isinstance(self.approvers, dict):
            for pattern in self.approvers:
                if not any(covers(managed, pattern) for managed in self.model_package_groups):
                    raise ValueError(
                        f"approvers: the group pattern {pattern!r} is not within model_package_groups "
                        f"({', '.join(self.model_package_groups)}): approvers decide managed versions only"
                    )
        return self

    @model_validator(mode="after")
    def _one_account_per_bucket(self) -> RegistrarConfig:
        # A bucket is one account's: listed under two, which role reads it (the registry's own, or which workload's
        # evidence role) would depend on the order the locations are looked in.
        if self.accounts is None:
            return self
        listed: list[tuple[str, list[str]]] = [
            (
                f"the registry account {self.accounts.registry} (report_locations, neo_output_locations)",
                [*self.report_locations, *self.neo_output_locations],
            ),
            *(
                (
                    f"workload {workload.name!r} ({workload.account}, accounts.workloads[{number}])",
                    [*workload.report_locations, *workload.neo_output_locations],
                )
                for number, workload in enumerate(self.accounts.workloads)
            ),
        ]
        owners: dict[str, str] = {}
        for owner, locations in listed:
            for location in locations:
                bucket, _ = split_location(location)
                first = owners.setdefault(bucket, owner)
                if first != owner:
                    raise ValueError(
                        f"the bucket {bucket!r} is in the locations of two accounts, {first} and {owner}: a bucket "
                        "belongs to one account, and which role reads it would depend on the order the locations are "
                        "looked in; list each bucket under the account that owns it only"
                    )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._root = _root(context)
        self._policy_text = deployable_json(self.policy_path)

    @property
    def policy_path(self) -> Path:
        """The policy file's absolute path."""
        return self._root / self.policy_file

    @property
    def approvers_by_group(self) -> dict[str, list[str]]:
        """Group pattern → approvers' addresses; a plain list applies to every managed group."""
        if self.approvers is None:
            return {}
        if isinstance(self.approvers, list):
            return {pattern: list(self.approvers) for pattern in self.model_package_groups}
        return {pattern: list(addresses) for pattern, addresses in self.approvers.items()}

    @property
    def from_address(self) -> str | None:
        """The approver e-mails' From address: ``sender`` if it is an address, else ``registrar@<sender>``."""
        if self.sender is None:
            return None
        return self.sender if "@" in self.sender else f"{SENDER_LOCAL_PART}@{self.sender}"

    @property
    def policy_text(self) -> str:
        """The validated policy as compact JSON (:func:`deployable_json`): the SSM parameter's value."""
        return self._policy_text


def _root(context: Any) -> Path:
    if isinstance(context, dict) and context.get("root") is not None:
        return Path(context["root"])
    return PROJECT_ROOT


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, str) and "[" in part:
            continue  # the member of a union that was tried (approvers: list[...] or dict[...]), not a key
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or CONTEXT_KEY


# The models of the nested objects, by their keys in RegistrarConfig (list positions left out): what an unknown key
# there is checked against.
_NESTED: dict[tuple[str, ...], type[BaseModel]] = {
    ("notify",): NotifyConfig,
    ("accounts",): AccountsConfig,
    ("accounts", "workloads"): WorkloadAccount,
}


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        where = tuple(part for part in error["loc"][:-1] if isinstance(part, str))
        model = _NESTED.get(where, RegistrarConfig)
        return f"unknown key; the keys are {', '.join(model.model_fields)}"
    return str(error["msg"]).removeprefix("Value error, ")


def _other_shape(error: Any) -> bool:
    # approvers is a list or a mapping: the shape it is not always fails too, which says nothing.
    loc = error["loc"]
    return error["type"] in ("list_type", "dict_type") and len(loc) == 2 and "[" in str(loc[1])


def load_config(context: Any, *, root: Path = PROJECT_ROOT, source: str | None = None) -> RegistrarConfig:
    """Validate the ``registrar`` context value into a :class:`RegistrarConfig`.

    Parameters
    ----------
    context
        ``app.node.try_get_context("registrar")``: a mapping, or its JSON text when given with ``-c``.
    root
        The directory ``policy_file`` is relative to.
    source
        Where the context came from, for the messages (``REGISTRAR_CONFIG=FILE``); cdk.json's by default.

    Raises
    ------
    ConfigurationError
        Listing every problem, each naming the key and the rule it breaks.
    """
    if context is None:
        raise ConfigurationError(
            f'cdk.json has no "{CONTEXT_KEY}" context: add model_package_groups, report_locations and '
            "neo_output_locations (see docs/deployment.md)"
        )
    if isinstance(context, str):
        try:
            context = json.loads(context)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f'the "{CONTEXT_KEY}" context is not JSON: {error}') from None
    try:
        return RegistrarConfig.model_validate(context, context={"root": root})
    except ValidationError as error:
        problems = "\n".join(
            f"  - {_where(e['loc'])}: {_message(e)}" for e in error.errors(include_url=False) if not _other_shape(e)
        )
        where = source or "cdk.json context"
        raise ConfigurationError(f'invalid "{CONTEXT_KEY}" configuration in {where}:\n{problems}') from None


CONFIG_FILE_VARIABLE = "REGISTRAR_CONFIG"


def context_from_file(path: str | Path) -> dict[str, Any]:
    """The ``registrar`` context read from a JSON file (``REGISTRAR_CONFIG=FILE make synth``), not yet validated.

    The file holds the same keys as cdk.json's ``registrar`` context; :func:`load_config` validates it the
    same way, and its messages name the file.

    Raises
    ------
    ConfigurationError
        The file cannot be read, is not JSON, or is not a JSON object.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{CONFIG_FILE_VARIABLE}={path}: cannot be read: {error.strerror}") from None
    try:
        context = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{CONFIG_FILE_VARIABLE}={path}: not JSON: {error}") from None
    if not isinstance(context, dict):
        raise ConfigurationError(
            f"{CONFIG_FILE_VARIABLE}={path}: must be a JSON object with the keys of cdk.json's "
            f'"{CONTEXT_KEY}" context, got {type(context).__name__}'
        )
    return context
