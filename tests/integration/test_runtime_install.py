"""`pip install .` without the dev extra: what an operator's machine has, run against the emulator of the dev venv.

The install is real: pip builds registrar's wheel from a copy of the project and installs it (without
dependencies) into a directory of its own; the dependencies are the runtime lock file's, installed for this
machine (``infra.lambda_layout`` with every botocore service kept, as a plain install has them). The child
runs ``python -S``, so nothing of the development venv (moto, rich, the CDK, pytest) can stand in.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest

from infra.lambda_layout import build_layout
from registrar_dev.emulator import Emulator
from tests.integration.scenario import POLICY, ROOT, Clients, approval_event_path, build_approval_state

# Run registrar's console-script entry point from the install and its dependencies only.
CLI = """\
import sys
sys.path[:0] = sys.argv[1].split(":")
from registrar_cli.main import main
status = main(sys.argv[2:])
dev_only = ("moto", "rich", "aws_cdk", "pytest", "registrar_dev")
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(dev_only))
print("LOADED " + ",".join(loaded), file=sys.stderr)
sys.exit(status)
"""
HANDLERS = """\
import sys
sys.path[:0] = sys.argv[1].split(":")
import handlers.approval, handlers.neo_registration, handlers.sweeper
print("imported")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``pip install --no-deps .`` into a directory, beside the lock file's dependencies: the child's path."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for directory in ("functions", "tools"):
        shutil.copytree(ROOT / directory, source / directory, ignore=ignore)
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    dependencies = build_layout(services=None).layer
    return f"{target}:{dependencies}"


def run(code: str, path: str, *argv: str, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if endpoint:
        environment["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.run(
        [sys.executable, "-S", "-c", code, path, *argv],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_install_has_the_registrar_command(installed: str) -> None:
    # GIVEN registrar installed without the dev extra
    target = pathlib.Path(installed.split(":")[0])
    # THEN its console script runs registrar_cli.main:main
    [entry_points] = target.glob("registrar-*.dist-info/entry_points.txt")
    assert "registrar = registrar_cli.main:main" in entry_points.read_text()


def test_every_handler_imports_from_the_runtime_install(installed: str) -> None:
    done = run(HANDLERS, installed)
    assert (done.returncode, done.stdout) == (0, "imported\n"), done.stderr


def test_plan_runs_from_the_runtime_install_against_the_emulator(installed: str, aws: Emulator) -> None:
    # GIVEN the samples' state in the emulator the dev venv started
    build_approval_state(Clients.of(aws))
    # WHEN passing.json is planned by the runtime install, with --endpoint-url
    done = run(
        CLI,
        installed,
        "plan",
        str(approval_event_path("passing")),
        "--policy",
        str(POLICY),
        "--endpoint-url",
        aws.endpoint,
    )
    # THEN it plans the approval, as from the dev venv, importing nothing of the development tools or package
    assert done.returncode == 0, done.stderr
    [printed] = [json.loads(line) for line in done.stdout.splitlines()]
    planned: dict[str, Any] = printed
    assert (planned["outcome"], planned["request"]["ModelApprovalStatus"]) == ("updated", "Approved")
    assert done.stderr.splitlines()[-1] == "LOADED "


@pytest.mark.parametrize("command", [["emulator", "--port", "0"], ["demo"]], ids=["emulator", "demo"])
def test_the_development_commands_say_they_need_the_dev_extra(installed: str, command: list[str]) -> None:
    # WHEN a command of the development extra runs from the runtime install
    done = run(CLI, installed, *command)
    # THEN it exits 2 with one line naming what is missing and how to install it
    assert (done.returncode, done.stdout) == (2, "")
    [line, loaded] = done.stderr.splitlines()
    assert line.startswith(f"registrar: `registrar {command[0]}` needs the development extra")
    assert "pip install 'registrar[dev]'" in line
    # AND it looked for them without importing any (registrar_dev, installed with registrar, says what is missing)
    assert loaded in ("LOADED ", "LOADED registrar_dev")
