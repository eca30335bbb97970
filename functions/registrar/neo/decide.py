"""decide: what a finished compilation job changes on its model package version. Pure: no AWS.

One job, one outcome:

========================================  ==========================================================
job                                       change
========================================  ==========================================================
COMPLETED on an instance family           attach the specification (:mod:`registrar.neo.spec`) and
                                          record ``attached <job> <specification name>``
COMPLETED, specification already there    nothing (``unchanged``)
COMPLETED, package holds 15 already       record ``over-cap <job>``; outcome ``skipped``
COMPLETED on an edge device or platform   record ``edge <job> <artifact>``
COMPLETED for ``lambda`` / ``ml_eia2``    record ``lambda <job> <artifact>`` / ``unhostable ...``
FAILED or STOPPED                         record ``FAILED <job>: <reason>`` / ``STOPPED <job>``
not finished                              nothing (``wait``): the event is early; retried
========================================  ==========================================================

Records go in the package's ``CustomerMetadataProperties`` under ``registrar:neo:<target>``, one
key per target, so a package's metadata says what became of the latest compilation for each
target. A record never replaces the record of a more recently modified job (an old event replayed
after a newer one); the caller passes that job as ``recorded``. Metadata is written even when the
specifications are at the cap; when the 50-entry metadata budget is full, the specification is still
attached and the record is left out, with a reason.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registrar.errors import InvalidUpdateError
from registrar.neo.job import CompilationJob
from registrar.neo.spec import build_specification_with_notes
from registrar.neo.targets import TargetKind, target_kind, target_label
from registrar.package import MAX_ADDITIONAL_SPECIFICATIONS, MAX_METADATA_ENTRIES, ModelPackage
from registrar.updates import AdditionalInferenceSpecification, PackageUpdate

RECORD_KEY_PREFIX = "registrar:neo:"
MAX_METADATA_KEY = 128
MAX_METADATA_VALUE = 256
OVER_CAP_REASON = f"package already holds {MAX_ADDITIONAL_SPECIFICATIONS} additional inference specifications"
_METADATA_EXTRA = frozenset("_.:/=+-@")
_RECORD_WORDS = ("attached", "over-cap", "edge", "lambda", "unhostable", "FAILED", "STOPPED")
_RECORDED_JOB = re.compile(rf"(?:{'|'.join(_RECORD_WORDS)}) ([a-zA-Z0-9](?:-*[a-zA-Z0-9]){{0,62}})")

Action = Literal["attach", "record", "over-cap", "unchanged", "wait", "skip", "invalid"]
_KIND_WORDS: dict[TargetKind, str] = {"edge": "edge", "lambda": "lambda", "unhostable": "unhostable"}
_KIND_REASONS: dict[TargetKind, str] = {
    "edge": "is an edge target SageMaker cannot host",
    "lambda": "is AWS Lambda, not a SageMaker instance",
    "unhostable": "is not a SageMaker instance family",
}


class NeoDecision(BaseModel):
    """What a compilation job changes on its package, and why.

    Attributes
    ----------
    job_name, target
        The job and its target label (``ml_c5``, ``jetson_nano``, ``linux_arm64_nvidia``).
    model_package_arn
        The package version the job belongs to.
    action
        ``attach`` (a specification, with its record), ``record`` (metadata only: edge target,
        failure), ``over-cap`` (metadata only: no room for the specification), ``unchanged``
        (already attached, or superseded by a newer job's record), ``wait`` (not finished),
        ``skip`` (nothing can be written) or ``invalid`` (the job's values break an API rule).
    specification
        The specification to attach, for ``attach``.
    metadata
        ``CustomerMetadataProperties`` entries to set.
    reasons
        Why, in words an operator reads.
    """

    model_config = ConfigDict(frozen=True)

    job_name: str
    target: str
    model_package_arn: str
    action: Action
    specification: AdditionalInferenceSpecification | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        """``Attached`` when a specification is added, ``Recorded`` when only metadata is, else ``None``."""
        if self.specification is not None:
            return "Attached"
        return "Recorded" if self.metadata else None


def record_key(target: str) -> str:
    """The metadata key recording a target's latest compilation: ``registrar:neo:<target>``."""
    return sanitise(RECORD_KEY_PREFIX + target, MAX_METADATA_KEY)


def sanitise(text: str, limit: int = MAX_METADATA_VALUE) -> str:
    """Make text a valid metadata key or value: letters, numbers, spaces and ``_.:/=+-@`` only.

    Other characters (quotes, commas, brackets, line breaks) become spaces, runs of spaces collapse,
    and text longer than ``limit`` is cut, ending in ``...``.
    """
    kept = "".join(char if unicodedata.category(char)[0] in "LNZ" or char in _METADATA_EXTRA else " " for char in text)
    clean = " ".join(kept.split())
    return clean if len(clean) <= limit else clean[: limit - 3].rstrip() + "..."


def recorded_job_name(value: str | None) -> str | None:
    """The job a record names (its second word), or ``None`` for a value registrar did not write."""
    match = _RECORDED_JOB.match(value or "")
    return match.group(1) if match else None


def _moment(job: CompilationJob) -> tuple[datetime, str]:
    moment = job.LastModifiedTime or job.CompilationEndTime or job.CreationTime or datetime.min.replace(tzinfo=UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), job.CompilationJobName


def _superseded_by(job: CompilationJob, recorded: CompilationJob | None) -> str | None:
    if recorded is None or recorded.CompilationJobName == job.CompilationJobName:
        return None
    return recorded.CompilationJobName if _moment(recorded) > _moment(job) else None


def _failure_record(job: CompilationJob) -> str:
    head = f"{job.CompilationJobStatus} {job.CompilationJobName}"
    reason = sanitise(job.FailureReason or "")
    return sanitise(f"{head}: {reason}" if reason else head)


def _artifact_record(word: str, job: CompilationJob, reasons: list[str]) -> str:
    head = f"{word} {job.CompilationJobName}"
    uri = job.artifact_uri
    if not uri:
        return head
    value = f"{head} {uri}"
    if len(value) > MAX_METADATA_VALUE or sanitise(value) != value:
        # A cut or altered URI would point somewhere else: leave it out rather than record a wrong one.
        reasons.append(f"artifact URI left out of the record: it does not fit a metadata value ({uri})")
        return head
    return value


def decide(
    job: CompilationJob | dict[str, Any], package: ModelPackage, *, recorded: CompilationJob | None = None
) -> NeoDecision:
    """Decide what a compilation job changes on the model package version it was compiled from.

    Long because it is the module docstring's table, row by row, then the two rules every row shares
    (a newer job's record is kept; the metadata budget).

    Parameters
    ----------
    job
        DescribeCompilationJob's response for the job (never the event's values).
    package
        The linked package as DescribeModelPackage returned it.
    recorded
        The job the package's ``registrar:neo:<target>`` record currently names, when that is
        another job; its record is kept if it was modified more recently than ``job``.

    Returns
    -------
    NeoDecision
        See the table in the module docstring.
    """
    job = CompilationJob.read(job)
    name = job.CompilationJobName
    target = target_label(job.target_device, job.target_platform)
    base: dict[str, Any] = {"job_name": name, "target": target, "model_package_arn": package.ModelPackageArn}
    if not job.finished:
        return NeoDecision(
            **base,
            action="wait",
            reasons=[f"compilation job {name} is {job.CompilationJobStatus}: nothing to attach until it ends"],
        )
    key = record_key(target)
    reasons: list[str] = []
    specification: AdditionalInferenceSpecification | None = None
    action: Action
    if job.CompilationJobStatus != "COMPLETED":
        action, value = "record", _failure_record(job)
        reasons.append(f"compilation job {name} {job.CompilationJobStatus}: nothing to attach; record it under {key}")
    elif (kind := target_kind(job.target_device, job.target_platform)) != "instance":
        action, value = "record", _artifact_record(_KIND_WORDS[kind], job, reasons)
        reasons.insert(0, f"{target} {_KIND_REASONS[kind]}: nothing to attach; record {name} under {key}")
    else:
        try:
            specification, notes = build_specification_with_notes(job, package)
        except (InvalidUpdateError, ValueError) as error:
            return NeoDecision(**base, action="invalid", reasons=[f"compilation job {name}: {error}"])
        if specification.Name in package.specification_names:
            # Still assert the record: a concurrent older job's write may have replaced it, and
            # plan() drops it again when it already says this.
            action, value, specification = "unchanged", f"attached {name} {specification.Name}", None
            reasons.append(f"{name} is already attached as {specification_name_of(value)}")
        elif len(package.AdditionalInferenceSpecifications) >= MAX_ADDITIONAL_SPECIFICATIONS:
            action, value, specification = "over-cap", f"over-cap {name}", None
            reasons += [OVER_CAP_REASON, f"{name} ({target}) not attached; record it under {key}"]
        else:
            action, value = "attach", f"attached {name} {specification.Name}"
            realtime = specification.SupportedRealtimeInferenceInstanceTypes or []
            transform = specification.SupportedTransformInstanceTypes or []
            reasons.append(
                f"attach {specification.Name}: {name} compiled for {target}, "
                f"{len(realtime)} realtime and {len(transform)} transform instance types"
            )
            reasons += notes
    metadata = {key: value}
    newer = _superseded_by(job, recorded)
    if newer is not None:
        metadata = {}
        reasons.append(f"{key} is left as it is: it records {newer}, modified after {name}")
        if action in ("record", "unchanged"):
            action = "unchanged"
    elif key not in package.CustomerMetadataProperties and len(package.CustomerMetadataProperties) >= (
        MAX_METADATA_ENTRIES
    ):
        metadata = {}
        reasons.append(f"{key} not recorded: the package already holds {MAX_METADATA_ENTRIES} metadata entries")
        if action == "record":
            action = "skip"
    return NeoDecision(**base, action=action, specification=specification, metadata=metadata, reasons=reasons)


def specification_name_of(record: str) -> str:
    """The specification name an ``attached <job> <name>`` record ends with."""
    return record.rsplit(" ", 1)[-1]


def desired_update(decision: NeoDecision, package: ModelPackage) -> PackageUpdate | None:
    """The UpdateModelPackage request a decision asks for, before planning against the package.

    Parameters
    ----------
    decision
        From :func:`decide`.
    package
        The package the decision was made against.

    Returns
    -------
    PackageUpdate or None
        The specification to add and the metadata to set, validated; ``None`` when the decision
        writes nothing. :func:`registrar.plan.plan` reduces it to what the package lacks.
    """
    if decision.specification is None and not decision.metadata:
        return None
    return PackageUpdate(
        ModelPackageArn=package.ModelPackageArn,
        CustomerMetadataProperties=decision.metadata or None,
        AdditionalInferenceSpecificationsToAdd=[decision.specification] if decision.specification else None,
    )
