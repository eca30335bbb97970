"""Logger, Tracer and Metrics, created once; every handler uses the same three."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

from registrar.outcome import Outcome

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "registrar"
F = TypeVar("F", bound=Callable[..., Any])


class Untraced:
    """What :data:`tracer` is when tracing is off: the decorators registrar uses, doing nothing.

    Powertools' Tracer imports the X-Ray SDK and builds its sampling client even when disabled (about
    0.2 s of a cold start), then only opens dummy segments; without tracing there is nothing to pay for.
    """

    def capture_lambda_handler(self, handler: F) -> F:
        """Return ``handler`` unchanged."""
        return handler

    def capture_method(self, method: F) -> F:
        """Return ``method`` unchanged."""
        return method


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Powertools' Tracer would trace, by its own rules.

    It does in Lambda (``LAMBDA_TASK_ROOT`` set), except under SAM local or Chalice, and unless
    ``POWERTOOLS_TRACE_DISABLED`` is true.
    """
    env = os.environ if environ is None else environ
    if resolve_truthy_env_var_choice(env=env.get(constants.TRACER_DISABLED_ENV, "false")):
        return False
    in_lambda = bool(env.get(constants.LAMBDA_TASK_ROOT_ENV))
    return in_lambda and not (env.get(constants.SAM_LOCAL_ENV) or env.get(constants.CHALICE_LOCAL_ENV))


def _tracer() -> Tracer | Untraced:
    if not tracing_enabled():
        return Untraced()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


# An account id: twelve digits standing alone, as in an ARN (…:123456789012:…), an ECR registry
# (123456789012.dkr.ecr…), a queue URL (…amazonaws.com/123456789012/queue) or a message.
# Not after a decimal point: "auc 0.912345678901" is a metric registrar writes with 12 significant digits.
_ACCOUNT_ID = re.compile(r"(?<![0-9.])[0-9]{12}(?![0-9])")
REDACTED_ACCOUNT = "************"


def redact(text: str) -> str:
    """``text`` with every account id masked; mask before cutting a text, or a cut id escapes the pattern."""
    return _ACCOUNT_ID.sub(REDACTED_ACCOUNT, text)


def cut(text: str, limit: int = 500) -> str:
    """``text`` masked (:func:`redact`), then cut to ``limit`` characters: what a log line carries of a reason."""
    return redact(text)[:limit]


def redacted_json(log: Any) -> str:
    """A log record as Powertools serialises it (compact JSON), with every account id masked.

    Operators read which package, group, version and region; the account is the one the logs live in.
    """
    return redact(json.dumps(log, default=str, separators=(",", ":")))


logger = Logger(service=SERVICE, json_serializer=redacted_json)
tracer = _tracer()
metrics = Metrics(namespace=SERVICE, service=SERVICE)

# One business metric per outcome; the dashboard and alarms read these names.
_VERDICT_METRICS = {
    "Approved": "PackageApproved",
    "Rejected": "PackageRejected",
    "Held": "PackageHeld",
    "Attached": "SpecAttached",
    "Recorded": "NeoRecorded",
    "OverCap": "SpecOverCap",
    "Refused": "EvidenceRefused",
    "Deployed": "DeploymentRecorded",
    "Retired": "DeploymentRetired",
}


def metric_name(outcome: Outcome) -> str:
    """The business metric an outcome counts towards."""
    if outcome.verdict in _VERDICT_METRICS and outcome.outcome in ("updated", "skipped"):
        return _VERDICT_METRICS[outcome.verdict]
    if outcome.outcome == "updated":
        return "PackageUpdated"
    return {"unchanged": "EventUnchanged", "skipped": "EventSkipped", "invalid": "EventInvalid"}[outcome.outcome]


HANDLED = "event handled"


def record(outcome: Outcome, *, subject: str | None = None) -> None:
    """Log one handled event with its package and reasons (the message :data:`HANDLED`), and count its outcome.

    The log line is the record of what registrar did: operators read it in CloudWatch, and the local
    tools (the demo, the benchmarks) read the same line from the ``registrar`` logger. ``subject`` is
    what the event was deduplicated on, when it got that far.
    """
    metrics.add_metric(name=metric_name(outcome), unit=MetricUnit.Count, value=1)
    logger.info(
        HANDLED,
        extra={
            "outcome": outcome.outcome,
            "verdict": outcome.verdict,
            "model_package_arn": outcome.model_package_arn,
            "reasons": outcome.reasons,
            "request": outcome.request,
            **({"subject": subject} if subject is not None else {}),
        },
    )


def count(name: str, value: float = 1) -> None:
    """Count an operational event (``EventFailed``, ``SweepCompleted``, ``JobsSwept``...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
