"""history: what became of one model package version, read from the version itself. Pure, no AWS.

SageMaker keeps no history of a version's approval status, so the story of a version is what
registrar (and the people deciding through it) wrote on it: ``ApprovalDescription`` and the
``registrar:`` entries of ``CustomerMetadataProperties``. This module reads them, and states the
conventions every writer of a decision shares (:data:`PERSON_PREFIX`, :data:`DECIDED_AT_KEY`,
:data:`ROLLBACK_KEY`), so that who decided reads the same whoever wrote it.

Who decided the current status (:func:`decider`), from ``registrar:verdict`` and ``registrar:decided-by``:

- ``registrar``: the verdict is the status and decided-by is ``rule <n>: <groups>`` (the approval flow;
  ``registrar:policy`` is the policy's digest);
- ``person``: the verdict is the status and decided-by is ``person:NAME`` (:data:`PERSON_PREFIX`): NAME
  decided through registrar (``registrar rollback``, the person-decision command and page);
- ``outside``: the status is not the recorded verdict (a ``Held`` verdict leaves PendingManualApproval),
  so it was changed outside registrar since (the console, another tool); or the version is Approved or
  Rejected with no verdict recorded at all;
- ``none``: PendingManualApproval, no verdict recorded: nobody has decided yet.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from registrar.approval.decide import (
    CHAMPION_KEY,
    CHAMPION_METRIC_KEY_PREFIX,
    DECIDED_BY_KEY,
    EVIDENCE_KEY,
    METRIC_KEY_PREFIX,
    POLICY_KEY,
    VERDICT_KEY,
)
from registrar.deployments.record import deployments_of
from registrar.events import parse_timestamp
from registrar.neo.decide import RECORD_KEY_PREFIX as NEO_KEY_PREFIX
from registrar.package import ModelPackage

# ``registrar:decided-by`` of a decision a person made through registrar: ``person:<name>``. Every writer of a
# person's decision (``registrar rollback``; the person-decision command and page) writes it with
# :func:`person_decided_by`, and :func:`story` reads it back as a person's decision.
PERSON_PREFIX = "person:"
# When registrar (or a person through it) decided: ISO-8601 UTC to the second, ``2026-12-01T09:30:00Z``.
DECIDED_AT_KEY = "registrar:decided-at"
# What a rollback did to the version: ``to v<N> at <time>`` on the version rolled back (now Rejected),
# ``from v<N> at <time>`` on the version it restored (now Approved); both carry the same time (:class:`RollbackRecord`).
ROLLBACK_KEY = "registrar:rollback"

DeciderKind = Literal["registrar", "person", "outside", "none"]
_DECIDED = ("Approved", "Rejected")
_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def _group_name(value: str) -> str:
    if not _GROUP_NAME.fullmatch(value):
        raise ValueError(
            "not a model package group name: use 1-63 letters, digits and hyphens, starting and ending "
            "with a letter or digit (pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})"
        )
    return value


GroupName = Annotated[str, AfterValidator(_group_name)]
"""A model package group's name, as SageMaker's ModelPackageGroupName allows it."""


def person_decided_by(name: str) -> str:
    """The ``registrar:decided-by`` value of a decision ``name`` made: ``person:<name>``."""
    return f"{PERSON_PREFIX}{name}"


def format_time(moment: datetime) -> str:
    """A time as the ``registrar:`` records write it: ``2026-12-01T09:30:00Z`` (UTC, to the second)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ROLLBACK_RECORD = re.compile(r"(?P<direction>to|from) v(?P<version>[0-9]{1,10}) at (?P<at>\S+)")


