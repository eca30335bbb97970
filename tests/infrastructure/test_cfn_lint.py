"""cfn-lint on every synthesized template: what `make synth` runs after cdk synth."""

from __future__ import annotations

import pathlib

import pytest
from cfnlint.api import lint_file

from .conftest import Synthesized


def templates(synthesized: Synthesized) -> list[pathlib.Path]:
    return sorted(synthesized.outdir.glob("*.template.json"))


def test_the_assembly_has_templates(synthesized: Synthesized) -> None:
    assert templates(synthesized)


def test_cfn_lint_finds_nothing_in_any_template(synthesized: Synthesized) -> None:
    for template in templates(synthesized):
        matches = lint_file(template)
        # make synth fails on warnings as well as errors (cfn-lint exits non-zero for both)
        problems = [m for m in matches if m.rule.id[0] in "EW"]
        assert not problems, "\n".join(str(m) for m in problems)


@pytest.mark.parametrize("kind", ["AWS::Lambda::Function"])
def test_functions_depend_only_on_their_role_policy(synthesized: Synthesized, kind: str) -> None:
    for name, resource in synthesized.resources(kind).items():
        [dependency] = resource["DependsOn"]
        assert synthesized.template["Resources"][dependency]["Type"] == "AWS::IAM::Policy", name
