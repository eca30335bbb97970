"""Registering one finished compilation job: read, link, decide, plan, apply, re-plan on a race.

The event only names the job. Everything is read again from SageMaker (DescribeCompilationJob, the
job's tags when it names no package itself, DescribeModelPackage) and the change goes out as one
validated, planned :class:`~registrar.updates.PackageUpdate` with its ClientToken.

Races: two handlers may register jobs of the same package at once (the sweeper and a user's own
event, or two targets of one package). When UpdateModelPackage refuses the request with a
``ValidationException`` (a name already attached, the 15-specification cap reached) or a
``ConflictException``, the package is described again and the change planned again, at most
``max_replans`` times; the re-plan sees the other handler's specification and ends ``unchanged``,
``over-cap`` or with a smaller request.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from registrar.errors import InvalidUpdateError
from registrar.events import CompilationJobEvent
from registrar.neo.decide import NeoDecision, decide, desired_update, record_key, recorded_job_name
from registrar.neo.job import CompilationJob
from registrar.neo.link import link, needs_tags
from registrar.neo.targets import target_label
from registrar.outcome import Outcome
from registrar.package import ModelPackage, unmanaged_reason
from registrar.plan import plan
from registrar.updates import PackageUpdate

MAX_REPLANS = 3
REPLAN_ON = frozenset({"ValidationException", "ConflictException"})
NOT_FOUND = frozenset({"ResourceNotFound", "ValidationException"})


class NeoRegistry(Protocol):
    """The calls registering a compilation job makes (:class:`registrar.registry.Registry` has them)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def update(self, update: PackageUpdate) -> str: ...

    def describe_compilation_job(self, name: str) -> dict[str, Any]: ...

    def tags(self, resource_arn: str) -> dict[str, str]: ...


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (read without importing botocore), else ``None``."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None


