"""The sweeper: find compilation jobs that ended since the watermark and announce each one.

SageMaker emits no event when a Neo compilation ends, so the sweeper lists the jobs that reached
COMPLETED, FAILED or STOPPED (``ListCompilationJobs`` with ``StatusEquals`` and
``LastModifiedTimeAfter``, so the service filters and only the pages holding new jobs are read) and
publishes one ``Compilation Job State Change`` per job. It is also the safety net: a lost event is
found again on the next sweep.

Watermark semantics
-------------------
- The query starts at ``watermark - overlap`` (5 minutes by default), or ``now - lookback`` when
  there is no watermark yet, or exactly at ``since`` when one is given. The overlap catches a job
  that ended just before the last sweep but was not yet listed.
- Jobs inside the overlap are listed again by every sweep, so the watermark also remembers which
  jobs it announced there (job name -> ``LastModifiedTime``): a listed job whose ``LastModifiedTime``
  is not later than the one remembered is not announced again (``skipped_already_announced``). A
  job's status never changes without its ``LastModifiedTime`` changing, so a job that changed is
  announced again. A manual sweep with ``since`` ignores the memory on purpose and re-announces
  every job it finds (registering a job is idempotent).
- After every job is published, the watermark advances to the greatest ``LastModifiedTime`` seen,
  never beyond ``now`` and never backwards (the store refuses a smaller value). Without jobs it
  stays where it was; the first sweep pins it at its own starting point. The jobs remembered are
  pruned on every write to those later than ``new watermark - overlap`` (the only ones the next
  sweep can list), at most :data:`registrar.watermark.MAX_ANNOUNCED`, the newest; a job dropped
  over that bound is announced again until it leaves the window. Nothing is written when neither
  the time nor the jobs remembered changed.
- A failed publication raises before the watermark moves, so the next sweep finds the same jobs.
- Jobs are listed by ``CreationTime``, ascending; a job created after ``now`` ends the listing early
  (it is found by the next sweep, since the watermark never passes ``now``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from registrar.events import CompilationJobStateChange, utc
from registrar.settings import Settings
from registrar.watermark import MAX_ANNOUNCED, MemoryWatermark, WatermarkState, newest, to_micros

DEFAULT_OVERLAP = timedelta(minutes=5)
SWEPT_STATUSES = ("COMPLETED", "FAILED", "STOPPED")
# Summary members worth carrying on the event, for users' own rules (the handler reads none of them).
_CARRIED = (
    "CompilationTargetDevice",
    "CompilationTargetPlatformOs",
    "CompilationTargetPlatformArch",
    "CompilationTargetPlatformAccelerator",
)


class JobLister(Protocol):
    """ListCompilationJobs, as :meth:`registrar.registry.Registry.list_compilation_jobs` offers it."""

    def list_compilation_jobs(
        self, *, status: str, modified_after: datetime, page_size: int = 100
    ) -> Iterable[dict[str, Any]]: ...


class Publisher(Protocol):
    """The bus (:class:`registrar.bus.EventBus`)."""

    def publish(self, details: Sequence[CompilationJobStateChange]) -> int: ...


class WatermarkStore(Protocol):
    """The sweeper's watermark (:class:`registrar.watermark.Watermark` or ``MemoryWatermark``)."""

    def get(self) -> WatermarkState | None: ...

    def advance(self, to: datetime, announced: Mapping[str, int] | None = None) -> None: ...


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did.

    Attributes
    ----------
    since
        The ``LastModifiedTimeAfter`` the jobs were listed with.
    found
        Finished jobs listed.
    published
        Events published (``found - skipped_already_announced`` when the sweep returns).
    watermark
        The watermark after the sweep.
    jobs
        The names of the jobs found, oldest change first.
    skipped_already_announced
        Jobs found but not published: an earlier sweep announced them with this ``LastModifiedTime``
        (or a later one).
    """

    since: datetime
    found: int
    published: int
    watermark: datetime | None
    jobs: tuple[str, ...] = ()
    skipped_already_announced: int = 0


def window_start(
    watermark: datetime | None,
    *,
    now: datetime,
    lookback: timedelta,
    since: datetime | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> datetime:
    """The ``LastModifiedTimeAfter`` of a sweep: ``since``, else ``watermark - overlap``, else ``now - lookback``."""
    if since is not None:
        return _aware(since)
    if watermark is not None:
        return _aware(watermark) - overlap
    return _aware(now) - lookback


def _aware(moment: Any) -> datetime:
    parsed = utc(moment)
    if parsed is None:
        raise ValueError("a timestamp is required")
    return parsed


def find_finished_jobs(registry: JobLister, *, after: datetime, now: datetime) -> list[CompilationJobStateChange]:
    """List the compilation jobs that ended after ``after``, as event details, oldest change first.

    Parameters
    ----------
    registry
        Lists compilation jobs (sorted by ``CreationTime``, ascending).
    after
        ``LastModifiedTimeAfter``; jobs the service returns at or before it are dropped too.
    now
        The sweep's time: a job created after it ends the listing of its status early.

    Returns
    -------
    list of CompilationJobStateChange
        One per job, sorted by ``LastModifiedTime`` then name.
    """
    after, now = _aware(after), _aware(now)
    found: dict[str, CompilationJobStateChange] = {}
    for status in SWEPT_STATUSES:
        for summary in registry.list_compilation_jobs(status=status, modified_after=after):
            created = utc(summary.get("CreationTime"))
            if created is not None and created > now:
                break
            modified = utc(summary.get("LastModifiedTime"))
            if modified is not None and modified <= after:
                continue
            job_status = summary.get("CompilationJobStatus") or status
            if job_status not in SWEPT_STATUSES:  # changed again since it was listed, or a lax filter
                continue
            extra = {key: summary[key] for key in _CARRIED if summary.get(key)}
            found[summary["CompilationJobName"]] = CompilationJobStateChange(
                CompilationJobName=summary["CompilationJobName"],
                CompilationJobArn=summary.get("CompilationJobArn"),
                CompilationJobStatus=job_status,
                LastModifiedTime=modified,
                **extra,
            )
    return sorted(found.values(), key=_change_order)


def _change_order(detail: CompilationJobStateChange) -> tuple[datetime, str]:
    return detail.LastModifiedTime or datetime.min.replace(tzinfo=UTC), detail.CompilationJobName


def next_watermark(
    current: datetime | None, details: Sequence[CompilationJobStateChange], *, start: datetime, now: datetime
) -> datetime:
    """The watermark after a sweep: the greatest ``LastModifiedTime`` seen, never beyond ``now`` nor backwards.

    ``start`` (the sweep's own starting point) stands in for a missing watermark, so the first sweep
    pins where the next one begins.
    """
    now = _aware(now)
    candidates = [_aware(current) if current is not None else min(_aware(start), now)]
    candidates += [min(d.LastModifiedTime, now) for d in details if d.LastModifiedTime is not None]
    return max(candidates)


def already_announced(detail: CompilationJobStateChange, announced: Mapping[str, int]) -> bool:
    """Whether ``announced`` holds the job with a ``LastModifiedTime`` at or after the listed one."""
    if detail.LastModifiedTime is None:
        return False
    previous = announced.get(detail.CompilationJobName)
    return previous is not None and to_micros(detail.LastModifiedTime) <= previous


def next_announced(
    previous: Mapping[str, int],
    details: Sequence[CompilationJobStateChange],
    *,
    watermark: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
    limit: int = MAX_ANNOUNCED,
) -> dict[str, int]:
    """The jobs to remember after a sweep, job name -> ``LastModifiedTime`` in epoch microseconds.

    The ones remembered before and the ones found (the later time of a job wins), pruned to those
    later than ``watermark - overlap`` (the next sweep lists no other), and to the ``limit`` newest.
    """
    merged = dict(previous)
    for detail in details:
        if detail.LastModifiedTime is None:
            continue
        micros = to_micros(detail.LastModifiedTime)
        merged[detail.CompilationJobName] = max(micros, merged.get(detail.CompilationJobName, micros))
    floor = to_micros(_aware(watermark) - overlap)
    return newest({name: micros for name, micros in merged.items() if micros > floor}, limit)


@dataclass(frozen=True)
class Survey:
    """One sweep's reading: where it started, what it found and which of those to announce."""

    current: WatermarkState | None
    start: datetime
    found: list[CompilationJobStateChange]
    fresh: list[CompilationJobStateChange]


def survey(
    registry: JobLister,
    watermark: WatermarkStore,
    *,
    now: datetime,
    lookback: timedelta,
    since: datetime | None,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> Survey:
    """Read the watermark and list the jobs finished since it: the first half of a sweep, with no side effect."""
    current = watermark.get()
    start = window_start(
        current.time if current is not None else None, now=now, lookback=lookback, since=since, overlap=overlap
    )
    found = find_finished_jobs(registry, after=start, now=now)
    remembered: Mapping[str, int] = current.announced if current is not None and since is None else {}
    fresh = [detail for detail in found if not already_announced(detail, remembered)]
    return Survey(current=current, start=start, found=found, fresh=fresh)


def advance(
    watermark: WatermarkStore, swept: Survey, *, now: datetime, overlap: timedelta = DEFAULT_OVERLAP
) -> datetime:
    """The second half of a sweep: advance the watermark and remember the jobs announced; write only on a change."""
    current = swept.current
    new = next_watermark(current.time if current is not None else None, swept.found, start=swept.start, now=now)
    previous = dict(current.announced) if current is not None else {}
    announced = next_announced(previous, swept.found, watermark=new, overlap=overlap)
    if current is None or new > _aware(current.time) or announced != previous:
        watermark.advance(new, announced)
    return new


def sweep(
    *,
    registry: JobLister,
    bus: Publisher,
    watermark: WatermarkStore,
    now: datetime,
    lookback: timedelta,
    since: datetime | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> SweepResult:
    """Publish one ``Compilation Job State Change`` per compilation job that ended since the watermark.

    Parameters
    ----------
    registry
        Lists compilation jobs.
    bus
        Publishes the events.
    watermark
        Where the last sweep ended and the jobs it announced in the overlap; advanced (and the jobs
        remembered) after every event is published.
    now
        The sweep's time (the watermark never passes it).
    lookback
        How far back the first sweep looks, when there is no watermark.
    since
        List from exactly this time instead (a manual re-sweep): every job found is announced, even
        one already announced; the watermark still only advances.
    overlap
        Subtracted from the watermark when listing (see the module docstring).

    Returns
    -------
    SweepResult
        The jobs found, published and skipped as already announced, and the new watermark.

    Raises
    ------
    registrar.bus.PublishError
        When the bus refuses events after its retries; the watermark is left unchanged.
    """
    swept = survey(registry, watermark, now=now, lookback=lookback, since=since, overlap=overlap)
    published = bus.publish(swept.fresh) if swept.fresh else 0
    new = advance(watermark, swept, now=now, overlap=overlap)
    return SweepResult(
        since=swept.start,
        found=len(swept.found),
        published=published,
        watermark=new,
        jobs=tuple(d.CompilationJobName for d in swept.found),
        skipped_already_announced=len(swept.found) - len(swept.fresh),
    )


_MEMORY_WATERMARK = MemoryWatermark()  # a table-less run (local) still remembers between its own sweeps


def deployed_sweep(settings: Settings, *, now: datetime | None = None) -> SweepResult:
    """One sweep with the configured bus and watermark (DynamoDB when a table is configured): the sweeper function."""
    from registrar.bus import EventBus
    from registrar.registry import Registry
    from registrar.watermark import Watermark

    watermark: WatermarkStore = Watermark(settings.table_name) if settings.table_name else _MEMORY_WATERMARK
    return sweep(
        registry=Registry(),
        bus=EventBus(settings.event_bus_name),
        watermark=watermark,
        now=now or datetime.now(UTC),
        lookback=timedelta(minutes=settings.sweep_lookback_minutes),
    )
