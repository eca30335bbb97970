"""EventBridge rule patterns, defined once: the CDK app and the local topology both use these."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from registrar.events import (
    COMPILATION_JOB_STATE_CHANGE,
    ENDPOINT_STATE_CHANGE,
    IN_SERVICE_STATUSES,
    MODEL_PACKAGE_STATE_CHANGE,
    PROCESSING_JOB_STATE_CHANGE,
    REGISTRAR_SOURCE,
    SAGEMAKER_SOURCE,
)

# A registered version that awaits a decision: SageMaker Pipelines' evaluate-then-register flow.
EVALUATED_PACKAGE: dict[str, Any] = {
    "source": [SAGEMAKER_SOURCE],
    "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
    "detail": {
        "ModelPackageStatus": ["Completed"],
        "ModelApprovalStatus": ["PendingManualApproval"],
    },
}

# An evaluation job that ended; only jobs tagged with a package are acted on, which the handler checks.
FINISHED_PROCESSING_JOB: dict[str, Any] = {
    "source": [SAGEMAKER_SOURCE],
    "detail-type": [PROCESSING_JOB_STATE_CHANGE],
    "detail": {"ProcessingJobStatus": ["Completed", "Failed", "Stopped"]},
}

# registrar's own event for a finished Neo compilation (see docs/events.md).
FINISHED_COMPILATION_JOB: dict[str, Any] = {
    "source": [REGISTRAR_SOURCE],
    "detail-type": [COMPILATION_JOB_STATE_CHANGE],
    "detail": {"CompilationJobStatus": ["COMPLETED", "FAILED", "STOPPED"]},
}

# An endpoint that went into service: created, or at the end of an update. Its versions are read from SageMaker.
ENDPOINT_IN_SERVICE: dict[str, Any] = {
    "source": [SAGEMAKER_SOURCE],
    "detail-type": [ENDPOINT_STATE_CHANGE],
    "detail": {"EndpointStatus": list(IN_SERVICE_STATUSES)},
}

# flow name -> the patterns of the rules that feed its queue
FLOWS: dict[str, tuple[dict[str, Any], ...]] = {
    "approval": (EVALUATED_PACKAGE, FINISHED_PROCESSING_JOB),
    "neo": (FINISHED_COMPILATION_JOB,),
    "deployment": (ENDPOINT_IN_SERVICE,),
}

# What a workload account forwards to the registry account's bus: the events of the jobs that run there. A
# version's own events come from the registry account, where it lives, and endpoints are recorded where the
# registry runs (docs/decisions.md, "Several accounts").
FORWARDED: tuple[dict[str, Any], ...] = (FINISHED_PROCESSING_JOB, FINISHED_COMPILATION_JOB)


def for_account(pattern: Mapping[str, Any], account: str) -> dict[str, Any]:
    """``pattern`` narrowed to the events of one account: a copy with ``"account": [account]``.

    A rule on the default bus also sees events other accounts deliver to it (cross-account
    delivery), whatever their ``source``; matching on the account keeps those from every flow.
    The patterns above stay account-free because the account is only known where they are
    deployed (the stack's account, the emulator's).

    Parameters
    ----------
    pattern
        One of this module's patterns (left unchanged).
    account
        The account id whose events the rule may match (in the CDK app, the stack's account token).

    Returns
    -------
    dict
        A deep copy of ``pattern`` with its ``account`` key set to ``[account]``.
    """
    return {**copy.deepcopy(dict(pattern)), "account": [account]}


def for_accounts(pattern: Mapping[str, Any], accounts: Sequence[str]) -> dict[str, Any]:
    """``pattern`` narrowed to the events of ``accounts`` (the registry's own, then its workloads), once each.

    Raises
    ------
    ValueError
        When ``accounts`` is empty: a rule matching no account would silently match nothing.
    """
    if not accounts:
        raise ValueError("a rule must accept the events of at least one account")
    return {**copy.deepcopy(dict(pattern)), "account": list(dict.fromkeys(accounts))}


def for_registry(pattern: Mapping[str, Any], registry: str, workloads: Sequence[str] = ()) -> dict[str, Any]:
    """``pattern`` as the registry account's rule deploys it: its own events, and the workloads' it forwards.

    A pattern of :data:`FORWARDED` also matches the events of ``workloads``; any other (a version's own
    event, an endpoint's) matches the registry account's alone.

    Parameters
    ----------
    pattern
        One of :data:`FLOWS`' patterns.
    registry
        The account the stack is deployed in (in the CDK app, the stack's account token).
    workloads
        The workload accounts the deployment lists; none for a single account.
    """
    if workloads and any(pattern == forwarded for forwarded in FORWARDED):
        return for_accounts(pattern, [registry, *workloads])
    return for_account(pattern, registry)
