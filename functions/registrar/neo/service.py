"""The Neo flow: a finished compilation job becomes an inference specification (or a record) of its version.

Two steps, so that what deduplicates an event is what the flow acts on, as read back from AWS:

- :meth:`NeoFlow.resolve` reads the job the event names (DescribeCompilationJob, and its tags when it
  names no package itself) and the version it belongs to (DescribeModelPackage), or says why there
  is nothing to register;
- :meth:`NeoFlow.decide_and_write` decides what the job changes on the version, plans it and writes
  it as one validated :class:`~registrar.updates.PackageUpdate` with its ClientToken.

Races: two handlers may register jobs of the same package at once (the sweeper and a user's own
event, or two targets of one package). When UpdateModelPackage refuses the request with a
``ValidationException`` (a name already attached, the 15-specification cap reached) or a
``ConflictException``, the package is described again and the change planned again, at most
``max_replans`` times; the re-plan sees the other handler's specification and ends ``unchanged``,
``over-cap`` or with a smaller request.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from pydantic import ValidationError

from registrar import aws, groups
from registrar.accounts import Accounts, arn_account
from registrar.decisions.announce import Announcer, DecisionInFlightError
from registrar.decisions.contract import DecisionVerdict
from registrar.errors import DeploymentError, InvalidUpdateError
from registrar.events import CompilationJobEvent, parse_event, utc
from registrar.neo.decide import (
    RECORD_KEY_PREFIX,
    NeoDecision,
    decide,
    desired_update,
    record_key,
    recorded_job_name,
    sanitise,
)
from registrar.neo.job import CompilationJob
from registrar.neo.link import link, misplaced_reason, needs_tags, unbound_reason
from registrar.neo.targets import target_label
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.plan import metadata_record, plan
from registrar.settings import Settings, deployed_settings
from registrar.updates import PackageUpdate

MAX_REPLANS = 3
# Why the last compilation job linked to the version was refused (not bound to it); never a target's record.
REFUSED_KEY = f"{RECORD_KEY_PREFIX}refused"
REPLAN_ON = frozenset({"ValidationException", "ConflictException"})
EVENTS = (CompilationJobEvent,)


def parse(raw: Any) -> CompilationJobEvent:
    """The Neo flow's event; any other (a SageMaker event, one of another source) is invalid.

    Raises
    ------
    registrar.errors.EventError
        Naming the field and the rule.
    """
    return cast(CompilationJobEvent, parse_event(raw, EVENTS))


class NeoRegistry(Protocol):
    """The calls registering a compilation job makes (:class:`registrar.registry.Registry` has them)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def update(self, update: PackageUpdate) -> str: ...

    def describe_compilation_job(self, name: str, *, account: str | None = None) -> dict[str, Any]: ...

    def tags(self, resource_arn: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Target:
    """A finished compilation job and the version it belongs to, as read from SageMaker."""

    job: CompilationJob
    package: ModelPackage
    link_source: str

    @property
    def subject(self) -> str:
        """The idempotency key: the job, its status and its ``LastModifiedTime``, as SageMaker describes them.

        A job deleted and created again under its name has the same ARN; its time tells the two apart.
        """
        job = self.job
        modified = utc(job.LastModifiedTime)
        stamp = modified.isoformat() if modified is not None else "-"
        return f"{job.CompilationJobArn or job.CompilationJobName}|{job.CompilationJobStatus}|{stamp}"


@dataclass
class NeoFlow:
    """Everything registering a compilation job needs, injected.

    Parameters
    ----------
    registry
        SageMaker (a :class:`registrar.registry.Registry`, or a fake with the same calls).
    managed_groups
        Model package group names or fnmatch patterns registrar may change; empty allows any.
    output_locations
        ``s3://bucket[/prefix]`` locations compiled models may lie in to be attached; empty allows any
        (the stack always sets them).
    max_replans
        How many times to describe the package and plan again after UpdateModelPackage refuses
        the request because of a concurrent change.
    announcer
        Makes each write and publishes its ``Registrar Decision``; ``None`` writes without
        announcing (a flow that only plans, or a test looking at the writes alone).
    accounts
        The registry and workload accounts: which versions may be attached to (the registry account's
        alone), where a workload's job is described and where its compiled models must lie. By default
        a single account.
    """

    registry: NeoRegistry
    managed_groups: Sequence[str] = field(default_factory=tuple)
    output_locations: Sequence[str] = field(default_factory=tuple)
    max_replans: int = MAX_REPLANS
    announcer: Announcer | None = None
    accounts: Accounts = field(default_factory=Accounts)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, endpoint_url: str | None = None, region: str | None = None
    ) -> NeoFlow:
        """The flow on AWS (or the endpoint given), configured by ``settings``."""
        from registrar.decisions.announce import announcer_for
        from registrar.registry import Registry

        accounts = Accounts.from_settings(settings, endpoint_url=endpoint_url, region=region)
        return cls(
            registry=Registry(endpoint_url=endpoint_url, region=region, accounts=accounts),
            managed_groups=tuple(settings.managed_groups),
            output_locations=tuple(settings.neo_output_locations),
            announcer=announcer_for(settings, endpoint_url=endpoint_url, region=region),
            accounts=accounts,
        )

    def handle(self, event: CompilationJobEvent, *, apply: bool = True) -> Outcome:
        """Register the compilation job a ``Compilation Job State Change`` event names.

        Only the job's name is taken from the event (and its ``LastModifiedTime``, to tell a stale
        event from an early one); ``apply=False`` plans the request without sending it.

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
        target = self.resolve(event)
        return target if isinstance(target, Outcome) else self.decide_and_write(target, apply=apply)

    def register(self, job_name: str, *, apply: bool = True) -> Outcome:
        """Register one compilation job by name: :meth:`handle` without an event (``registrar sweep``)."""
        target = self.resolve_job(job_name)
        return target if isinstance(target, Outcome) else self.decide_and_write(target, apply=apply)

    def resolve(self, event: CompilationJobEvent) -> Target | Outcome:
        """The job the event names and its version (:meth:`resolve_job`); only the job's name is the event's."""
        return self.resolve_job(
            event.detail.CompilationJobName, announced_modified=event.detail.LastModifiedTime, account=event.account
        )

    def resolve_job(
        self, job_name: str, *, announced_modified: datetime | None = None, account: str | None = None
    ) -> Target | Outcome:
        """The finished job named ``job_name`` and its version, read from SageMaker; or why there is none.

        ``announced_modified`` is the ``LastModifiedTime`` an event gave the job, if any: a job found
        running that was created after that time is another job under the same name, and the event
        is stale rather than early. ``account`` is where the job runs: a workload account's job is
        described through the evidence role there; ``None``, the registry's own.
        """
        job = self._describe_job(job_name, account)
        if isinstance(job, Outcome):
            return job
        if not job.finished:
            return _not_finished(job, announced_modified)
        tags = self.registry.tags(job.CompilationJobArn) if needs_tags(job) and job.CompilationJobArn else None
        linked = link(job, tags)
        if linked.status != "linked" or linked.model_package_arn is None:
            # An unlinked job may be tagged later and announced again under the same subject: not final.
            reason = linked.reason or "not linked"
            return Outcome.skipped(reason, final=False) if linked.status == "unlinked" else Outcome.invalid(reason)
        arn = linked.model_package_arn
        foreign = self.accounts.version_refusal(arn, named_in=arn_account(job.CompilationJobArn) or account or "")
        if foreign is not None:
            # Never described nor written: a job's tag cannot point registrar at another account's registry.
            return Outcome.invalid(foreign, arn=arn)
        unmanaged = groups.unmanaged_reason(arn, self.managed_groups)
        if unmanaged is not None:
            # Not described: the function's role allows DescribeModelPackage on the managed groups only.
            return Outcome.skipped(unmanaged, arn=arn)
        package = self._describe_package(arn, linked.source)
        if isinstance(package, Outcome):
            return package
        return Target(job=job, package=package, link_source=linked.source or "")

    def _describe_job(self, job_name: str, account: str | None) -> CompilationJob | Outcome:
        try:
            raw = self.registry.describe_compilation_job(job_name, account=account)
        except Exception as error:
            if not aws.is_not_found(error):
                raise
            return Outcome.invalid(f"compilation job {job_name} not found: {aws.error_message(error)}")
        try:
            return CompilationJob.model_validate(raw)
        except ValidationError as error:
            return Outcome.invalid(f"compilation job {job_name} cannot be read: {error}")

    def _describe_package(self, arn: str, source: str | None, notes: Sequence[str] = ()) -> ModelPackage | Outcome:
        try:
            return self.registry.describe(arn)
        except Exception as error:
            if not aws.is_not_found(error):
                raise
            reason = f"model package {arn} ({source}) cannot be described: {aws.error_message(error)}"
            return Outcome.invalid([reason, *notes], arn=arn)

    def decide_and_write(self, target: Target, *, apply: bool = True) -> Outcome:
        """Decide what the job changes on its version, plan it and (when ``apply``) write it; re-plan on a race.

        A job that did not compile the version's model is refused: its reason is recorded under
        :data:`REFUSED_KEY` and nothing else is written. A job whose compiled model lies outside the
        output locations is refused the same way, and the event then fails, to be dead-lettered and
        redriven once the configuration is fixed.

        Raises
        ------
        registrar.errors.DeploymentError
            The compiled model lies outside the configured output locations.
        """
        if apply and self.announcer is not None:
            try:
                self.announcer.recover(target.package)
            except DecisionInFlightError as error:
                return Outcome.early(str(error), arn=target.package.ModelPackageArn)
        unbound = unbound_reason(target.job, target.package)
        if unbound is not None:
            return self._refuse(target, unbound, apply=apply)
        misplaced = misplaced_reason(target.job, self._output_locations(target.job)) if target.job.finished_ok else None
        if misplaced is not None:
            self._refuse(target, misplaced, apply=apply)
            raise DeploymentError(misplaced)
        return self._register(target, apply=apply)

    def _refuse(self, target: Target, reason: str, *, apply: bool) -> Outcome:
        """Record why the job was refused on its version, and attach nothing."""
        package = target.package
        update = metadata_record(package, REFUSED_KEY, sanitise(f"refused {target.job.CompilationJobName}: {reason}"))
        reasons = [f"compilation job refused: {reason}", "nothing is attached or recorded for its target"]
        if update is not None and apply:
            self._commit(update, package, target.job, verdict="Refused", reasons=reasons)
        request = update.to_request() if update is not None else None
        # Not kept: the configuration may be fixed, and the job announced again.
        return Outcome.skipped(reasons, arn=package.ModelPackageArn, verdict="Refused", request=request, final=False)

    def _register(self, target: Target, *, apply: bool) -> Outcome:
        notes: list[str] = []
        package: ModelPackage | Outcome = target.package
        for attempt in range(self.max_replans + 1):
            if attempt:
                package = self._describe_package(target.package.ModelPackageArn, target.link_source, notes)
            if isinstance(package, Outcome):
                return package
            decision = decide(target.job, package, recorded=self._recorded_job(target.job, package))
            try:
                update = _plan(decision, package)
            except InvalidUpdateError as error:
                return Outcome.invalid([*decision.reasons, str(error), *notes], arn=package.ModelPackageArn)
            outcome = _outcome(decision, update, notes)
            if update is None or not apply:
                return outcome
            try:
                verdict = _verdict(decision, target.job)
                self._commit(update, package, target.job, verdict=verdict, reasons=outcome.reasons)
            except Exception as error:
                code = aws.error_code(error)
                if code not in REPLAN_ON or attempt == self.max_replans:
                    raise
                notes.append(
                    f"re-planned after UpdateModelPackage refused the request ({code}: {aws.error_message(error)})"
                )
                continue
            return outcome
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _commit(
        self,
        update: PackageUpdate,
        package: ModelPackage,
        job: CompilationJob,
        *,
        verdict: DecisionVerdict,
        reasons: Sequence[str],
    ) -> None:
        """Write ``update``; with an announcer, publish its ``Registrar Decision``."""
        if self.announcer is None:
            self.registry.update(update)
            return
        specifications = update.AdditionalInferenceSpecificationsToAdd or []
        detail = self.announcer.detail(
            package,
            update,
            verdict=verdict,
            flow="neo",
            reasons=reasons,
            compilation_job=job.CompilationJobName,
            target=target_label(job.target_device, job.target_platform),
            specification=specifications[0].Name if specifications else None,
        )
        self.announcer.commit(self.registry.update, update, detail)

    def _output_locations(self, job: CompilationJob) -> Sequence[str]:
        """Where ``job`` must have written its compiled model: its workload account's locations, else the registry's."""
        account = arn_account(job.CompilationJobArn)
        return self.accounts.neo_output_locations(account, self.output_locations) if account else self.output_locations

    def _recorded_job(self, job: CompilationJob, package: ModelPackage) -> CompilationJob | None:
        """The other job the package's record for this target names, to keep a newer record; ``None`` if none."""
        key = record_key(target_label(job.target_device, job.target_platform))
        other = recorded_job_name(package.CustomerMetadataProperties.get(key))
        if other is None or other == job.CompilationJobName:
            return None
        try:
            # A record names the job alone: the other job ran where this one did.
            other_job = self.registry.describe_compilation_job(other, account=arn_account(job.CompilationJobArn))
            return CompilationJob.model_validate(other_job)
        except ValidationError:
            return None
        except Exception as error:
            if aws.is_not_found(error):  # deleted since: its record may be replaced
                return None
            raise


