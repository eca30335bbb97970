"""Fixtures of the reliability tests: registrar configured as a deployed function, faults, and logs.

Everything registrar does here goes through its real clients against the session's embedded emulator (the
``emulator`` fixture of ``tests/conftest.py``); faults come from :class:`registrar_dev.faults.FaultInjector`
(botocore event hooks), logs from a handler added to registrar's Powertools logger. Nothing of registrar is
patched.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from registrar import observability
from registrar.outcome import Outcome
from registrar_dev.emulator import Emulator
from registrar_dev.faults import FaultInjector
from registrar_dev.outcomes import listening
from registrar_dev.support import CallCounter
from tests.reliability.world import TABLE, World, lambda_environment


@pytest.fixture
def world(emulator: Emulator) -> Iterator[World]:
    """A fresh emulator state (report bucket, idempotency table, event capture) and registrar configured for it."""
    emulator.reset()
    emulator.emit_events = True
    with lambda_environment(emulator, REGISTRAR_TABLE_NAME=TABLE):
        yield World.create(emulator)


@pytest.fixture
def calls(world: World) -> CallCounter:
    """Every AWS call registrar's own clients make in the test (``registrar.aws.observe_calls``)."""
    return CallCounter().start()


@pytest.fixture
def faults(world: World) -> Iterator[FaultInjector]:
    """A fault injector on registrar's session, injecting nothing until told (``fail_next``, ``always_fail``)."""
    injector = FaultInjector().install()
    yield injector
    injector.uninstall()


@pytest.fixture
def outcomes() -> Iterator[list[Outcome]]:
    """Every outcome registrar records, in order, read from its ``event handled`` log lines.

    That is each event decided (the handler's body ran to its end), and each settled before
    deduplication (an unlinked job, an unmanaged group, a package that does not exist).
    """
    seen: list[Outcome] = []
    with listening(lambda outcome, _subject: seen.append(outcome)):
        yield seen


@pytest.fixture
def powertools_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines registrar's Powertools logger writes, formatted by its own formatter, at INFO and above.

    Powertools' handler keeps the ``sys.stdout`` it found when registrar was imported, which ``capsys``
    does not replace; a second handler with the very formatter Powertools uses sees the same lines.
    Returns a function giving the lines logged so far, parsed.
    """
    logger = observability.logger
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("INFO")

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    try:
        yield lines
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
        logger.setLevel(level)
