"""The functions, their layer and their settings, as synthesized."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from infra import function_code
from infra.names import (
    APPROVAL_HANDLER,
    APPROVER_MAIL_HANDLER,
    CONTEXT_KEY,
    DECISION_PAGE_HANDLER,
    DEPLOYMENT_HANDLER,
    NEO_REGISTRATION_HANDLER,
    SWEEPER_HANDLER,
)
from registrar.approval.policy import load_policy, parse_policy
from registrar.settings import Settings

from .conftest import ROOT, Synthesized, cdk_json_context, synthesize

HANDLERS = (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER, SWEEPER_HANDLER, DEPLOYMENT_HANDLER)
TIMEOUTS = {APPROVAL_HANDLER: 60, NEO_REGISTRATION_HANDLER: 60, SWEEPER_HANDLER: 120, DEPLOYMENT_HANDLER: 60}
# The settings each handler needs, beyond the Powertools ones.
SETTINGS = {
    APPROVAL_HANDLER: {
        "REGISTRAR_POLICY_PARAMETER",
        "REGISTRAR_TABLE_NAME",
        "REGISTRAR_REPORT_LOCATIONS",
        "REGISTRAR_MANAGED_GROUPS",
        "REGISTRAR_REGISTRY_ACCOUNT",
    },
    NEO_REGISTRATION_HANDLER: {
        "REGISTRAR_TABLE_NAME",
        "REGISTRAR_MANAGED_GROUPS",
        "REGISTRAR_NEO_OUTPUT_LOCATIONS",
        "REGISTRAR_REGISTRY_ACCOUNT",
    },
    DEPLOYMENT_HANDLER: {"REGISTRAR_TABLE_NAME", "REGISTRAR_MANAGED_GROUPS"},
    SWEEPER_HANDLER: {
        "REGISTRAR_TABLE_NAME",
        "REGISTRAR_EVENT_BUS_NAME",
        "REGISTRAR_SWEEP_LOOKBACK_MINUTES",
        "REGISTRAR_MANAGED_GROUPS",
    },
}


# What {"Ref": "AWS::AccountId"} resolves to in these tests: some twelve-digit account.
DEPLOYED_ACCOUNT = "123456789012"


def environment(function: dict[str, Any]) -> dict[str, Any]:
    return function["Environment"]["Variables"]


def placeholder(value: Any) -> str:
    """A variable's value as the function would see it: a reference resolved to a stand-in of the right shape."""
    if isinstance(value, str):
        return value
    return DEPLOYED_ACCOUNT if value == {"Ref": "AWS::AccountId"} else "resolved-at-deploy"


def test_there_is_one_function_per_handler(synthesized: Synthesized) -> None:
    # (cdk.json names approvers: the decision page and the approver e-mails are deployed too, test_decision_page.py)
    assert sorted(synthesized.handlers().values()) == sorted((*HANDLERS, DECISION_PAGE_HANDLER, APPROVER_MAIL_HANDLER))


@pytest.mark.parametrize("handler", HANDLERS)
def test_function_runs_python_313_on_arm64_with_tracing_and_json_logs(synthesized: Synthesized, handler: str) -> None:
    _name, function = synthesized.function(handler)
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["MemorySize"] == 256
    assert function["Timeout"] == TIMEOUTS[handler]
    logging = function["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == "INFO"
    log_group = synthesized.properties("AWS::Logs::LogGroup")[logging["LogGroup"]["Ref"]]
    assert log_group["RetentionInDays"] == 30


@pytest.mark.parametrize("handler", HANDLERS)
def test_function_has_the_powertools_and_registrar_settings_it_needs(synthesized: Synthesized, handler: str) -> None:
    _name, function = synthesized.function(handler)
    env = environment(function)
    assert env["POWERTOOLS_SERVICE_NAME"] == "registrar"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "registrar"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert {name for name in env if name.startswith("REGISTRAR_")} == SETTINGS[handler]


@pytest.mark.parametrize("handler", HANDLERS)
def test_function_settings_parse_with_the_settings_model_the_handlers_use(
    synthesized: Synthesized, handler: str
) -> None:
    # GIVEN the function's environment, with deploy-time references standing in as placeholders
    _name, function = synthesized.function(handler)
    env = {name: placeholder(value) for name, value in environment(function).items()}
    # WHEN the handler would parse it THEN every value is valid and lands where the config says
    settings = Settings.from_environment(env)
    assert settings.managed_groups == synthesized.config.model_package_groups
    if handler == APPROVAL_HANDLER:
        assert settings.report_locations == synthesized.config.report_locations
        assert settings.policy_parameter == "resolved-at-deploy"
    if handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER):
        # The registry account is the stack's own, whichever account it is deployed to.
        assert environment(function)["REGISTRAR_REGISTRY_ACCOUNT"] == {"Ref": "AWS::AccountId"}
        assert settings.registry_account == DEPLOYED_ACCOUNT
    if handler == SWEEPER_HANDLER:
        assert settings.event_bus_name == "default"
        assert settings.sweep_lookback_minutes >= 3 * synthesized.config.sweep_rate_minutes