class RollbackRecord(BaseModel):
    """The ``registrar:rollback`` entry: one half of a rollback, naming the other version and the time.

    Attributes
    ----------
    direction
        ``to`` on the version rolled back (it was rolled back *to* ``version``), ``from`` on the
        version restored (it was restored *from* ``version``).
    version
        The other version of the rollback.
    at
        When the rollback was decided (the same on both versions).
    """

    model_config = ConfigDict(frozen=True)

    direction: Literal["to", "from"]
    version: int = Field(ge=1)
    at: datetime

    @property
    def value(self) -> str:
        """The metadata value: ``to v1 at 2026-12-01T09:30:00Z``."""
        return f"{self.direction} v{self.version} at {format_time(self.at)}"

    @classmethod
    def parse(cls, value: str | None) -> Self | None:
        """The record a metadata value holds, or ``None`` when it holds none (absent, or not this format)."""
        matched = _ROLLBACK_RECORD.fullmatch(value or "")
        if matched is None:
            return None
        try:
            at = parse_timestamp(matched["at"])
        except ValueError:
            return None
        if at is None:
            return None
        return cls(direction=matched["direction"], version=int(matched["version"]), at=at)

    def answers(self, other: RollbackRecord, *, version: int | None, other_version: int | None) -> bool:
        """Whether ``other`` (on ``other_version``) is the other half of this record (on ``version``)."""
        return (
            {self.direction, other.direction} == {"to", "from"}
            and self.at == other.at
            and self.version == other_version
            and other.version == version
        )


class Decider(BaseModel):
    """Who decided a version's current status.

    Attributes
    ----------
    kind
        ``registrar``, ``person``, ``outside`` or ``none`` (module docstring).
    name
        ``registrar``, or the person's name; ``None`` for ``outside`` and ``none``.
    rule
        registrar's ``registrar:decided-by`` (``rule 1: churn-...``), for ``registrar``.
    policy
        The policy digest registrar decided with (``registrar:policy``), when recorded.
    text
        In words: ``registrar (rule 1: churn-..., policy 3f2a9c1)``, ``ops (person)``,
        ``changed outside registrar (registrar recorded Approved)``.
    """

    model_config = ConfigDict(frozen=True)

    kind: DeciderKind
    name: str | None = None
    rule: str | None = None
    policy: str | None = None
    text: str


class MetricRow(BaseModel):
    """One metric registrar read for the version, beside the policy's thresholds.

    Attributes
    ----------
    name
        The metric's name as its ``registrar:metric:<name>`` key has it.
    reading
        The recorded value as written (a number, or why there was none: ``NaN``, ``absent``).
    value
        ``reading`` as a number, or ``None``.
    min, max
        The thresholds the description states for it, when it does.
    passed
        Whether ``value`` lies within them; ``None`` when the description states none.
    champion_value
        The champion's value (``registrar:champion:<name>``), when the rule compared.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    reading: str
    value: float | None = None
    min: float | None = None
    max: float | None = None
    passed: bool | None = None
    champion_value: float | None = None


class NeoRow(BaseModel):
    """A ``registrar:neo:<target>`` record: what became of the latest compilation for ``target``."""

    model_config = ConfigDict(frozen=True)

    target: str
    record: str


class DeploymentRow(BaseModel):
    """A ``registrar:deployed:<endpoint>`` record (:mod:`registrar.deployments.record`): where it serves or served.

    Attributes
    ----------
    endpoint
        The endpoint's name.
    state
        ``live`` or ``retired``.
    since, retired
        When it went live on the endpoint, and when the endpoint stopped serving it (UTC).
    variants, shadow_variants
        The production and shadow variants that served it.
    record
        The metadata value, as written.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    state: str
    since: datetime
    retired: datetime | None
    variants: list[str]
    shadow_variants: list[str]
    record: str