def _not_finished(job: CompilationJob, announced_modified: datetime | None) -> Outcome:
    name = job.CompilationJobName
    if announced_modified is not None and job.CreationTime is not None and announced_modified < job.CreationTime:
        # Deleted and created again under its name since the event: nothing will ever catch up with it.
        return Outcome.skipped(
            f"compilation job {name} is {job.CompilationJobStatus} and was created at "
            f"{job.CreationTime.isoformat()}, after the event's {announced_modified.isoformat()}: "
            "the event is about an earlier job of that name"
        )
    return Outcome.early(f"compilation job {name} is {job.CompilationJobStatus}, not finished: the event is early")


def _verdict(decision: NeoDecision, job: CompilationJob) -> DecisionVerdict:
    """What writing ``decision`` does: Attached, OverCap, Failed (a job that did not compile) or Recorded."""
    if decision.action == "over-cap":
        return "OverCap"
    if decision.specification is not None:
        return "Attached"
    return "Recorded" if job.finished_ok else "Failed"


def _plan(decision: NeoDecision, package: ModelPackage) -> PackageUpdate | None:
    desired = desired_update(decision, package)
    return plan(desired, package) if desired is not None else None


def _outcome(decision: NeoDecision, update: PackageUpdate | None, notes: list[str]) -> Outcome:
    reasons = [*decision.reasons, *notes]
    arn = decision.model_package_arn
    request = update.to_request() if update is not None else None
    if decision.action == "invalid":
        return Outcome.invalid(reasons, arn=arn)
    if decision.action in ("wait", "skip"):
        return Outcome.skipped(reasons, arn=arn)
    if decision.action == "over-cap":
        if request is None and decision.metadata:
            reasons.append("the over-cap record is already on the package: nothing to write")
        return Outcome.skipped(reasons, arn=arn, request=request, verdict="OverCap")
    if update is None or request is None:
        if decision.metadata or decision.specification is not None:
            reasons.append("the package already holds all of it: nothing to write")
        return Outcome.unchanged(reasons, arn=arn)
    verdict = "Attached" if update.AdditionalInferenceSpecificationsToAdd else "Recorded"
    return Outcome.updated(request, reasons, arn=arn, verdict=verdict)


@functools.cache
def deployed() -> NeoFlow:
    """The Neo flow of a Lambda container, configured from its ``REGISTRAR_*`` environment on first use."""
    return NeoFlow.from_settings(deployed_settings())