def _message(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str((response.get("Error") or {}).get("Message") or error)


def handle(
    event: CompilationJobEvent,
    *,
    registry: NeoRegistry,
    apply: bool,
    max_replans: int = MAX_REPLANS,
    managed_groups: Sequence[str] = (),
) -> Outcome:
    """Register the compilation job a ``Compilation Job State Change`` event names.

    Parameters
    ----------
    event
        The parsed event; only the job's name is taken from it.
    registry
        SageMaker (a :class:`registrar.registry.Registry`, or a fake with the same calls).
    apply
        ``False`` plans the request without sending it.
    max_replans
        How many times to describe the package and plan again after UpdateModelPackage refuses
        the request because of a concurrent change.
    managed_groups
        Model package group names or fnmatch patterns registrar may change; empty allows any.

    Returns
    -------
    Outcome
        ``updated`` with verdict ``Attached`` (a specification) or ``Recorded`` (metadata only);
        ``unchanged``; ``skipped`` (unlinked, not finished, over the cap, unmanaged group); or
        ``invalid`` (the job or package does not exist, a link that is not a version ARN, values
        that break an API rule).

    Raises
    ------
    botocore.exceptions.ClientError
        Any other AWS error (throttling beyond the client's retries, access denied), or a refusal
        that persists after ``max_replans`` re-plans: the event is retried, then dead-lettered.
    """
    return register(
        event.detail.CompilationJobName,
        registry=registry,
        apply=apply,
        max_replans=max_replans,
        managed_groups=managed_groups,
        subject=event.subject,
        announced_modified=event.detail.LastModifiedTime,
    )


def register(
    job_name: str,
    *,
    registry: NeoRegistry,
    apply: bool,
    max_replans: int = MAX_REPLANS,
    managed_groups: Sequence[str] = (),
    subject: str | None = None,
    announced_modified: datetime | None = None,
) -> Outcome:
    """Register one compilation job by name; :func:`handle` without an event (the CLI's sweep uses it).

    Parameters and results are those of :func:`handle`; ``subject`` is carried on the outcome, and
    ``announced_modified`` is the ``LastModifiedTime`` the event gave the job, if any: a job found
    running that was created after that time is another job under the same name, and the event is
    stale rather than early.
    """
    try:
        raw = registry.describe_compilation_job(job_name)
    except Exception as error:
        if error_code(error) not in NOT_FOUND:
            raise
        return Outcome(
            outcome="invalid", reasons=[f"compilation job {job_name} not found: {_message(error)}"], subject=subject
        )
    try:
        job = CompilationJob.model_validate(raw)
    except ValidationError as error:
        return Outcome(
            outcome="invalid", reasons=[f"compilation job {job_name} cannot be read: {error}"], subject=subject
        )
    if not job.finished:
        if announced_modified is not None and job.CreationTime is not None and announced_modified < job.CreationTime:
            # Deleted and created again under its name since the event: nothing will ever catch up with it.
            return Outcome(
                outcome="skipped",
                reasons=[
                    f"compilation job {job_name} is {job.CompilationJobStatus} and was created at "
                    f"{job.CreationTime.isoformat()}, after the event's {announced_modified.isoformat()}: "
                    "the event is about an earlier job of that name"
                ],
                subject=subject,
            )
        return Outcome(
            outcome="skipped",
            reasons=[f"compilation job {job_name} is {job.CompilationJobStatus}, not finished: the event is early"],
            subject=subject,
            retry=True,
        )
    tags = registry.tags(job.CompilationJobArn) if needs_tags(job) and job.CompilationJobArn else None
    linked = link(job, tags)
    if linked.status != "linked" or linked.model_package_arn is None:
        kind = "skipped" if linked.status == "unlinked" else "invalid"
        # An unlinked job may be tagged later and announced again under the same subject: not final.
        return Outcome(outcome=kind, reasons=[linked.reason or "not linked"], subject=subject, final=False)
    arn = linked.model_package_arn
    unmanaged = unmanaged_reason(arn, managed_groups)
    if unmanaged is not None:
        # Not described: the function's role allows DescribeModelPackage on the managed groups only.
        return Outcome(outcome="skipped", model_package_arn=arn, reasons=[unmanaged], subject=subject)
    notes: list[str] = []
    for attempt in range(max_replans + 1):
        try:
            package = registry.describe(arn)
        except Exception as error:
            if error_code(error) not in NOT_FOUND:
                raise
            return Outcome(
                outcome="invalid",
                model_package_arn=arn,
                reasons=[f"model package {arn} ({linked.source}) cannot be described: {_message(error)}", *notes],
                subject=subject,
            )
        if managed_groups and not any(
            fnmatch.fnmatchcase(package.ModelPackageGroupName or "", pattern) for pattern in managed_groups
        ):
            return Outcome(
                outcome="skipped",
                model_package_arn=arn,
                reasons=[f"model package group {package.ModelPackageGroupName} is not managed by registrar"],
                subject=subject,
            )
        recorded = _recorded_job(registry, job, package)
        decision = decide(job, package, recorded=recorded)
        try:
            update = _plan(decision, package)
        except InvalidUpdateError as error:
            return Outcome(
                outcome="invalid",
                model_package_arn=arn,
                reasons=[*decision.reasons, str(error), *notes],
                subject=subject,
            )
        outcome = _outcome(decision, update, notes, subject)
        if update is None or not apply:
            return outcome
        try:
            registry.update(update)
        except Exception as error:
            code = error_code(error)
            if code not in REPLAN_ON or attempt == max_replans:
                raise
            notes.append(f"re-planned after UpdateModelPackage refused the request ({code}: {_message(error)})")
            continue
        return outcome
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _recorded_job(registry: NeoRegistry, job: CompilationJob, package: ModelPackage) -> CompilationJob | None:
    """The other job the package's record for this target names, to keep a newer record; ``None`` if none."""
    key = record_key(target_label(job.target_device, job.target_platform))
    other = recorded_job_name(package.CustomerMetadataProperties.get(key))
    if other is None or other == job.CompilationJobName:
        return None
    try:
        return CompilationJob.model_validate(registry.describe_compilation_job(other))
    except ValidationError:
        return None
    except Exception as error:
        if error_code(error) in NOT_FOUND:  # deleted since: its record may be replaced
            return None
        raise


def _plan(decision: NeoDecision, package: ModelPackage) -> PackageUpdate | None:
    desired = desired_update(decision, package)
    return plan(desired, package) if desired is not None else None


def _outcome(decision: NeoDecision, update: PackageUpdate | None, notes: list[str], subject: str | None) -> Outcome:
    reasons = [*decision.reasons, *notes]
    arn = decision.model_package_arn
    request = update.to_request() if update is not None else None
    if decision.action == "invalid":
        return Outcome(outcome="invalid", model_package_arn=arn, reasons=reasons, subject=subject)
    if decision.action in ("wait", "skip"):
        return Outcome(outcome="skipped", model_package_arn=arn, reasons=reasons, subject=subject)
    if decision.action == "over-cap":
        if request is None and decision.metadata:
            reasons.append("the over-cap record is already on the package: nothing to write")
        return Outcome(
            outcome="skipped",
            model_package_arn=arn,
            request=request,
            reasons=reasons,
            verdict="OverCap",
            subject=subject,
        )
    if update is None:
        if decision.metadata or decision.specification is not None:
            reasons.append("the package already holds all of it: nothing to write")
        return Outcome(outcome="unchanged", model_package_arn=arn, reasons=reasons, subject=subject)
    verdict = "Attached" if update.AdditionalInferenceSpecificationsToAdd else "Recorded"
    return Outcome(
        outcome="updated", model_package_arn=arn, request=request, reasons=reasons, verdict=verdict, subject=subject
    )