class VersionStory(BaseModel):
    """What became of one version: its status, who decided it and when, its numbers, where it went.

    The JSON of ``registrar history --json`` is a list of these (:meth:`to_json`); its keys are stable.

    Attributes
    ----------
    version
        ``ModelPackageVersion``.
    model_package_arn
        The version's ARN.
    status
        ``ModelApprovalStatus``.
    package_status
        ``ModelPackageStatus`` (``Completed``, ``Failed``, ...).
    created_at, last_modified_at
        ``CreationTime`` and ``LastModifiedTime`` (UTC).
    decided_at
        ``registrar:decided-at``, when recorded.
    decided_by
        Who decided the current status (:class:`Decider`).
    verdict
        registrar's own recorded verdict (``registrar:verdict``), which may differ from ``status``.
    description
        ``ApprovalDescription``.
    evidence
        The report registrar decided on (``registrar:evidence``), when recorded.
    metrics
        Each ``registrar:metric:*`` against the thresholds ``description`` states.
    champion
        The version compared with (``registrar:champion``), when the rule compared.
    specifications
        Names of the additional inference specifications attached (Neo).
    neo
        Each ``registrar:neo:<target>`` record.
    deployments
        Where it serves or served: each ``registrar:deployed:<endpoint>`` record, live ones first.
    rollback
        The ``registrar:rollback`` record, when a rollback rejected or restored the version.
    """

    model_config = ConfigDict(frozen=True)

    version: int | None
    model_package_arn: str
    status: str | None
    package_status: str | None
    created_at: datetime | None
    last_modified_at: datetime | None
    decided_at: datetime | None
    decided_by: Decider
    verdict: str | None
    description: str | None
    evidence: str | None
    metrics: list[MetricRow]
    champion: str | None
    specifications: list[str]
    neo: list[NeoRow]
    deployments: list[DeploymentRow]
    rollback: RollbackRecord | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``registrar history --json``: every key always present, times ISO-8601."""
        return self.model_dump(mode="json")


def decider(package: ModelPackage) -> Decider:
    """Who decided the package's current status, from its records (module docstring)."""
    metadata = package.CustomerMetadataProperties
    status = package.ModelApprovalStatus
    verdict = metadata.get(VERDICT_KEY)
    decided_by = metadata.get(DECIDED_BY_KEY)
    policy = metadata.get(POLICY_KEY)
    if verdict is None:
        if status in _DECIDED:
            return Decider(kind="outside", text=f"{status} outside registrar (no registrar record)")
        return Decider(kind="none", text="nobody yet")
    if _status_of(verdict) != status:
        return Decider(
            kind="outside",
            text=f"changed outside registrar (registrar recorded {verdict}, the status is {status or 'unset'})",
        )
    if decided_by is not None and decided_by.startswith(PERSON_PREFIX):
        name = decided_by.removeprefix(PERSON_PREFIX)
        return Decider(kind="person", name=name, text=f"{name} (person)")
    details = ", ".join(part for part in (decided_by, f"policy {policy}" if policy else None) if part)
    return Decider(
        kind="registrar",
        name="registrar",
        rule=decided_by,
        policy=policy,
        text=f"registrar ({details})" if details else "registrar",
    )


def _status_of(verdict: str) -> str:
    """The ModelApprovalStatus a verdict leaves: a hold leaves the version pending."""
    return "PendingManualApproval" if verdict == "Held" else verdict


# One check of a description: `auc 0.81 < min 0.85`, `auc 0.91 ≥ min 0.85 and ≤ max 1`, `loss 0.2 ≤ max 0.3`.
_CHECK = re.compile(
    r"(?P<label>.+?) (?P<value>\S+) (?:< min (?P<below>\S+)|> max (?P<above>\S+)"
    r"|≥ min (?P<min>\S+)(?: and ≤ max (?P<max>\S+))?|≤ max (?P<only_max>\S+))"
)
_DESCRIPTION = re.compile(r"registrar: \S+ — (?P<body>.*) \(policy [^()]*\)")


def thresholds(description: str | None) -> dict[str, tuple[float | None, float | None]]:
    """The ``(min, max)`` each metric's check states in a registrar ``ApprovalDescription``, by metric label.

    ``registrar: Rejected — auc 0.81 < min 0.85; recall 0.71 ≥ min 0.6 and ≤ max 1 (policy 3f2a9c1)``
    gives ``{"auc": (0.85, None), "recall": (0.6, 1.0)}``. A failed check states only the bound it broke;
    a description registrar did not write gives nothing.
    """
    matched = _DESCRIPTION.fullmatch(description or "")
    if matched is None:
        return {}
    found: dict[str, tuple[float | None, float | None]] = {}
    for part in matched["body"].split("; "):
        check = _CHECK.fullmatch(part)
        if check is None:
            continue
        low = _float(check["below"] or check["min"])
        high = _float(check["above"] or check["max"] or check["only_max"])
        found.setdefault(check["label"], (low, high))
    return found


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _metric_key_name(label: str) -> str:
    # The key approval writes for a label (registrar.approval.decide._metric_keys): sanitised the same way.
    from registrar.approval.decide import MAX_KEY, sanitise

    return sanitise(label, MAX_KEY - len(METRIC_KEY_PREFIX) - 4)


