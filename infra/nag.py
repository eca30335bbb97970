"""cdk-nag's AwsSolutions pack on every synth, and acknowledgements that must say why.

cdk-nag 3 is a CDK policy-validation plugin: any finding that is not acknowledged (error or
warning) makes ``app.synth()`` raise and leaves ``validation-report.json`` in the cloud assembly.
Acknowledgements are CDK's own ``Validations.of(scope).acknowledge``, recorded as construct
metadata (``aws:cdk:acknowledged-rules``) in the assembly, where the tests read them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK: Final = "AwsSolutions"
MIN_REASON: Final = 20
REPORT: Final = "validation-report.json"
ACKNOWLEDGED_RULES: Final = "aws:cdk:acknowledged-rules"


def add_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack when ``app`` synthesizes."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``"SQS3"``, ``"IAM5[Resource::*]"``) on ``scope`` and below.

    Raises
    ------
    ValueError
        A reason shorter than :data:`MIN_REASON` characters: an acknowledgement must convince a reviewer.
    """
    if len(reason.strip()) < MIN_REASON:
        raise ValueError(f"the acknowledgement of {rule} needs a reason of at least {MIN_REASON} characters")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def flatten(resource: str) -> str:
    """How cdk-nag prints an ``Fn::Sub`` resource in an IAM5 finding: ``${AWS::Region}`` → ``<AWS::Region>``."""
    return resource.replace("${", "<").replace("}", ">")


def acknowledge_wildcards(scope: IConstruct, resources: Iterable[tuple[str, str]]) -> None:
    """Acknowledge the IAM5 finding of each ``(Fn::Sub template, reason)`` resource granted to ``scope``.

    Resources without a wildcard raise no finding and are passed over.
    """
    for resource, reason in resources:
        if "*" in resource:
            acknowledge(scope, f"IAM5[Resource::{flatten(resource)}]", reason)


def violations(outdir: str | Path) -> list[dict[str, Any]]:
    """Every finding cdk-nag (or another validation plugin) left unacknowledged in a cloud assembly."""
    report = Path(outdir) / REPORT
    if not report.exists():
        return []
    data = json.loads(report.read_text(encoding="utf-8"))
    return [violation for plugin in data.get("pluginReports", []) for violation in plugin.get("violations", [])]


def describe(found: Iterable[dict[str, Any]]) -> str:
    """One line per finding: rule, where, and the acknowledgement id that would silence it."""
    lines = []
    for violation in found:
        paths = ", ".join(c.get("constructPath", "?") for c in violation.get("violatingConstructs", []))
        lines.append(f"{violation['ruleName']} ({violation.get('severity', '?')}) at {paths}")
    return "\n".join(lines)


def acknowledgements(outdir: str | Path) -> dict[str, dict[str, str]]:
    """``{construct path: {acknowledged rule id: reason}}`` for every stack in a cloud assembly."""
    manifest = json.loads((Path(outdir) / "manifest.json").read_text(encoding="utf-8"))
    found: dict[str, dict[str, str]] = {}
    for artifact in manifest.get("artifacts", {}).values():
        metadata = dict(artifact.get("metadata", {}))
        extra = artifact.get("additionalMetadataFile")
        if extra:
            metadata.update(json.loads((Path(outdir) / extra).read_text(encoding="utf-8")))
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") == ACKNOWLEDGED_RULES:
                    found.setdefault(path, {}).update(entry.get("data", {}))
    return found
