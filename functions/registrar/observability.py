"""Logger, Tracer and Metrics, created once; every handler uses the same three."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from registrar.outcome import Outcome

SERVICE = "registrar"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)

# One business metric per outcome; the dashboard and alarms read these names.
_VERDICT_METRICS = {
    "Approved": "PackageApproved",
    "Rejected": "PackageRejected",
    "Held": "PackageHeld",
    "Attached": "SpecAttached",
    "Recorded": "NeoRecorded",
    "OverCap": "SpecOverCap",
}


def metric_name(outcome: Outcome) -> str:
    """The business metric an outcome counts towards."""
    if outcome.verdict in _VERDICT_METRICS and outcome.outcome in ("updated", "skipped"):
        return _VERDICT_METRICS[outcome.verdict]
    if outcome.outcome == "updated":
        return "PackageUpdated"
    return {"unchanged": "EventUnchanged", "skipped": "EventSkipped", "invalid": "EventInvalid"}[outcome.outcome]


# Callables told of every handled event (the local demo prints them); empty in Lambda.
listeners: list[Callable[[Outcome], None]] = []


def record(outcome: Outcome) -> None:
    """Log one handled event with its package and reasons, count its outcome, and tell the listeners."""
    for listener in listeners:
        listener(outcome)
    metrics.add_metric(name=metric_name(outcome), unit=MetricUnit.Count, value=1)
    logger.info(
        "event handled",
        extra={
            "outcome": outcome.outcome,
            "verdict": outcome.verdict,
            "model_package_arn": outcome.model_package_arn,
            "reasons": outcome.reasons,
        },
    )


def count(name: str, value: float = 1) -> None:
    """Count an operational event (``EventFailed``, ``SweepCompleted``, ``JobsSwept``...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
