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


def synth(tmp_path: pathlib.Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """app.py as `make synth` runs it (the CLI's context: cdk.json's), with ``variables`` in the environment."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(context), **variables}
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_registrar_config_reads_the_deployments_configuration_from_a_file(tmp_path: pathlib.Path) -> None:
    # GIVEN docs/examples/registrar.json, which manages other groups than cdk.json and names an alarm e-mail
    example = ROOT / "docs" / "examples" / "registrar.json"
    # WHEN the app is synthesized with REGISTRAR_CONFIG pointing at it
    done = synth(tmp_path, REGISTRAR_CONFIG=str(example))
    # THEN the stack is the file's: its groups in the functions' settings, its alarm subscription
    assert done.returncode == 0, done.stderr[-2000:]
    [template] = tmp_path.glob("*.template.json")
    resources = json.loads(template.read_text())["Resources"]
    groups = {
        r["Properties"]["Environment"]["Variables"].get("REGISTRAR_MANAGED_GROUPS")
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and "Environment" in r["Properties"]
    }
    assert ",".join(json.loads(example.read_text())["model_package_groups"]) in groups
    endpoints = {r["Properties"]["Endpoint"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"}
    assert "ml-platform-oncall@example.com" in endpoints


def test_a_bad_configuration_file_is_named_and_nothing_is_synthesized(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model_package_groups": ["churn_*"]}))
    out = tmp_path / "out"
    out.mkdir()
    done = synth(out, REGISTRAR_CONFIG=str(bad))
    assert done.returncode == 2
    assert f'invalid "registrar" configuration in REGISTRAR_CONFIG={bad}' in done.stderr
    assert "model_package_groups[0]: 'churn_*'" in done.stderr
    assert "Traceback" not in done.stderr and not list(out.glob("*.template.json"))
    missing = synth(out, REGISTRAR_CONFIG=str(tmp_path / "absent.json"))
    assert missing.returncode == 2 and "absent.json: cannot be read" in missing.stderr
