"""The approval flow's I/O: from an event to an Outcome, reading state from AWS and writing at most once.

``handle`` re-reads everything it decides on (the package, the job, the reports) and never trusts
values carried by the event: the event only says which package or job to look at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from registrar.approval.decide import Decision, decide, desired_update, precheck
from registrar.approval.evidence import (
    FINISHED_JOB_STATUSES,
    Evidence,
    ReportReader,
    champion_evidence,
    job_evidence,
    package_evidence,
)
from registrar.approval.policy import Policy
from registrar.errors import InvalidUpdateError
from registrar.events import ModelPackageEvent, ProcessingJobEvent
from registrar.outcome import Outcome
from registrar.package import ModelPackage, unmanaged_reason
from registrar.plan import plan
from registrar.updates import PackageUpdate

PACKAGE_TAG = "registrar:model-package-arn"
# A versioned package: model-package/<group>/<version>. An unversioned package has no group to match.
VERSION_ARN = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/[0-9]+"
)


# DescribeModelPackage's answers for a package that does not exist (SageMaker says ValidationException).
NOT_FOUND = frozenset({"ValidationException", "ResourceNotFound"})


def _error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (read without importing botocore), else ``None``."""
    response = getattr(error, "response", None)
    code = (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else None


def _error_message(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str((response.get("Error") or {}).get("Message") or error)[:300]


class PackageRegistry(Protocol):
    """The calls the approval flow makes on SageMaker (:class:`registrar.registry.Registry`, or a fake)."""

    def describe(self, model_package_arn: str) -> ModelPackage:
        """DescribeModelPackage."""
        ...

    def describe_processing_job(self, name: str) -> dict[str, Any]:
        """DescribeProcessingJob by name."""
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


def _from_decision(decision: Decision, subject: str | None) -> Outcome:
    kind = "skipped" if decision.kind == "skipped" else "unchanged"
    return Outcome(
        outcome=kind,
        model_package_arn=decision.model_package_arn,
        reasons=list(decision.reasons),
        verdict=decision.verdict,
        subject=subject,
    )


def handle(
    event: ModelPackageEvent | ProcessingJobEvent,
    *,
    registry: PackageRegistry,
    reports: ReportReader,
    policy: Policy,
    apply: bool,
    managed_groups: Sequence[str] = (),
) -> Outcome:
    """Decide the package an event points at, and write the decision when ``apply`` is true.

    Parameters
    ----------
    event
        A ``SageMaker Model Package State Change`` or ``SageMaker Processing Job State Change``.
    registry
        SageMaker: one DescribeModelPackage per event; DescribeProcessingJob and ListTags for a
        job event; the champion only when the matching rule has ``beat_champion``; UpdateModelPackage
        only when ``apply`` is true and the plan is not empty.
    reports
        S3 reports: one read for the candidate, one for the champion when compared.
    policy
        The approval policy.
    apply
        ``False`` plans only (``registrar plan``): the request is returned, nothing is written.
    managed_groups
        fnmatch patterns of the groups registrar may act on; empty allows any.

    Returns
    -------
    Outcome
        ``updated`` (with the request), ``unchanged``, ``skipped`` or ``invalid``, with the reasons and
        the verdict (``Approved``, ``Rejected``, ``Held``) when one was reached.
    """
    subject = event.subject
    job: dict[str, Any] | None = None
    if isinstance(event, ModelPackageEvent):
        detail = event.detail
        if detail.caused_by_own_write:
            fields = ", ".join(detail.UpdatedModelPackageFields)
            return Outcome(
                outcome="skipped",
                model_package_arn=detail.ModelPackageArn,
                reasons=[f"the event reports registrar's own kind of update ({fields}); not decided again"],
                subject=subject,
            )
        arn = detail.ModelPackageArn
    else:
        job = registry.describe_processing_job(event.detail.job_name)
        job_arn = str(job.get("ProcessingJobArn") or event.detail.ProcessingJobArn)
        linked = registry.tags(job_arn).get(PACKAGE_TAG)
        if linked is None:
            # The job may be tagged later and its event sent again under the same subject: not final.
            return Outcome(
                outcome="skipped",
                reasons=[f"job carries no {PACKAGE_TAG} tag ({job_arn})"],
                subject=subject,
                final=False,
            )
        if not VERSION_ARN.fullmatch(linked):
            return Outcome(
                outcome="invalid",
                reasons=[f"job {job_arn} tag {PACKAGE_TAG} is {linked!r}, not a model package version ARN"],
                subject=subject,
            )
        arn = linked
        status = job.get("ProcessingJobStatus")
        if status not in FINISHED_JOB_STATUSES:
            return Outcome(
                outcome="skipped",
                model_package_arn=arn,
                reasons=[f"job {job_arn} is {status or 'without a status'}, not finished: the event is early"],
                subject=subject,
                retry=True,
            )

    unmanaged = unmanaged_reason(arn, managed_groups)
    if unmanaged is not None:
        # Not described: the function's role allows DescribeModelPackage on the managed groups only.
        return Outcome(outcome="skipped", model_package_arn=arn, reasons=[unmanaged], subject=subject)
    try:
        package = registry.describe(arn)
    except Exception as error:
        # No such package (a forged or stale event, an ARN of another account or region): poison, not a retry.
        if _error_code(error) not in NOT_FOUND:
            raise
        return Outcome(
            outcome="invalid",
            model_package_arn=arn,
            reasons=[f"model package {arn} cannot be described: {_error_code(error)} ({_error_message(error)})"],
            subject=subject,
        )
    early = precheck(package, policy, managed_groups)
    if early is not None:
        return _from_decision(early, subject)
    group = package.ModelPackageGroupName or ""
    matched = policy.match(group)
    if matched is None:  # precheck skips unmatched groups; this keeps the types exact
        return Outcome(outcome="skipped", model_package_arn=arn, reasons=[f"group {group} matches no rule"])
    number, rule = matched

    if job is None:
        if rule.evidence_from_jobs_only:
            output = rule.evaluation_output
            return Outcome(
                outcome="skipped",
                model_package_arn=arn,
                reasons=[
                    f"rule {number} takes its evidence from the evaluation job ({output.file} in output "
                    f"{output.output_name!r}); the job's event decides this version"
                ],
                subject=subject,
            )
        evidence = package_evidence(package, reports)
    else:
        evidence = job_evidence(job, rule.evaluation_output, reports, subject=arn)

    champion: Evidence | None = None
    if rule.beat_champion is not None and evidence.usable:
        defending = registry.latest_approved(group, excluding=arn)
        if defending is not None:
            champion = champion_evidence(defending, reports)

    decision = decide(package, evidence, policy, champion)
    if decision.kind != "decided":
        return _from_decision(decision, subject)
    try:
        desired = desired_update(decision, package)
        update = plan(desired, package) if desired is not None else None
    except InvalidUpdateError as error:
        return Outcome(
            outcome="invalid",
            model_package_arn=arn,
            reasons=[*decision.reasons, str(error)],
            verdict=decision.verdict,
            subject=subject,
        )
    if update is None:
        return Outcome(
            outcome="unchanged",
            model_package_arn=arn,
            reasons=[*decision.reasons, "the package already records this decision; nothing to write"],
            verdict=decision.verdict,
            subject=subject,
        )
    if apply:
        registry.update(update)
    return Outcome(
        outcome="updated",
        model_package_arn=arn,
        request=update.to_request(),
        reasons=list(decision.reasons),
        verdict=decision.verdict,
        subject=subject,
    )
