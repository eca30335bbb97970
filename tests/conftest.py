"""Test levels: unit tests run with the network blocked; the others may reach loopback only."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from pytest_socket import disable_socket, socket_allow_hosts

if TYPE_CHECKING:
    from registrar_dev.emulator import Emulator

ROOT = pathlib.Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
# Modules that mostly wait (the burst waits out five visibility timeouts of its poison): collected first, so that
# under ``make test`` (pytest-xdist, one file per worker at a time) the other worker runs the rest meanwhile.
LONG_WAITS = ("tests/reliability/test_burst.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the long-waiting modules to the front, keeping every other test in its order."""

    def waits_long(item: pytest.Item) -> bool:
        return pathlib.Path(str(item.path)).relative_to(ROOT).as_posix() in LONG_WAITS

    items.sort(key=lambda item: not waits_long(item))


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The emulator of the session's integration, e2e and reliability tests, on a free loopback port.

    One server: moto's state is process-wide anyway (``registrar_dev.emulator.server``), so a second one
    would only be a second thread serving the same backends. Each test resets what it uses.
    """
    from registrar_dev.emulator import start

    with start() as running:
        yield running


@pytest.fixture(autouse=True)
def _network_policy(request: pytest.FixtureRequest) -> None:
    if "unit" in pathlib.Path(str(request.node.fspath)).relative_to(ROOT / "tests").parts[:1]:
        disable_socket(allow_unix_socket=True)
    else:
        socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real account by accident: fake credentials, a fixed region."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "registrar-tests")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "registrar")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    from registrar import aws

    aws.reset_clients()


@pytest.fixture(autouse=True)
def _no_metrics_left_behind() -> Iterator[None]:
    """Metrics a test added and no decorated handler flushed are dropped, not printed into a later test's output.

    Powertools keeps one metric set per process; a test that calls ``process_batch`` directly (no
    ``log_metrics``) would otherwise hand its counts to the next handler invocation, whichever test makes it.
    """
    yield
    from registrar.observability import metrics

    metrics.clear_metrics()


def load_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/``."""
    return json.loads((EVENTS / relative).read_text())