def test_policy_parameter_holds_the_validated_policy_file_as_json(synthesized: Synthesized) -> None:
    [parameter] = synthesized.properties("AWS::SSM::Parameter").values()
    assert parameter["Type"] == "String"
    assert parameter["Tier"] == "Standard"
    # The value is JSON (the handler reads it without PyYAML), and the policy file's own policy
    assert isinstance(json.loads(parameter["Value"]), dict)
    assert parse_policy(parameter["Value"]).digest == load_policy(synthesized.config.policy_path).digest
    _name, approval = synthesized.function(APPROVAL_HANDLER)
    [parameter_id] = synthesized.properties("AWS::SSM::Parameter")
    assert environment(approval)["REGISTRAR_POLICY_PARAMETER"] == {"Ref": parameter_id}


def test_layer_targets_python_313_on_arm64_and_every_function_uses_it(synthesized: Synthesized) -> None:
    [(layer_id, layer)] = synthesized.properties("AWS::Lambda::LayerVersion").items()
    assert layer["CompatibleRuntimes"] == ["python3.13"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    for handler in HANDLERS:
        _name, function = synthesized.function(handler)
        assert function["Layers"] == [{"Ref": layer_id}]


def test_sweeper_runs_on_the_configured_schedule(synthesized: Synthesized) -> None:
    sweeper_id, _sweeper = synthesized.function(SWEEPER_HANDLER)
    [schedule] = [r for r in synthesized.properties("AWS::Events::Rule").values() if "ScheduleExpression" in r]
    assert schedule["ScheduleExpression"] == f"rate({synthesized.config.sweep_rate_minutes} minutes)"
    [target] = schedule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [sweeper_id, "Arn"]}
    # AND a failed sweep is left to the next one rather than retried by Lambda
    [invoke_config] = synthesized.properties("AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["FunctionName"] == {"Ref": sweeper_id}
    assert invoke_config["MaximumRetryAttempts"] == 0


def test_state_table_fits_powertools_idempotency(synthesized: Synthesized) -> None:
    [table] = synthesized.properties("AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


@pytest.fixture(scope="module")
def untraced(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack synthesized with ``"tracing": false`` in cdk.json's registrar context."""
    context = cdk_json_context()
    context[CONTEXT_KEY] = {**context[CONTEXT_KEY], "tracing": False}
    return synthesize(tmp_path_factory.mktemp("untraced"), context)


def _xray_actions(synthesized: Synthesized, function_id: str) -> list[str]:
    actions = []
    for statement in synthesized.role_statements(function_id):
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        actions += [action for action in listed if action.startswith("xray:")]
    return actions


@pytest.mark.parametrize("handler", HANDLERS)
def test_tracing_is_on_by_default_with_its_xray_permissions(synthesized: Synthesized, handler: str) -> None:
    name, function = synthesized.function(handler)
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert "POWERTOOLS_TRACE_DISABLED" not in environment(function)
    assert "xray:PutTraceSegments" in _xray_actions(synthesized, name)


@pytest.mark.parametrize("handler", HANDLERS)
def test_tracing_off_sends_no_traces_and_powertools_skips_the_xray_sdk(untraced: Synthesized, handler: str) -> None:
    name, function = untraced.function(handler)
    assert function.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}
    assert environment(function)["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert _xray_actions(untraced, name) == []


def test_tracing_off_still_passes_cdk_nag(untraced: Synthesized) -> None:
    assert untraced.error is None


def test_the_function_asset_is_functions_whole_and_nothing_of_tools(synthesized: Synthesized) -> None:
    asset = synthesized.function_asset()
    # The asset is functions/ file for file (less what a development machine wrote there)
    sources = sorted(str(path) for path in function_code.source_files(ROOT / "functions"))
    files = [path for path in asset.rglob("*") if path.is_file() and path.suffix != ".pyc"]
    staged = sorted(str(path.relative_to(asset)) for path in files)
    assert staged == sources
    # AND no module of it imports moto, the dev package or the CLI
    assert importing(asset, ("moto", "registrar_dev", "registrar_cli", "aws_cdk")) == []
    # AND every handler imports from the asset alone (its registrar, not the checkout's)
    probe = (
        "import sys, handlers.approval, handlers.neo_registration, handlers.sweeper, registrar; "
        "print(registrar.__file__)"
    )
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))},
        "PYTHONPATH": str(asset),
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "registrar",
    }
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment, cwd=asset)
    assert done.returncode == 0, done.stderr[-2000:]
    assert pathlib.Path(done.stdout.strip()).is_relative_to(asset)


def importing(tree: pathlib.Path, packages: tuple[str, ...]) -> list[str]:
    """``file: module`` for every import statement under ``tree`` of one of ``packages`` (or a module of one)."""
    found = []
    for path in sorted(tree.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{path.relative_to(tree)}: {name}" for name in names if name.split(".")[0] in packages]
    return found


def test_importing_finds_an_import_of_the_dev_package(tmp_path: pathlib.Path) -> None:
    # The check above must be able to fail
    (tmp_path / "leak.py").write_text("def f():\n    from registrar_dev.emulator import start\n")
    assert importing(tmp_path, ("registrar_dev",)) == ["leak.py: registrar_dev.emulator"]
