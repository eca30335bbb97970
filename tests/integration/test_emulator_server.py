"""The emulator starts on loopback, resets, refuses another moto, and serves until signalled."""

from __future__ import annotations

import importlib.metadata
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import boto3
import pytest

from registrar_dev.emulator import Emulator, UnsupportedMotoVersionError, start

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
