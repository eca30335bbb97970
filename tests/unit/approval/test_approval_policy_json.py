"""The policy as JSON, the form the stack deploys: read without PyYAML, with the YAML route's errors."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from registrar.approval.policy import deployable_json, load_policy, parse_policy
from registrar.errors import PolicyError

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEMO_POLICY = ROOT / "events" / "policy.yaml"

VALID = """\
{
  "version": 1,
  "rules": [
    {
      "groups": ["churn-*", "fraud-model"],
      "approve_when": [
        {"metric": "binary_classification_metrics.auc.value", "min": 0.85},
        {"metric": "binary_classification_metrics.recall.value", "min": 0.6}
      ],
      "on_failure": "reject"
    }
  ]
}
"""

# A fresh interpreter, as a cold start is: parse the policy on stdin, say whether PyYAML was imported.
CHILD = (
    "import sys\n"
    "from registrar.approval.policy import parse_policy\n"
    "parse_policy(sys.stdin.read())\n"
    "print('yaml' in sys.modules)\n"
)


def yaml_imported_by_parsing(text: str) -> bool:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], input=text, capture_output=True, text=True, env=env, check=True, timeout=60
    )
    return {"True\n": True, "False\n": False}[done.stdout]


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.json")
    return str(caught.value)


def test_the_demo_policy_as_json_is_the_same_policy() -> None:
    # GIVEN events/policy.yaml written as JSON WHEN parsed THEN it is the same policy: the same digest
    text = json.dumps(yaml.safe_load(DEMO_POLICY.read_text(encoding="utf-8")), indent=2)
    assert parse_policy(text) == load_policy(DEMO_POLICY)
    assert parse_policy(text).digest == load_policy(DEMO_POLICY).digest


def test_json_is_parsed_without_importing_yaml_and_yaml_still_imports_it() -> None:
    # GIVEN a fresh interpreter WHEN it parses a JSON policy THEN PyYAML stays unimported (a cold start saving)
    assert yaml_imported_by_parsing(deployable_json(DEMO_POLICY)) is False
    # AND WHEN it parses the YAML file THEN PyYAML is imported (so the check above can fail)
    assert yaml_imported_by_parsing(DEMO_POLICY.read_text(encoding="utf-8")) is True


def test_a_bom_and_leading_whitespace_still_take_the_json_route() -> None:
    # GIVEN JSON after a UTF-8 BOM and blank lines WHEN parsed in a fresh interpreter THEN PyYAML is not needed
    assert yaml_imported_by_parsing("\ufeff \n\t" + VALID) is False


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        pytest.param(
            VALID.replace('"min": 0.85},', '"min": 0.85}'),
            "policy.json:8: not valid YAML: did not find expected ',' or ']'",
            id="missing-comma",
        ),
        pytest.param(
            VALID.rstrip().removesuffix("}"),
            "policy.json:13: not valid YAML: did not find expected ',' or '}'",
            id="unclosed",
        ),
        pytest.param(
            VALID.replace('"min": 0.85}', '"min": 0.85, "min": 0.1}'),
            "policy.json:7: key 'min' repeats the key on line 7",
            id="repeated-key",
        ),
        pytest.param(
            VALID.replace('"min": 0.6', '"min": "high"'),
            "policy.json:8: rules.0.approve_when.1.min: Input should be a valid number",
            id="not-a-number",
        ),
        pytest.param(
            VALID.replace('"on_failure"', '"on_failur"'),
            "policy.json:4: rules.0.on_failure: Field required\n"
            "policy.json:10: rules.0.on_failur: unknown key (not part of the policy format; see docs/policy.md)",
            id="unknown-key",
        ),
        pytest.param(
            "\ufeff \n" + VALID.replace('"min": 0.6', '"min": "high"'),
            "policy.json:9: rules.0.approve_when.1.min: Input should be a valid number",
            id="bom-and-blank-line",
        ),
    ],
)
def test_invalid_json_gets_the_yaml_routes_message_with_its_line(broken: str, message: str) -> None:
    # GIVEN JSON that is broken or not a valid policy WHEN parsed
    # THEN the message is the one the YAML route gave before JSON had a route of its own
    assert error_of(broken) == message


def test_json_that_is_only_valid_yaml_is_still_accepted() -> None:
    # GIVEN a trailing comma (not JSON, but a YAML flow sequence allows it) WHEN parsed THEN YAML reads it
    text = VALID.replace('"min": 0.6}', '"min": 0.6},')
    assert parse_policy(text).digest == parse_policy(VALID).digest


def test_deployable_json_is_the_document_as_written_compact_and_the_same_policy() -> None:
    # GIVEN the demo policy file WHEN rendered for deployment
    text = deployable_json(DEMO_POLICY)
    # THEN it is the YAML document itself (comments gone, no defaults added), without a byte of layout
    assert json.loads(text) == yaml.safe_load(DEMO_POLICY.read_text(encoding="utf-8"))
    assert text == json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    # AND it reads back as the same policy
    assert parse_policy(text).digest == load_policy(DEMO_POLICY).digest


def _policy_file(directory: pathlib.Path, minimum: str, extra: str = "") -> pathlib.Path:
    """A one-rule policy file whose one condition is ``m >= minimum``, plus ``extra`` rule lines."""
    path = directory / "policy.yaml"
    path.write_text(
        f"version: 1\nrules:\n  - groups: [churn-*]\n    approve_when: [{{metric: m, min: {minimum}}}]\n"
        f"    on_failure: reject\n{extra}"
    )
    return path


def test_deployable_json_keeps_a_threshold_that_json_writes_with_an_exponent(tmp_path: pathlib.Path) -> None:
    # GIVEN min: 0.00001, which json writes as 1e-05 (a string, to YAML 1.1) WHEN rendered and read back
    path = _policy_file(tmp_path, "0.00001")
    text = deployable_json(path)
    # THEN the number is read as a number: the same threshold, the same digest
    assert "1e-05" in text
    assert parse_policy(text).rules[0].approve_when[0].min == 0.00001
    assert parse_policy(text).digest == load_policy(path).digest


def test_deployable_json_refuses_a_value_json_cannot_hold(tmp_path: pathlib.Path) -> None:
    # GIVEN a !!binary stage description (pydantic takes the bytes for a string) WHEN rendered THEN refused
    on_approval = "{model_life_cycle: {stage: P, stage_status: A, stage_description: !!binary aGk=}}"
    path = _policy_file(tmp_path, "0.5", f"    on_approval: {on_approval}\n")
    with pytest.raises(PolicyError, match="the policy cannot be written as JSON"):
        deployable_json(path)


def test_deployable_json_reports_an_invalid_file_as_load_policy_does(tmp_path: pathlib.Path) -> None:
    # GIVEN an invalid policy file WHEN rendered THEN the same message as loading it
    path = tmp_path / "policy.yaml"
    path.write_text("version: 2\nrules: []\n")
    with pytest.raises(PolicyError) as loaded:
        load_policy(path)
    with pytest.raises(PolicyError) as rendered:
        deployable_json(path)
    assert str(rendered.value) == str(loaded.value)
    assert str(rendered.value).startswith(f"{path}:1: version: Input should be 1")
