"""The emulator starts on loopback, resets, refuses another moto, and serves until signalled."""

from __future__ import annotations

import importlib.metadata
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest

from registrar_dev.emulator import Emulator, UnsupportedMotoVersionError, start
from registrar_dev.emulator.server import CannotServeError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def test_endpoint_is_on_loopback(emulator: Emulator) -> None:
    # GIVEN/WHEN the session's emulator, started on port 0
    # THEN its endpoint is a concrete loopback port, in moto's default account and us-east-1
    assert emulator.endpoint == f"http://127.0.0.1:{emulator.port}"
    assert (emulator.port > 0, emulator.region, emulator.account_id) == (True, "us-east-1", "123456789012")


def test_aws_fixture_points_boto3_at_emulator(aws: Emulator) -> None:
    # GIVEN the aws fixture's environment
    # WHEN a client is made without an endpoint
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="from-environment")

    # THEN it talks to the emulator
    assert sqs.meta.endpoint_url == aws.endpoint


def test_reset_forgets_resources(aws: Emulator, sagemaker: SageMakerClient) -> None:
    # GIVEN a model package group
    sagemaker.create_model_package_group(ModelPackageGroupName="forgotten")

    # WHEN the emulator is reset
    aws.reset()

    # THEN the group is gone
    assert sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def test_other_moto_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN another moto version is installed
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.1.0")

    # WHEN/THEN starting the emulator fails, naming both versions
    with pytest.raises(UnsupportedMotoVersionError, match=r"5\.2\.5.*5\.1\.0"):
        start()


def test_serve_prints_endpoint_first_and_exits_zero_on_sigterm() -> None:
    # GIVEN `serve` running in its own process on a free port
    command = "from registrar_dev.emulator import serve; serve('127.0.0.1', 0)"
    with subprocess.Popen(
        [sys.executable, "-c", command], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as served:
        assert served.stdout is not None
        first_line = served.stdout.readline()

        # WHEN it is sent SIGTERM
        served.send_signal(signal.SIGTERM)
        returncode = served.wait(timeout=10)

    # THEN its first line was the endpoint, and it exited 0
    assert first_line.startswith("endpoint: http://127.0.0.1:")
    assert returncode == 0


def _cli(*arguments: str) -> list[str]:
    """The ``registrar`` command line, run by this interpreter (the CLI an operator types)."""
    command = f"import sys; from registrar_cli.main import main; sys.exit(main({list(arguments)!r}))"
    return [sys.executable, "-c", command]


def _finish(process: subprocess.Popen[str], *, within: float) -> tuple[int, str]:
    """Its exit status and stderr once it ends by itself within ``within`` seconds.

    Fails, naming what happened, when it has not: then it is sent SIGTERM, and SIGKILL when it
    ignores that too (so a hang cannot outlive the test).
    """
    try:
        _, stderr = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=3)
            verdict = "it was still running and stopped on SIGTERM"
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            verdict = "it hung, and ignored SIGTERM (killed)"
        pytest.fail(f"did not exit within {within} s: {verdict}")
    return process.returncode, stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket of this process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_emulator_on_a_busy_port_exits_2_at_once_with_one_line(busy_port: int) -> None:
    # GIVEN a loopback port already in use
    # WHEN `registrar emulator` is asked to serve on it
    with subprocess.Popen(
        _cli("emulator", "--port", str(busy_port)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as served:
        returncode, stderr = _finish(served, within=15)

    # THEN it exits 2 by itself, with one line naming the address and the problem
    assert returncode == 2
    assert stderr.splitlines() == [f"registrar: cannot serve on 127.0.0.1:{busy_port}: address already in use"]


@pytest.mark.parametrize(
    ("host", "problem"),
    [("999.1.1.1", "unknown host"), ("192.0.2.1", "not an address of this machine")],
    ids=["not-an-address", "not-this-machine"],
)
def test_emulator_on_an_unusable_host_exits_2_at_once_with_one_line(host: str, problem: str) -> None:
    # GIVEN a host that is no address at all, or an address of no interface here (TEST-NET-1)
    # WHEN `registrar emulator --host` is given it
    with subprocess.Popen(
        _cli("emulator", "--host", host), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as served:
        returncode, stderr = _finish(served, within=15)

    # THEN it exits 2 by itself, with one line naming the host and the problem
    assert returncode == 2
    assert len(stderr.splitlines()) == 1
    assert stderr.startswith(f"registrar: cannot serve on {host}:0: {problem}")


@pytest.mark.timeout(30)  # moto's own start() waited for ever here
def test_start_on_a_busy_port_raises_and_leaves_no_thread(busy_port: int) -> None:
    # GIVEN a loopback port already in use, and the threads running now
    threads = set(threading.enumerate())

    # WHEN the emulator is started on it in this process
    # THEN start() raises at once, naming the address, and no server thread is left behind
    with pytest.raises(CannotServeError, match=rf"^cannot serve on 127\.0\.0\.1:{busy_port}: address already in use$"):
        start(port=busy_port)
    assert set(threading.enumerate()) == threads


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_emulator_stops_serving_and_exits_0_on_a_signal(sig: signal.Signals) -> None:
    # GIVEN `registrar emulator` serving on a free loopback port
    with subprocess.Popen(_cli("emulator"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as served:
        assert served.stdout is not None
        endpoint = served.stdout.readline().removeprefix("endpoint: ").strip()
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5) as response:
            answered = response.status

        # WHEN it is sent the signal
        served.send_signal(sig)
        returncode, stderr = _finish(served, within=5)

    # THEN it had served, and exits 0 promptly, without a traceback
    assert answered == 200
    assert returncode == 0
    assert "Traceback" not in stderr
