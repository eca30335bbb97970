"""Infrastructure tests: the app is synthesized once per session, as `cdk synth` would, and read back.

Synthesis builds the dependencies layer on a cold cache; pip runs in its own process, which the
loopback-only socket policy of the test process does not reach.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app import compose, compose_topology
from infra.config import CONFIG_FILE_VARIABLE, RegistrarConfig, context_from_file, load_config
from infra.names import CONTEXT_KEY, STACK, forwarder_stack

ROOT = pathlib.Path(__file__).resolve().parents[2]
MULTI_ACCOUNT_EXAMPLE = ROOT / "docs" / "examples" / "multi-account.json"


@dataclass(frozen=True)
class Synthesized:
    """One synthesis of the app with cdk.json's context."""

    outdir: pathlib.Path
    template: dict[str, Any]
    config: RegistrarConfig
    error: str | None  # what app.synth() raised (cdk-nag findings), if anything

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id → resource, for every resource of a CloudFormation type."""
        return {name: r for name, r in self.template["Resources"].items() if r["Type"] == kind}

    def properties(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id → Properties, for every resource of a CloudFormation type."""
        return {name: r.get("Properties", {}) for name, r in self.resources(kind).items()}

    def handlers(self) -> dict[str, str]:
        """Function logical id → handler."""
        return {name: p["Handler"] for name, p in self.properties("AWS::Lambda::Function").items()}

    def function(self, handler: str) -> tuple[str, dict[str, Any]]:
        """The logical id and Properties of the function running ``handler``."""
        [found] = [(n, p) for n, p in self.properties("AWS::Lambda::Function").items() if p["Handler"] == handler]
        return found

    def consumers(self) -> dict[str, str]:
        """Queue logical id → handler of the function its event source mapping invokes."""
        handlers = self.handlers()
        return {
            p["EventSourceArn"]["Fn::GetAtt"][0]: handlers[p["FunctionName"]["Ref"]]
            for p in self.properties("AWS::Lambda::EventSourceMapping").values()
        }

    def routes(self) -> list[tuple[str, dict[str, Any], str]]:
        """(rule logical id, event pattern, handler reached) for every pattern rule's target, via its queue."""
        consumers = self.consumers()
        return [
            (name, p["EventPattern"], consumers[target["Arn"]["Fn::GetAtt"][0]])
            for name, p in self.properties("AWS::Events::Rule").items()
            if "EventPattern" in p
            for target in p["Targets"]
            if target["Arn"].get("Fn::GetAtt", [None])[0] in consumers  # not a notification's topic or webhook
        ]

    def notification_rules(self) -> dict[str, dict[str, Any]]:
        """Rules whose targets are an SNS topic or an API destination (the notify block's), by logical id."""
        return {
            name: p
            for name, p in self.properties("AWS::Events::Rule").items()
            if "EventPattern" in p
            and not any(t["Arn"].get("Fn::GetAtt", [None])[0] in self.consumers() for t in p["Targets"])
        }

    def function_asset(self) -> pathlib.Path:
        """Where the function code asset, shared by every function, is staged in ``cdk.out``."""
        [key] = {p["Code"]["S3Key"] for p in self.properties("AWS::Lambda::Function").values()}
        return self.outdir / f"asset.{key.removesuffix('.zip')}"

    def role_statements(self, function_id: str) -> list[dict[str, Any]]:
        """Every IAM statement attached to a function's role."""
        role = self.properties("AWS::Lambda::Function")[function_id]["Role"]["Fn::GetAtt"][0]
        return [
            statement
            for policy in self.properties("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Roles"]
            for statement in policy["PolicyDocument"]["Statement"]
        ]


def cdk_json_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


def synthesize(outdir: pathlib.Path, context: dict[str, Any]) -> Synthesized:
    """Synthesize the app with ``context`` (cdk.json's, or a variant of it) into ``outdir``."""
    app = cdk.App(outdir=str(outdir), context=context)
    compose(app, root=ROOT)
    error = None
    try:
        app.synth()
    except RuntimeError as raised:  # cdk-nag findings: the template is written all the same
        error = str(raised)
    template = json.loads((outdir / f"{STACK}.template.json").read_text(encoding="utf-8"))
    return Synthesized(
        outdir=outdir, template=template, config=load_config(context[CONTEXT_KEY], root=ROOT), error=error
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(tmp_path_factory.mktemp("cdk.out"), cdk_json_context())


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return Template.from_json(synthesized.template)


@pytest.fixture(scope="session")
def config(synthesized: Synthesized) -> RegistrarConfig:
    return synthesized.config


@dataclass(frozen=True)
class MultiAccount:
    """One synthesis of the app from a configuration of several accounts: every stack, read back."""

    outdir: pathlib.Path
    config: RegistrarConfig
    registry: Synthesized
    forwarders: dict[str, Synthesized]  # by workload name
    error: str | None

    def stacks(self) -> dict[str, Synthesized]:
        """Every stack, by its name."""
        return {STACK: self.registry, **{forwarder_stack(name): s for name, s in self.forwarders.items()}}


def synthesize_from_file(outdir: pathlib.Path, config_file: pathlib.Path) -> MultiAccount:
    """Synthesize the app as ``REGISTRAR_CONFIG=<config_file> make synth`` does, into ``outdir``."""
    previous = os.environ.get(CONFIG_FILE_VARIABLE)
    os.environ[CONFIG_FILE_VARIABLE] = str(config_file)
    try:
        app = cdk.App(outdir=str(outdir))
        topology = compose_topology(app, root=ROOT)
    finally:
        if previous is None:
            del os.environ[CONFIG_FILE_VARIABLE]
        else:
            os.environ[CONFIG_FILE_VARIABLE] = previous
    error = None
    try:
        app.synth()
    except RuntimeError as raised:  # cdk-nag findings: the templates are written all the same
        error = str(raised)
    config = load_config(context_from_file(config_file), root=ROOT)

    def read(name: str) -> Synthesized:
        template = json.loads((outdir / f"{name}.template.json").read_text(encoding="utf-8"))
        return Synthesized(outdir=outdir, template=template, config=config, error=error)

    return MultiAccount(
        outdir=outdir,
        config=config,
        registry=read(topology.registry.stack_name),
        forwarders={name: read(stack.stack_name) for name, stack in topology.forwarders.items()},
        error=error,
    )


@pytest.fixture(scope="session")
def multi_account(tmp_path_factory: pytest.TempPathFactory) -> MultiAccount:
    return synthesize_from_file(tmp_path_factory.mktemp("cdk.out.multi"), MULTI_ACCOUNT_EXAMPLE)
