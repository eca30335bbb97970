"""Tracing off means no X-Ray SDK: what the ``tracing`` setting of the stack saves at every cold start."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

FUNCTIONS = pathlib.Path(__file__).resolve().parents[2] / "functions"
PROBE = "import sys, handlers.approval; print('aws_xray_sdk' in sys.modules)"


@pytest.mark.parametrize(("disabled", "loaded"), [("true", "False"), ("false", "True")])
def test_the_xray_sdk_is_imported_only_when_tracing_is_on(disabled: str, loaded: str) -> None:
    # GIVEN the approval function's module, imported fresh as in Lambda, with tracing off or on
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))},
        "PYTHONPATH": str(FUNCTIONS),
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(FUNCTIONS),  # Powertools traces in Lambda only
        "POWERTOOLS_SERVICE_NAME": "registrar",
        "POWERTOOLS_TRACE_DISABLED": disabled,
    }
    # WHEN it has been imported
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment, check=True)
    # THEN the X-Ray SDK was loaded exactly when tracing is on
    assert done.stdout.strip() == loaded
