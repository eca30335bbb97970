"""cdk-nag's AwsSolutions pack: nothing unacknowledged, and every acknowledgement says why."""

from __future__ import annotations

import json

import pytest

from infra import nag
from infra.names import STACK

from .conftest import Synthesized


def test_synthesis_leaves_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    found = nag.violations(synthesized.outdir)
    assert not found, f"unacknowledged cdk-nag findings (errors and warnings alike):\n{nag.describe(found)}"
    assert synthesized.error is None


def test_every_acknowledgement_gives_a_reason_a_reviewer_can_weigh(synthesized: Synthesized) -> None:
    acknowledged = nag.acknowledgements(synthesized.outdir)
    assert acknowledged, "the assembly records no acknowledgement: has the metadata format changed?"
    for path, rules in acknowledged.items():
        for rule, reason in rules.items():
            assert rule.startswith(f"{nag.PACK}::{nag.PACK}-"), f"{path}: {rule} is not an AwsSolutions rule"
            assert len(reason.strip()) >= nag.MIN_REASON, f"{path}: {rule} has too short a reason: {reason!r}"


def test_only_the_expected_rules_are_acknowledged(synthesized: Synthesized) -> None:
    rules = {rule.split("::", 1)[1] for rules in nag.acknowledgements(synthesized.outdir).values() for rule in rules}
    # L1: the runtime is pinned on purpose; SQS3: dead-letter queues of rule targets; IAM5: wildcards, each named;
    # SMG4: the decision links' signing key is rotated by hand (infra/decision_page.py).
    assert {rule.split("[", 1)[0] for rule in rules} == {
        "AwsSolutions-L1",
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5",
        "AwsSolutions-SMG4",
    }
    assert "AwsSolutions-IAM5[Action::*]" not in rules


def test_a_short_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20 characters"):
        nag.acknowledge(None, "SQS3", "because")  # type: ignore[arg-type]


def test_cdk_itself_reports_no_warning_or_error(synthesized: Synthesized) -> None:
    # Deprecated APIs and misconfigurations surface as annotations, which `cdk synth --strict` would fail on.
    metadata = json.loads((synthesized.outdir / f"{STACK}.metadata.json").read_text(encoding="utf-8"))
    annotations = [
        f"{path}: {entry['data']}"
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] in {"aws:cdk:warning", "aws:cdk:error"}
    ]
    assert not annotations, "\n".join(annotations)
