"""What a function's cold start imports: each handler module in a fresh interpreter, and what it loaded.

Not a timing: the modules named here each cost a tenth of a second or more of a cold start
(docs/performance.md), or do not belong in Lambda at all.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Parser's models (loaded by Powertools' batch utility when pydantic is imported first), the X-Ray SDK (with
# tracing off), PyYAML (the deployed policy is JSON), and every development or operator package.
UNWANTED = ("aws_lambda_powertools.utilities.parser", "aws_xray_sdk", "yaml", "moto", "registrar_dev", "registrar_cli")
PROBE = """\
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules if name.startswith({unwanted!r}))))
"""


@pytest.mark.parametrize("module", ["handlers.approval", "handlers.neo_registration", "handlers.sweeper"])
def test_a_handler_module_imports_nothing_its_cold_start_does_not_need(module: str) -> None:
    # GIVEN a fresh interpreter with the functions' settings (tracing off) WHEN the handler module is imported
    environment = {
        "PYTHONPATH": str(ROOT / "functions"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "registrar",
        "AWS_REGION": "us-east-1",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(unwanted=UNWANTED), module],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )
    # THEN none of the unwanted modules is loaded
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
