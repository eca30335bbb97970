"""metric_value() on a JMESPath that picks one value out of several: ambiguous, refused like a repeated key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registrar.approval.evidence import Evidence, metric_value
from registrar.approval.policy import parse_policy
from registrar.package import ModelPackage
from tests.unit.approval.deciding import decided

Builder = Callable[..., ModelPackage]

PICK_FIRST = "metrics[?name=='auc'].value | [0]"
# A report listing auc twice: which one the metric is depends on the order the report was written in.
DUPLICATED = {
    "metrics": [{"name": "auc", "value": 0.91}, {"name": "recall", "value": 0.7}, {"name": "auc", "value": 0.4}]
}
UNIQUE = {"metrics": [{"name": "auc", "value": 0.91}, {"name": "recall", "value": 0.7}]}


@pytest.mark.parametrize(
    "expression",
    [
        PICK_FIRST,
        "metrics[?name=='auc'].value | [-1]",
        "metrics[?name=='auc'] | [0].value",
        "metrics[?name=='auc'].value | @[0]",
    ],
)
def test_picking_one_of_several_matches_is_ambiguous(expression: str) -> None:
    # GIVEN a report that lists auc twice WHEN a path picks one of the matches THEN no value: ambiguous, saying how many
    value, problem = metric_value(DUPLICATED, expression)
    assert value is None
    assert problem == "ambiguous (the expression picks one of 2 values, as a repeated key would)"


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("(metrics[?name=='auc'].value)[0]", id="parenthesised-index"),
        pytest.param("abs(metrics[?name=='auc'].value | [0])", id="pick-inside-a-function"),
    ],
)
def test_every_way_of_picking_one_of_several_matches_is_ambiguous(expression: str) -> None:
    # GIVEN a report that lists auc twice WHEN a path picks the first match in another spelling than "X | [0]"
    # THEN ambiguous too: the report decides which auc counts either way
    value, problem = metric_value(DUPLICATED, expression)
    assert (value, problem) == (None, "ambiguous (the expression picks one of 2 values, as a repeated key would)")


@pytest.mark.parametrize("expression", [PICK_FIRST, "metrics[?name=='auc'] | [0].value"])
def test_picking_the_only_match_is_its_value(expression: str) -> None:
    # GIVEN a report that lists auc once WHEN the same path is read THEN its value
    assert metric_value(UNIQUE, expression) == (0.91, None)


def test_no_match_is_absent_not_ambiguous() -> None:
    # GIVEN a report without auc WHEN the path is read THEN absent
    assert metric_value({"metrics": [{"name": "recall", "value": 0.7}]}, PICK_FIRST) == (None, "absent")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("max(metrics[?name=='auc'].value)", 0.91),
        ("min(metrics[?name=='auc'].value)", 0.4),
        ("length(metrics[?name=='auc'])", 2),
        ("avg(metrics[?name=='auc'].value)", (0.91 + 0.4) / 2),
    ],
)
def test_a_function_over_all_matches_is_not_ambiguous(expression: str, expected: float) -> None:
    # GIVEN a report that lists auc twice WHEN a function of every match is read THEN its value: the policy says
    # how to combine them, the report's order does not matter
    assert metric_value(DUPLICATED, expression) == (pytest.approx(expected), None)


def test_an_ambiguous_metric_fails_its_condition_with_the_reason(new_package: Builder) -> None:
    # GIVEN a rule on the first auc match and a report listing auc twice (0.91 first) WHEN decided
    # THEN not Approved on whichever auc comes first: the condition fails, saying the metric is ambiguous
    policy = parse_policy(
        "version: 1\nrules:\n  - groups: ['churn-*']\n"
        f'    approve_when: [{{metric: "{PICK_FIRST}", min: 0.85}}]\n    on_failure: reject\n'
    )
    package = new_package()
    evidence = Evidence(uri=package.quality_report_uri, report=DUPLICATED, subject=package.ModelPackageArn)
    decision = decided(package, evidence, policy, None)
    assert decision.verdict == "Rejected"
    assert decision.checks[0].problem is not None and decision.checks[0].problem.startswith("ambiguous")
