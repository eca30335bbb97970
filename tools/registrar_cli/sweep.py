"""``registrar sweep``: the sweeper's listing, each job registered at once instead of announced on a bus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from registrar.decisions.announce import Announcer, announcer_for
from registrar.neo.service import NeoFlow
from registrar.neo.sweep import DEFAULT_OVERLAP, JobLister, WatermarkStore, advance, survey
from registrar.outcome import Outcome
from registrar.registry import Registry
from registrar.settings import Settings
from registrar.watermark import MemoryWatermark


def sweep_and_register(
    settings: Settings,
    *,
    since: datetime | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    registry: Registry | None = None,
    announcer: Announcer | None = None,
) -> Iterator[dict[str, Any]]:
    """Register every compilation job finished since ``since`` (else the lookback), one JSON line each.

    The lines are :func:`sweep_line`'s, oldest change first; the registry is SageMaker at
    ``endpoint_url`` (else the environment's), and each write is announced on its default bus, unless
    ``registry`` and ``announcer`` are given.
    """
    registry = registry if registry is not None else Registry(endpoint_url=endpoint_url, region=region)
    flow = NeoFlow(
        registry=registry,
        managed_groups=tuple(settings.managed_groups),
        output_locations=tuple(settings.neo_output_locations),
        announcer=announcer
        if announcer is not None
        else announcer_for(settings, endpoint_url=endpoint_url, region=region),
    )
    lookback = timedelta(minutes=settings.sweep_lookback_minutes)
    for name, outcome in register_swept(flow, registry, lookback=lookback, since=since):
        yield sweep_line(name, outcome)


def register_swept(
    flow: NeoFlow,
    lister: JobLister,
    *,
    lookback: timedelta,
    watermark: WatermarkStore | None = None,
    now: datetime | None = None,
    since: datetime | None = None,
    apply: bool = True,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> Iterator[tuple[str, Outcome]]:
    """Sweep without a bus: register each job found with ``flow`` directly.

    Parameters
    ----------
    flow
        Registers each job (its registry describes and updates).
    lister
        Lists compilation jobs (a :class:`registrar.registry.Registry`).
    lookback
        How far back to look without a watermark.
    watermark
        Where to start from, and the jobs already handled in its overlap (skipped, as a sweep
        does); by default an in-memory one, so the sweep starts at ``since`` or ``now - lookback``.
    now
        The sweep's time; by default the current time.
    since
        List from exactly this time instead, registering every job found again.
    apply
        ``False`` plans every request without sending it.
    overlap
        As for :func:`registrar.neo.sweep.sweep`.

    Yields
    ------
    tuple of (str, Outcome)
        The job's name and what registering it did, oldest change first.

    Notes
    -----
    The watermark advances (and remembers the jobs) once every job has been registered and only when
    ``apply`` is true: a plan-only run must not make the next real run skip jobs. Stop iterating
    early and it stays put.
    """
    watermark = watermark if watermark is not None else MemoryWatermark()
    now = now if now is not None else datetime.now(UTC)
    swept = survey(lister, watermark, now=now, lookback=lookback, since=since, overlap=overlap)
    for detail in swept.fresh:
        yield detail.CompilationJobName, flow.register(detail.CompilationJobName, apply=apply)
    if apply:
        advance(watermark, swept, now=now, overlap=overlap)


def sweep_line(job_name: str, outcome: Outcome) -> dict[str, Any]:
    """One JSON line of ``registrar sweep``: the job, its package, the outcome and the reasons."""
    return {
        "compilation_job": job_name,
        "model_package_arn": outcome.model_package_arn,
        "outcome": outcome.outcome,
        "reasons": list(outcome.reasons),
    }