def metrics(package: ModelPackage) -> list[MetricRow]:
    """Each ``registrar:metric:<name>`` of the package against the thresholds its description states."""
    metadata = package.CustomerMetadataProperties
    bounds = {_metric_key_name(label): limits for label, limits in thresholds(package.ApprovalDescription).items()}
    rows = []
    for key in sorted(metadata):
        if not key.startswith(METRIC_KEY_PREFIX):
            continue
        name = key.removeprefix(METRIC_KEY_PREFIX)
        reading = metadata[key]
        value = _float(reading)
        if value is not None and value != value:  # "nan" reads as a float: it is a reading of no number
            value = None
        low, high = bounds.get(name, (None, None))
        passed = None
        if low is not None or high is not None:
            passed = value is not None and (low is None or value >= low) and (high is None or value <= high)
        rows.append(
            MetricRow(
                name=name,
                reading=reading,
                value=value,
                min=low,
                max=high,
                passed=passed,
                champion_value=_float(metadata.get(CHAMPION_METRIC_KEY_PREFIX + name)),
            )
        )
    return rows


def _decided_at(value: str | None) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def story(package: ModelPackage) -> VersionStory:
    """The story of one version, from DescribeModelPackage's answer alone.

    Parameters
    ----------
    package
        The version as DescribeModelPackage returned it.

    Returns
    -------
    VersionStory
        Its status, who decided it (:func:`decider`) and when, its metrics against their thresholds,
        its Neo specifications and records, where it was deployed, and its rollback record.
    """
    metadata = package.CustomerMetadataProperties
    return VersionStory(
        version=package.ModelPackageVersion,
        model_package_arn=package.ModelPackageArn,
        status=package.ModelApprovalStatus,
        package_status=package.ModelPackageStatus,
        created_at=package.CreationTime,
        last_modified_at=package.LastModifiedTime,
        decided_at=_decided_at(metadata.get(DECIDED_AT_KEY)),
        decided_by=decider(package),
        verdict=metadata.get(VERDICT_KEY),
        description=package.ApprovalDescription,
        evidence=metadata.get(EVIDENCE_KEY),
        metrics=metrics(package),
        champion=metadata.get(CHAMPION_KEY),
        specifications=sorted(package.specification_names),
        neo=[
            NeoRow(target=key.removeprefix(NEO_KEY_PREFIX), record=value)
            for key, value in sorted(metadata.items())
            if key.startswith(NEO_KEY_PREFIX)
        ],
        deployments=[
            DeploymentRow(
                endpoint=deployed.endpoint,
                state=deployed.state,
                since=deployed.since,
                retired=deployed.retired,
                variants=list(deployed.variants),
                shadow_variants=list(deployed.shadow_variants),
                record=deployed.value,
            )
            for deployed in deployments_of(package)
        ],
        rollback=RollbackRecord.parse(metadata.get(ROLLBACK_KEY)),
    )


# --- a group's versions (one ListModelPackages page, one DescribeModelPackage each) -------------------------------

MAX_VERSIONS = 100  # ListModelPackages' MaxResults: one page


class GroupRegistry(Protocol):
    """The calls reading a group's history makes (:class:`registrar.registry.Registry`, or a fake)."""

    def list_versions(self, group_name: str, limit: int) -> list[dict[str, Any]]: ...

    def describe(self, model_package_arn: str) -> ModelPackage: ...


def group_versions(group: str, *, limit: int, registry: GroupRegistry) -> list[ModelPackage]:
    """The group's ``limit`` newest versions (1-100: one ListModelPackages page), newest first, each described.

    Cost: one ListModelPackages and one DescribeModelPackage per version; nothing else.
    """
    if not 1 <= limit <= MAX_VERSIONS:
        raise ValueError(f"limit {limit}: must be 1-{MAX_VERSIONS} (one ListModelPackages page)")
    summaries = registry.list_versions(group, limit)
    return [registry.describe(summary["ModelPackageArn"]) for summary in summaries[:limit]]


def group_history(group: str, *, limit: int, registry: GroupRegistry) -> list[VersionStory]:
    """The stories of the group's ``limit`` newest versions, newest first (:func:`group_versions`, :func:`story`)."""
    return [story(package) for package in group_versions(group, limit=limit, registry=registry)]
