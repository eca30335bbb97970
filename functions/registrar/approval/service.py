"""The approval flow: from an event to an Outcome, reading state from AWS and writing at most once.

Two steps, so that what deduplicates an event is what the flow acts on, as read back from AWS:

- :meth:`ApprovalFlow.resolve` reads the version an event points at (and the evaluation job, for a
  job's event), or says why there is nothing to decide (the loop guard, an unlinked job, an
  unmanaged group, a package that does not exist);
- :meth:`ApprovalFlow.decide_and_write` decides that version from its evidence and the policy, and
  writes the decision when asked to.

Nothing is taken from the event but which package or job to look at.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from registrar import aws, groups
from registrar.accounts import Accounts
from registrar.approval.decide import (
    REFUSED_KEY,
    Check,
    Decision,
    decide,
    desired_update,
    precheck,
    refusal_update,
)
from registrar.approval.evidence import (
    FINISHED_JOB_STATUSES,
    Evidence,
    Refusal,
    ReportReader,
    champion_evidence,
    foreign_evidence_reason,
    job_evidence,
    package_evidence,
)
from registrar.approval.policy import MatchedRule, Policy
from registrar.decisions.announce import Announcer, DecisionInFlightError
from registrar.decisions.contract import MetricReading
from registrar.errors import DeploymentError, InvalidUpdateError
from registrar.events import ModelPackageEvent, ProcessingJobEvent, parse_event, utc
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.settings import Settings, deployed_settings
from registrar.updates import PackageUpdate

PACKAGE_TAG = "registrar:model-package-arn"
EVENTS = (ModelPackageEvent, ProcessingJobEvent)
ApprovalEvent = ModelPackageEvent | ProcessingJobEvent


def parse(raw: Any) -> ApprovalEvent:
    """The approval flow's event; any other (a compilation job's, one of another source) is invalid.

    Raises
    ------
    registrar.errors.EventError
        Naming the field and the rule.
    """
    return cast(ApprovalEvent, parse_event(raw, EVENTS))


class PackageRegistry(Protocol):
    """The calls the approval flow makes on SageMaker (:class:`registrar.registry.Registry`, or a fake)."""

    def describe(self, model_package_arn: str) -> ModelPackage:
        """DescribeModelPackage."""
        ...

    def describe_processing_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        """DescribeProcessingJob by name, in ``account`` (a workload's) or the registry's own."""
        ...

    def tags(self, resource_arn: str) -> dict[str, str]:
        """ListTags of a SageMaker resource."""
        ...

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        """The group's most recent Approved version other than ``excluding``."""
        ...

    def update(self, update: PackageUpdate) -> str:
        """UpdateModelPackage with the request's ClientToken."""
        ...


@dataclass(frozen=True)
class Target:
    """What an approval event resolves to: the version to decide, and the evaluation job when its event it was.

    Attributes
    ----------
    package
        The version, as DescribeModelPackage returned it.
    job
        DescribeProcessingJob's answer for the evaluation job whose event this is, or ``None`` for a
        model package event.
    """

    package: ModelPackage
    job: dict[str, Any] | None = None

    @property
    def subject(self) -> str:
        """The idempotency key: the version (or job) in the state read back from AWS.

        A job's event is about the job in its final state; a package's event is about the version
        in its current status at its ``LastModifiedTime``, so a change made since (registrar's own
        write, a person's) is a new subject.
        """
        if self.job is not None:
            job = self.job
            return f"{job.get('ProcessingJobArn')}|{job.get('ProcessingJobStatus')}|{_utc(job.get('LastModifiedTime'))}"
        package = self.package
        return (
            f"{package.ModelPackageArn}|{package.ModelPackageStatus}|{package.ModelApprovalStatus}|"
            f"{_utc(package.LastModifiedTime)}"
        )


def _utc(moment: Any) -> str:
    instant = utc(moment)
    return instant.isoformat() if instant is not None else "-"


def loop_guard_reason(fields: Sequence[str]) -> str:
    """Why a model package event is not decided: it reports only fields registrar's own writes change."""
    return (
        f"loop guard: the event reports only fields registrar writes ({', '.join(fields)}); "
        "a version is not decided again on registrar's own update"
    )


@dataclass
class ApprovalFlow:
    """Everything deciding a version needs, injected; tests pass fakes or emulator-backed adapters.

    Parameters
    ----------
    registry
        SageMaker: one DescribeModelPackage per event; DescribeProcessingJob and ListTags for a
        job's event; the champion only when the matching rule has ``beat_champion``;
        UpdateModelPackage only when writing and the plan is not empty.
    reports
        S3 reports: one read for the candidate, one for the champion when compared.
    policy
        Returns the current approval policy (cached by its source).
    managed_groups
        fnmatch patterns of the groups registrar may act on; empty allows any.
    announcer
        Makes each write and publishes its ``Registrar Decision``; ``None`` writes without
        announcing (a flow that only plans, or a test looking at the writes alone).
    accounts
        The registry and workload accounts: which versions may be decided (the registry account's
        alone) and where a job's evidence is read. By default a single account.
    """

    registry: PackageRegistry
    reports: ReportReader
    policy: Callable[[], Policy]
    managed_groups: Sequence[str] = field(default_factory=tuple)
    announcer: Announcer | None = None
    accounts: Accounts = field(default_factory=Accounts)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, endpoint_url: str | None = None, region: str | None = None
    ) -> ApprovalFlow:
        """The flow on AWS (or the endpoint given), configured by ``settings``."""
        from registrar import parameters
        from registrar.decisions.announce import announcer_for
        from registrar.registry import Registry
        from registrar.reports import ReportStore

        accounts = Accounts.from_settings(settings, endpoint_url=endpoint_url, region=region)
        return cls(
            registry=Registry(endpoint_url=endpoint_url, region=region, accounts=accounts),
            reports=ReportStore(
                endpoint_url=endpoint_url,
                region=region,
                allowed_locations=settings.report_locations,
                accounts=accounts,
            ),
            policy=functools.partial(parameters.load_policy, settings, endpoint_url=endpoint_url, region=region),
            managed_groups=tuple(settings.managed_groups),
            announcer=announcer_for(settings, endpoint_url=endpoint_url, region=region),
            accounts=accounts,
        )

    def handle(self, event: ApprovalEvent, *, apply: bool = True) -> Outcome:
        """Resolve the event and decide its version; ``apply=False`` plans only (``registrar plan``).

        Returns
        -------
        Outcome
            ``updated`` (with the request), ``unchanged``, ``skipped`` or ``invalid``, with the reasons
            and the verdict (``Approved``, ``Rejected``, ``Held``) when one was reached.
        """
        target = self.resolve(event)
        return target if isinstance(target, Outcome) else self.decide_and_write(target, apply=apply)

    def resolve(self, event: ApprovalEvent) -> Target | Outcome:
        """The version an event points at, read from SageMaker; or an Outcome when there is none to decide.

        Raises
        ------
        botocore.exceptions.ClientError
            Any AWS error but "not found" (throttling beyond the client's retries, access denied):
            the event is retried, then dead-lettered.
        """
        if isinstance(event, ModelPackageEvent):
            detail = event.detail
            if detail.caused_by_own_write:
                return Outcome.skipped(loop_guard_reason(detail.UpdatedModelPackageFields), arn=detail.arn)
            return self._described(detail.arn, job=None, named_in=event.account)
        try:
            # The job lives in the account whose event this is: a workload's is read through its evidence role.
            job = self.registry.describe_processing_job(event.detail.job_name, account=event.account)
        except Exception as error:
            if not aws.is_not_found(error):
                raise
            # A job that does not exist will never be found: poison, not a retry.
            return Outcome.invalid(
                f"processing job {event.detail.job_name} cannot be described: "
                f"{aws.error_code(error)} ({aws.error_message(error)})"
            )
        return self._linked_version(job, account=event.account)

    def _linked_version(self, job: dict[str, Any], *, account: str) -> Target | Outcome:
        job_arn = str(job.get("ProcessingJobArn"))
        linked = self.registry.tags(job_arn).get(PACKAGE_TAG)
        if linked is None:
            # The job may be tagged later and its event sent again under the same subject: not final.
            return Outcome.skipped(f"job carries no {PACKAGE_TAG} tag ({job_arn})", final=False)
        if not groups.is_version_arn(linked):
            return Outcome.invalid(f"job {job_arn} tag {PACKAGE_TAG} is {linked!r}, not a model package version ARN")
        status = job.get("ProcessingJobStatus")
        if status not in FINISHED_JOB_STATUSES:
            return Outcome.early(
                f"job {job_arn} is {status or 'without a status'}, not finished: the event is early", arn=linked
            )
        return self._described(linked, job=job, named_in=account)

    def _described(self, arn: str, *, job: dict[str, Any] | None, named_in: str) -> Target | Outcome:
        foreign = self.accounts.version_refusal(arn, named_in=named_in)
        if foreign is not None:
            # Never described nor written: a tag or an event cannot point registrar at another account's registry.
            return Outcome.invalid(foreign, arn=arn)
        unmanaged = groups.unmanaged_reason(arn, self.managed_groups)
        if unmanaged is not None:
            # Not described: the function's role allows DescribeModelPackage on the managed groups only.
            return Outcome.skipped(unmanaged, arn=arn)
        try:
            package = self.registry.describe(arn)
        except Exception as error:
            # No such package (a forged or stale event, an ARN of another account or region): poison, not a retry.
            if not aws.is_not_found(error):
                raise
            return Outcome.invalid(
                f"model package {arn} cannot be described: {aws.error_code(error)} ({aws.error_message(error)})",
                arn=arn,
            )
        return Target(package=package, job=job)

    def decide_and_write(self, target: Target, *, apply: bool = True) -> Outcome:
        """Decide the target's version from its evidence and the policy; write the decision when ``apply``.

        Raises
        ------
        registrar.errors.DeploymentError
            The deployment keeps registrar from reading the evidence (a location it does not allow, S3
            refusing the function): the version is held with the reason first, then the event fails,
            to be dead-lettered and redriven once the configuration is fixed.
        """
        package = target.package
        if apply and self.announcer is not None:
            try:
                self.announcer.recover(package)
            except DecisionInFlightError as error:
                return Outcome.early(str(error), arn=package.ModelPackageArn)
        policy = self.policy()
        screened = precheck(package, policy)
        if isinstance(screened, Decision):
            return _from_decision(screened)
        evidence = self._evidence(target, screened)
        if isinstance(evidence, Outcome):
            return evidence
        if isinstance(evidence, Refusal):
            return self._refuse(target, evidence, apply=apply)
        champion = self._champion(package, screened, evidence)
        decision = decide(package, evidence, policy, screened, champion)
        outcome = self._write(decision, target, apply=apply)
        blocked = evidence.blocked or (champion.blocked if champion is not None else None)
        if blocked is not None:
            raise DeploymentError(f"{package.ModelPackageArn} is held: {blocked}")
        return outcome

    def _evidence(self, target: Target, matched: MatchedRule) -> Evidence | Refusal | Outcome:
        number, rule = matched
        if target.job is not None:
            foreign = foreign_evidence_reason(target.job, target.package, rule.evaluation_output, self.accounts)
            if foreign is not None:
                return Refusal(reason=foreign)
            return job_evidence(target.job, rule.evaluation_output, self.reports, package=target.package)
        if rule.evidence_from_jobs_only:
            output = rule.evaluation_output
            return Outcome.skipped(
                f"rule {number} takes its evidence from the evaluation job ({output.file} in output "
                f"{output.output_name!r}); the job's event decides this version",
                arn=target.package.ModelPackageArn,
            )
        foreign = foreign_evidence_reason(None, target.package, None, self.accounts)
        if foreign is not None:
            return Refusal(reason=foreign)
        return package_evidence(target.package, self.reports)

    def _refuse(self, target: Target, refusal: Refusal, *, apply: bool) -> Outcome:
        """Record why the job's evidence was refused, and decide nothing (the job may be re-run, bound)."""
        package = target.package
        update = refusal_update(package, refusal.reason)
        reasons = [f"evidence refused: {refusal.reason}", "nothing is decided on it"]
        if update is not None and apply:
            self._commit(update, target, verdict="Refused", reasons=reasons)
        if update is None:
            reasons.append(f"{REFUSED_KEY} already says so, or other entries leave it no room: nothing written")
        request = update.to_request() if update is not None else None
        # Not kept: a job re-run under the same name, bound this time, must be looked at again.
        return Outcome.skipped(reasons, arn=package.ModelPackageArn, verdict="Refused", request=request, final=False)

    def _champion(self, package: ModelPackage, matched: MatchedRule, evidence: Evidence) -> Evidence | None:
        if matched.rule.beat_champion is None or not evidence.usable:
            return None
        defending = self.registry.latest_approved(
            package.ModelPackageGroupName or "", excluding=package.ModelPackageArn
        )
        return champion_evidence(defending, self.reports) if defending is not None else None

    def _write(self, decision: Decision, target: Target, *, apply: bool) -> Outcome:
        package = target.package
        arn = package.ModelPackageArn
        try:
            desired = desired_update(decision, package)
            update = plan(desired, package) if desired is not None else None
        except InvalidUpdateError as error:
            return Outcome.invalid([*decision.reasons, str(error)], arn=arn, verdict=decision.verdict)
        if update is None:
            reasons = [*decision.reasons, "the package already records this decision; nothing to write"]
            return Outcome.unchanged(reasons, arn=arn, verdict=decision.verdict)
        if apply:
            self._commit(
                update,
                target,
                verdict=decision.verdict or "Held",
                reasons=decision.reasons,
                metrics=[_reading(check) for check in decision.checks],
                rule=decision.rule_number,
                policy_digest=decision.policy_digest,
                evidence=decision.evidence_uri,
            )
        return Outcome.updated(update.to_request(), decision.reasons, arn=arn, verdict=decision.verdict)

    def _commit(self, update: PackageUpdate, target: Target, **decided: Any) -> None:
        """Write ``update``; with an announcer, publish its ``Registrar Decision`` (``decided``: its members)."""
        if self.announcer is None:
            self.registry.update(update)
            return
        job = target.job.get("ProcessingJobName") if target.job is not None else None
        detail = self.announcer.detail(target.package, update, flow="approval", evaluation_job=job, **decided)
        self.announcer.commit(self.registry.update, update, detail)


def _reading(check: Check) -> MetricReading:
    return MetricReading(
        name=check.label,
        expression=check.metric,
        value=check.value,
        problem=check.problem,
        min=check.min,
        max=check.max,
        champion_value=check.champion_value,
        champion=check.champion,
        passed=check.passed,
        text=check.text,
    )


def _from_decision(decision: Decision) -> Outcome:
    arn = decision.model_package_arn
    if decision.kind == "skipped":
        return Outcome.skipped(decision.reasons, arn=arn, verdict=decision.verdict)
    return Outcome.unchanged(decision.reasons, arn=arn, verdict=decision.verdict)


@functools.cache
def deployed() -> ApprovalFlow:
    """The approval flow of a Lambda container, configured from its ``REGISTRAR_*`` environment on first use."""
    return ApprovalFlow.from_settings(deployed_settings())
