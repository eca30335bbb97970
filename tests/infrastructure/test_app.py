"""app.py, as the CDK CLI runs it: a bad configuration stops synth with the problem, not a traceback."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from .conftest import ROOT


def test_an_invalid_configuration_exits_non_zero_naming_the_key(tmp_path: pathlib.Path) -> None:
    # GIVEN the context the CLI would pass, with a group pattern IAM cannot express
    context = {"registrar": {"model_package_groups": ["churn_*"], "report_locations": ["s3://reports/"]}}
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(context)}
    # WHEN the app runs
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    # THEN it stops before synthesizing anything, naming the key and the rule
    assert done.returncode == 2
    assert "model_package_groups[0]: 'churn_*' is not a model package group name or pattern" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.template.json"))
