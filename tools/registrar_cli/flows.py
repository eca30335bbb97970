"""Which flow an event belongs to, picked from its ``detail-type``, and handling it through that flow's entry points.

The functions each take one flow's events (``handlers/``); the CLI takes any event registrar handles
and hands it to the flow a deployed rule would have routed it to (``registrar.patterns.FLOWS``).
"""

from __future__ import annotations

from typing import Any

from registrar.approval import service as approval
from registrar.deployments import service as deployment
from registrar.errors import EventError
from registrar.events import (
    COMPILATION_JOB_STATE_CHANGE,
    ENDPOINT_STATE_CHANGE,
    MODEL_PACKAGE_STATE_CHANGE,
    PROCESSING_JOB_STATE_CHANGE,
)
from registrar.neo import service as neo
from registrar.outcome import Outcome
from registrar.settings import Settings

FLOW_OF: dict[str, str] = {
    MODEL_PACKAGE_STATE_CHANGE: "approval",
    PROCESSING_JOB_STATE_CHANGE: "approval",
    COMPILATION_JOB_STATE_CHANGE: "neo",
    ENDPOINT_STATE_CHANGE: "deployment",
}


def flow_name(raw: Any) -> str:
    """``approval``, ``neo`` or ``deployment`` for an event's ``detail-type``.

    Raises
    ------
    EventError
        The event is not a JSON object, or no flow of registrar handles its detail-type.
    """
    if not isinstance(raw, dict):
        raise EventError(f"event: must be a JSON object, got {type(raw).__name__}")
    detail_type = raw.get("detail-type")
    name = FLOW_OF.get(detail_type) if isinstance(detail_type, str) else None
    if name is None:
        raise EventError(
            f"event: detail-type {detail_type!r} is not an event registrar handles ({', '.join(sorted(FLOW_OF))})"
        )
    return name


def handle(
    raw: Any,
    *,
    settings: Settings,
    apply: bool,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> Outcome:
    """Parse ``raw`` with its flow's parser and handle it with that flow, configured by ``settings``.

    Raises
    ------
    EventError
        The event is not one registrar handles (see :func:`flow_name` and the flows' ``parse``).
    """
    name = flow_name(raw)
    if name == "deployment":
        endpoint = deployment.parse(raw)
        return deployment.DeploymentFlow.from_settings(settings, endpoint_url=endpoint_url, region=region).handle(
            endpoint, apply=apply
        )
    if name == "neo":
        compilation = neo.parse(raw)
        return neo.NeoFlow.from_settings(settings, endpoint_url=endpoint_url, region=region).handle(
            compilation, apply=apply
        )
    event = approval.parse(raw)
    return approval.ApprovalFlow.from_settings(settings, endpoint_url=endpoint_url, region=region).handle(
        event, apply=apply
    )
