"""The e2e level: the demo's path, event -> rule -> queue -> handler -> registry, on a fresh emulator state."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from registrar_dev.emulator import Emulator


@pytest.fixture(scope="module")
def emulator(emulator: Emulator) -> Iterator[Emulator]:
    """The session's emulator (``tests/conftest.py``), its state reset before and after the module."""
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture(scope="module")
def isolated_environment() -> Iterator[None]:
    """The scenario configures the process as Lambda would; give the next tests their environment back."""
    from registrar_dev.support import fresh_container

    saved = dict(os.environ)
    fresh_container()
    yield
    os.environ.clear()
    os.environ.update(saved)
    fresh_container()
