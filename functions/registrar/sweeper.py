"""The scheduled sweep: wire the adapters from the settings and run one sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registrar.bus import EventBus
from registrar.neo.sweep import SweepResult, WatermarkStore, sweep
from registrar.registry import Registry
from registrar.settings import Settings
from registrar.watermark import MemoryWatermark, Watermark

_MEMORY_WATERMARK = MemoryWatermark()  # a table-less run (local) still remembers between its own sweeps


def run_sweep(settings: Settings, *, registry: Registry | None = None, now: datetime | None = None) -> SweepResult:
    """One sweep with the configured bus and watermark (DynamoDB when a table is configured)."""
    watermark: WatermarkStore = Watermark(settings.table_name) if settings.table_name else _MEMORY_WATERMARK
    return sweep(
        registry=registry or Registry(),
        bus=EventBus(settings.event_bus_name),
        watermark=watermark,
        now=now or datetime.now(UTC),
        lookback=timedelta(minutes=settings.sweep_lookback_minutes),
    )
