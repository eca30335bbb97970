"""The sweeper: only the pages it needs, one event per job, once, and a watermark that only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from registrar.bus import PublishError
from registrar.decisions.announce import Announcer
from registrar.neo.service import NeoFlow
from registrar.neo.sweep import DEFAULT_OVERLAP, find_finished_jobs, next_announced, sweep
from registrar.registry import Registry
from registrar.settings import Settings
from registrar.watermark import MAX_ANNOUNCED, MemoryWatermark, to_micros
from registrar_cli import sweep as cli_sweep
from registrar_cli.sweep import register_swept, sweep_line
from tests.unit.decisions.fakes import RecordingBus
from tests.unit.neo.fakes import T0, CountingWatermark, FakeBus, FakeRegistry, compilation_job, model_package

LOOKBACK = timedelta(hours=1)


def _time(watermark: MemoryWatermark) -> datetime | None:
    state = watermark.get()
    return state.time if state is not None else None


def _announced(watermark: MemoryWatermark) -> dict[str, int]:
    state = watermark.get()
    return dict(state.announced) if state is not None else {}


def _history(old: int = 990, new: int = 10) -> FakeRegistry:
    """``old`` jobs that ended long before T0 and ``new`` jobs that ended a minute apart after it."""
    jobs = [
        compilation_job(name=f"old-{index:04d}", modified=T0 - timedelta(days=2) + timedelta(minutes=index))
        for index in range(old)
    ]
    jobs += [
        compilation_job(name=f"new-{index:02d}", modified=T0 + timedelta(minutes=index + 1)) for index in range(new)
    ]
    return FakeRegistry(jobs=jobs, packages=[model_package()])


def test_a_sweep_over_1000_jobs_reads_only_the_page_with_the_10_new_ones() -> None:
    # GIVEN 1,000 finished jobs, 10 of them newer than the watermark
    registry, bus, watermark = _history(), FakeBus(), MemoryWatermark(T0)

    # WHEN the sweeper runs
    result = sweep(registry=registry, bus=bus, watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)

    # THEN one page per status is read, the 10 new jobs are published, oldest first
    assert registry.pages_read == {"COMPLETED": 1}
    assert len(registry.listed) == 10
    assert [d.CompilationJobName for d in bus.published] == [f"new-{index:02d}" for index in range(10)]
    assert (result.found, result.published) == (10, 10)
    assert result.since == T0 - DEFAULT_OVERLAP


def test_the_watermark_advances_to_the_last_change_seen() -> None:
    registry, watermark = _history(), MemoryWatermark(T0)

    result = sweep(
        registry=registry, bus=FakeBus(), watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK
    )

    assert result.watermark == _time(watermark) == T0 + timedelta(minutes=10)


def test_a_second_sweep_without_new_jobs_publishes_nothing() -> None:
    # GIVEN a sweep that announced the 10 new jobs
    registry, watermark = _history(), CountingWatermark(T0)
    first, second = FakeBus(), FakeBus()
    sweep(registry=registry, bus=first, watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)
    writes, pages = watermark.writes, dict(registry.pages_read)

    # WHEN the next sweep lists the overlap again, with no job changed
    result = sweep(registry=registry, bus=second, watermark=watermark, now=T0 + timedelta(hours=2), lookback=LOOKBACK)

    # THEN the 5 jobs of the overlap are listed (one page) but none is announced, and nothing is written
    assert second.published == []
    assert (result.found, result.published, result.skipped_already_announced) == (5, 0, 5)
    assert result.jobs == tuple(f"new-{index:02d}" for index in range(5, 10))
    assert registry.pages_read == {"COMPLETED": pages["COMPLETED"] + 1}
    assert watermark.writes == writes
    assert _time(watermark) == T0 + timedelta(minutes=10)


def test_the_watermark_remembers_the_jobs_announced_inside_the_overlap() -> None:
    registry, watermark = _history(), MemoryWatermark(T0)

    sweep(registry=registry, bus=FakeBus(), watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)

    # the watermark is at T0+10 min: only the jobs modified after T0+5 min can be listed again
    assert _announced(watermark) == {
        f"new-{index:02d}": to_micros(T0 + timedelta(minutes=index + 1)) for index in range(5, 10)
    }


def test_a_job_that_changed_inside_the_overlap_is_announced_again() -> None:
    # GIVEN the 10 new jobs announced
    registry, watermark = _history(), MemoryWatermark(T0)
    sweep(registry=registry, bus=FakeBus(), watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)

    # WHEN one job of the overlap is modified again (a new status) and another is only touched
    changed = T0 + timedelta(minutes=10, seconds=30)
    registry.jobs["new-07"].update(CompilationJobStatus="FAILED", LastModifiedTime=changed)
    registry.jobs["new-08"]["LastModifiedTime"] = T0 + timedelta(minutes=9, seconds=1)
    bus = FakeBus()
    result = sweep(registry=registry, bus=bus, watermark=watermark, now=T0 + timedelta(hours=2), lookback=LOOKBACK)

    # THEN only those two are announced again, with what they are now
    assert [(d.CompilationJobName, d.CompilationJobStatus) for d in bus.published] == [
        ("new-08", "COMPLETED"),
        ("new-07", "FAILED"),
    ]
    assert (result.found, result.published, result.skipped_already_announced) == (5, 2, 3)
    assert _time(watermark) == changed
    assert _announced(watermark)["new-07"] == to_micros(changed)

    # AND the sweep after that announces nothing
    again = FakeBus()
    sweep(registry=registry, bus=again, watermark=watermark, now=T0 + timedelta(hours=3), lookback=LOOKBACK)
    assert again.published == []


def test_the_jobs_remembered_are_pruned_to_the_window_as_the_watermark_advances() -> None:
    # GIVEN the 10 new jobs announced, then a job that ends 20 minutes later
    registry, watermark = _history(), MemoryWatermark(T0)
    sweep(registry=registry, bus=FakeBus(), watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)
    later = T0 + timedelta(minutes=30)
    registry.jobs["late"] = compilation_job(name="late", modified=later)
    bus = FakeBus()

    sweep(registry=registry, bus=bus, watermark=watermark, now=T0 + timedelta(hours=2), lookback=LOOKBACK)

    # THEN it alone is announced, and it alone is remembered: the others are before the new window
    assert [d.CompilationJobName for d in bus.published] == ["late"]
    assert _time(watermark) == later
    assert _announced(watermark) == {"late": to_micros(later)}


def test_the_jobs_remembered_are_bounded_keeping_the_newest() -> None:
    # GIVEN more jobs inside the overlap than the watermark remembers
    count = MAX_ANNOUNCED + 20
    jobs = [
        compilation_job(name=f"burst-{index:04d}", modified=T0 + timedelta(milliseconds=100 * index))
        for index in range(count)
    ]
    registry, watermark = FakeRegistry(jobs=jobs), MemoryWatermark(T0)
    sweep(registry=registry, bus=FakeBus(), watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)

    # THEN the newest are remembered, and only the 20 oldest are announced once more
    remembered = _announced(watermark)
    assert len(remembered) == MAX_ANNOUNCED
    assert min(remembered) == "burst-0020"
    bus = FakeBus()
    result = sweep(registry=registry, bus=bus, watermark=watermark, now=T0 + timedelta(hours=2), lookback=LOOKBACK)
    assert [d.CompilationJobName for d in bus.published] == [f"burst-{index:04d}" for index in range(20)]
    assert result.skipped_already_announced == MAX_ANNOUNCED


def test_next_announced_merges_prunes_and_bounds() -> None:
    # GIVEN remembered jobs on both sides of the window, and jobs just found
    watermark = T0 + timedelta(minutes=10)
    previous = {"gone": to_micros(T0), "edge": to_micros(watermark - DEFAULT_OVERLAP), "kept": to_micros(watermark)}
    listed = find_finished_jobs(_history(old=0, new=10), after=T0, now=T0 + timedelta(hours=1))
    details = [d for d in listed if d.CompilationJobName in {"new-05", "new-09"}]  # modified at T0+6 and T0+10 min

    merged = next_announced(previous, details, watermark=watermark)

    assert merged == {
        "kept": to_micros(watermark),
        "new-05": to_micros(T0 + timedelta(minutes=6)),
        "new-09": to_micros(T0 + timedelta(minutes=10)),
    }
    assert next_announced(previous, details, watermark=watermark, limit=2) == {
        "kept": to_micros(watermark),
        "new-09": to_micros(T0 + timedelta(minutes=10)),
    }
    # a remembered time later than the listed one wins
    assert next_announced({"new-05": to_micros(watermark)}, details, watermark=watermark)["new-05"] == to_micros(
        watermark
    )


def test_a_manual_sweep_since_announces_again_on_purpose() -> None:
    registry, watermark = _history(), MemoryWatermark(T0)
    sweep(registry=registry, bus=FakeBus(), watermark=watermark, now=T0 + timedelta(hours=1), lookback=LOOKBACK)
    bus = FakeBus()

    result = sweep(
        registry=registry,
        bus=bus,
        watermark=watermark,
        now=T0 + timedelta(hours=2),
        lookback=LOOKBACK,
        since=T0,
    )

    assert [d.CompilationJobName for d in bus.published] == [f"new-{index:02d}" for index in range(10)]
    assert (result.published, result.skipped_already_announced) == (10, 0)
    assert _time(watermark) == T0 + timedelta(minutes=10)
    assert len(_announced(watermark)) == 5


def test_the_watermark_never_moves_backwards() -> None:
    # GIVEN a watermark ahead of every job, and a manual re-sweep from a day earlier
    registry, watermark = _history(), MemoryWatermark(T0 + timedelta(hours=1))

    result = sweep(
        registry=registry,
        bus=FakeBus(),
        watermark=watermark,
        now=T0 + timedelta(hours=2),
        lookback=LOOKBACK,
        since=T0 - timedelta(days=1),
    )

    assert result.found == 10
    assert _time(watermark) == T0 + timedelta(hours=1)


def test_the_watermark_never_passes_now() -> None:
    # GIVEN a job that ended after the sweep started
    registry = FakeRegistry(
        jobs=[compilation_job(modified=T0 + timedelta(minutes=2), created=T0 - timedelta(minutes=5))]
    )
    watermark = MemoryWatermark(T0 - timedelta(minutes=30))

    result = sweep(registry=registry, bus=FakeBus(), watermark=watermark, now=T0, lookback=LOOKBACK)

    assert result.found == 1
    assert _time(watermark) == T0


def test_jobs_created_after_now_end_the_listing_early() -> None:
    # GIVEN 50 jobs created before the sweep and 100 created after it, 100 per page
    before = [compilation_job(name=f"b-{index:03d}", created=T0 - timedelta(minutes=60 - index)) for index in range(50)]
    after = [
        compilation_job(
            name=f"a-{index:03d}", created=T0 + timedelta(minutes=1 + index), modified=T0 + timedelta(hours=3)
        )
        for index in range(100)
    ]
    registry = FakeRegistry(jobs=before + after)

    result = sweep(
        registry=registry, bus=FakeBus(), watermark=MemoryWatermark(T0 - timedelta(hours=2)), now=T0, lookback=LOOKBACK
    )

    assert result.found == 50
    assert registry.pages_read == {"COMPLETED": 1}


def test_failed_and_stopped_jobs_are_swept_too() -> None:
    registry = FakeRegistry(
        jobs=[
            compilation_job(name="done", modified=T0 + timedelta(minutes=1)),
            compilation_job(name="broke", status="FAILED", modified=T0 + timedelta(minutes=2)),
            compilation_job(name="halted", status="STOPPED", modified=T0 + timedelta(minutes=3)),
            compilation_job(name="busy", status="INPROGRESS", modified=T0 + timedelta(minutes=4)),
        ]
    )
    bus = FakeBus()

    sweep(registry=registry, bus=bus, watermark=MemoryWatermark(T0), now=T0 + timedelta(hours=1), lookback=LOOKBACK)

    assert [(d.CompilationJobName, d.CompilationJobStatus) for d in bus.published] == [
        ("done", "COMPLETED"),
        ("broke", "FAILED"),
        ("halted", "STOPPED"),
    ]


def test_the_first_sweep_looks_back_and_pins_the_watermark() -> None:
    watermark = MemoryWatermark()

    result = sweep(registry=FakeRegistry(), bus=FakeBus(), watermark=watermark, now=T0, lookback=LOOKBACK)

    assert result.since == T0 - LOOKBACK
    assert (result.found, result.published) == (0, 0)
    assert _time(watermark) == T0 - LOOKBACK


def test_a_refused_publication_leaves_the_watermark_alone() -> None:
    registry, watermark = _history(), MemoryWatermark(T0)

    with pytest.raises(PublishError):
        sweep(
            registry=registry,
            bus=FakeBus(error=PublishError([("new-00", "InternalFailure", "")])),
            watermark=watermark,
            now=T0 + timedelta(hours=1),
            lookback=LOOKBACK,
        )

    assert _time(watermark) == T0


def test_events_carry_the_contract_members() -> None:
    registry, bus = _history(old=0, new=1), FakeBus()

    sweep(registry=registry, bus=bus, watermark=MemoryWatermark(T0), now=T0 + timedelta(hours=1), lookback=LOOKBACK)

    (detail,) = bus.published
    assert detail.model_dump(mode="json", exclude_none=True) == {
        "CompilationJobName": "new-00",
        "CompilationJobArn": "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/new-00",
        "CompilationJobStatus": "COMPLETED",
        "LastModifiedTime": "2024-05-01T12:01:00Z",
        "CompilationTargetDevice": "ml_c5",
    }


def test_register_swept_handles_each_job_and_then_advances() -> None:
    registry, watermark = _history(old=5, new=3), MemoryWatermark(T0)

    lines = [
        sweep_line(name, outcome)
        for name, outcome in register_swept(
            NeoFlow(registry=registry),
            registry,
            watermark=watermark,
            now=T0 + timedelta(hours=1),
            lookback=LOOKBACK,
            apply=True,
        )
    ]

    assert [line["compilation_job"] for line in lines] == ["new-00", "new-01", "new-02"]
    assert {line["outcome"] for line in lines} == {"updated"}
    assert set(lines[0]) == {"compilation_job", "model_package_arn", "outcome", "reasons"}
    assert _time(watermark) == T0 + timedelta(minutes=3)


def test_a_plan_only_sweep_writes_nothing_and_keeps_the_watermark() -> None:
    registry, watermark = _history(old=5, new=3), MemoryWatermark(T0)

    outcomes = list(
        register_swept(
            NeoFlow(registry=registry),
            registry,
            watermark=watermark,
            now=T0 + timedelta(hours=1),
            lookback=LOOKBACK,
            apply=False,
        )
    )

    assert len(outcomes) == 3
    assert registry.updates == []
    assert _time(watermark) == T0
    assert _announced(watermark) == {}


def test_the_cli_sweep_defaults_to_the_lookback_of_the_settings() -> None:
    # GIVEN jobs that ended 30 and 90 minutes ago, and a 60-minute lookback
    now = datetime.now(UTC)
    registry = FakeRegistry(
        jobs=[
            compilation_job(name="recent", modified=now - timedelta(minutes=30)),
            compilation_job(name="earlier", modified=now - timedelta(minutes=90)),
        ],
        packages=[model_package()],
    )
    bus = RecordingBus()

    # WHEN the CLI's sweep runs with the settings alone (and the fakes for SageMaker and the bus)
    lines = list(
        cli_sweep.sweep_and_register(
            Settings(sweep_lookback_minutes=60), registry=cast(Registry, registry), announcer=Announcer(bus=bus)
        )
    )

    # THEN only the job inside the lookback is registered, as one JSON line, and its write announced
    assert [line["compilation_job"] for line in lines] == ["recent"]
    assert lines[0]["outcome"] == "updated"
    assert len(registry.updates) == 1
    assert [(detail.verdict, detail.compilation_job) for detail in bus.published] == [("Attached", "recent")]
