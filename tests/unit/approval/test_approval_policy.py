"""The policy file: validation errors name the field path and the line; matching; digest; plain words."""

from __future__ import annotations

import pathlib
import re

import pytest

from registrar.approval.policy import Policy, describe_policy, load_policy, metric_label, parse_policy
from registrar.errors import PolicyError

VALID = """\
version: 1
rules:
  - groups: ["churn-*", "fraud-model"]
    approve_when:
      - metric: binary_classification_metrics.auc.value
        min: 0.85
      - metric: binary_classification_metrics.recall.value
        min: 0.6
    on_failure: reject
"""


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.yaml")
    return str(caught.value)


def test_a_valid_policy_parses() -> None:
    # GIVEN the example policy WHEN parsed THEN its rule and conditions are there
    policy = parse_policy(VALID)
    assert policy.rules[0].groups == ["churn-*", "fraud-model"]
    assert [c.min for c in policy.rules[0].approve_when] == [0.85, 0.6]


def test_a_non_number_threshold_names_the_field_path_and_line() -> None:
    # GIVEN min: "high" on line 8 (the second condition) WHEN parsed THEN the error names path and line
    text = VALID.replace("min: 0.6", 'min: "high"')
    assert error_of(text) == "policy.yaml:8: rules.0.approve_when.1.min: Input should be a valid number"


def test_a_boolean_threshold_is_not_a_number() -> None:
    # GIVEN min: true (YAML boolean) WHEN parsed THEN it is refused rather than read as 1.0
    assert "rules.0.approve_when.0.min: Input should be a valid number" in error_of(
        VALID.replace("min: 0.85", "min: true")
    )


def test_a_nan_threshold_is_refused() -> None:
    # GIVEN min: .nan WHEN parsed THEN refused: NaN compares false with everything
    assert "rules.0.approve_when.0.min" in error_of(VALID.replace("min: 0.85", "min: .nan"))


def test_version_must_be_1() -> None:
    # GIVEN version: 2 WHEN parsed THEN line 1 names the version field
    assert error_of(VALID.replace("version: 1", "version: 2")).startswith("policy.yaml:1: version: Input should be 1")


def test_at_least_one_rule() -> None:
    # GIVEN rules: [] WHEN parsed THEN refused on line 2
    assert error_of("version: 1\nrules: []\n").startswith("policy.yaml:2: rules: List should have at least 1 item")


def test_a_condition_needs_min_or_max() -> None:
    # GIVEN a condition with only a metric (line 7) WHEN parsed THEN the condition's line is named
    text = VALID.replace("        min: 0.6\n", "")
    assert error_of(text) == "policy.yaml:7: rules.0.approve_when.1: a condition needs min, max or both"


def test_min_must_not_exceed_max() -> None:
    # GIVEN min 0.9 and max 0.8 WHEN parsed THEN refused, with both numbers
    text = VALID.replace("min: 0.85", "min: 0.9\n        max: 0.8")
    assert "rules.0.approve_when.0: min 0.9 is greater than max 0.8" in error_of(text)


def test_min_equal_to_max_is_allowed() -> None:
    # GIVEN min == max WHEN parsed THEN accepted (both bounds are inclusive)
    parse_policy(VALID.replace("min: 0.85", "min: 0.85\n        max: 0.85"))


def test_a_metric_must_be_a_jmespath_expression() -> None:
    # GIVEN a metric that does not compile (line 5) WHEN parsed THEN the error says so on that line
    message = error_of(VALID.replace("binary_classification_metrics.auc.value", "metrics[auc"))
    assert message.startswith("policy.yaml:5: rules.0.approve_when.0.metric: not a valid JMESPath expression")


@pytest.mark.parametrize("groups", ["[]", '[""]', '["churn_model"]'])
def test_group_patterns_must_be_non_empty_group_names(groups: str) -> None:
    # GIVEN no patterns, an empty one, or one no group name can match WHEN parsed THEN refused on line 3
    message = error_of(VALID.replace('["churn-*", "fraud-model"]', groups))
    assert message.startswith("policy.yaml:3: rules.0.groups")


def test_unknown_keys_are_refused() -> None:
    # GIVEN a misspelt key (line 10) WHEN parsed THEN it is named, not ignored
    message = error_of(VALID + "    on_failur: hold\n")
    assert message.startswith("policy.yaml:10: rules.0.on_failur: unknown key")


def test_on_failure_is_reject_or_hold() -> None:
    # GIVEN on_failure: approve WHEN parsed THEN refused on line 9
    assert error_of(VALID.replace("on_failure: reject", "on_failure: approve")).startswith(
        "policy.yaml:9: rules.0.on_failure: Input should be 'reject' or 'hold'"
    )


def test_on_failure_is_required() -> None:
    # GIVEN a rule without on_failure WHEN parsed THEN the rule's line says it is missing
    assert error_of(VALID.replace("    on_failure: reject\n", "")).startswith(
        "policy.yaml:3: rules.0.on_failure: Field required"
    )


def test_life_cycle_stage_follows_the_api_pattern() -> None:
    # GIVEN on_approval's stage with an underscore WHEN parsed THEN refused at its path and line
    text = VALID + "    on_approval:\n      model_life_cycle: {stage: Prod_1, stage_status: Approved}\n"
    assert error_of(text).startswith("policy.yaml:11: rules.0.on_approval.model_life_cycle.stage:")


def test_redecide_must_be_a_boolean() -> None:
    # GIVEN redecide: "yes" (a string) WHEN parsed THEN refused
    assert "rules.0.redecide: Input should be a valid boolean" in error_of(VALID + '    redecide: "yes"\n')


def test_evaluation_file_must_stay_inside_the_output() -> None:
    # GIVEN evaluation.file with a '..' segment WHEN parsed THEN refused
    message = error_of(VALID + "    evaluation: {output_name: evaluation, file: ../secret.json}\n")
    assert "rules.0.evaluation.file: must be a relative path" in message


def test_every_error_is_reported_one_per_line() -> None:
    # GIVEN two errors WHEN parsed THEN both are reported, each on its own line
    text = VALID.replace("version: 1", "version: 3").replace("min: 0.6", "min: x")
    assert len(error_of(text).splitlines()) == 2


def test_yaml_syntax_errors_name_the_line() -> None:
    # GIVEN broken YAML on line 3 WHEN parsed THEN the error names line 3
    assert error_of("version: 1\nrules:\n  - groups: [churn\n").startswith("policy.yaml:4: not valid YAML")


def test_a_repeated_key_is_refused() -> None:
    # GIVEN min twice in one condition WHEN parsed THEN refused (the second would silently win)
    message = error_of(VALID.replace("min: 0.85", "min: 0.85\n        min: 0.1"))
    assert message == "policy.yaml:7: key 'min' repeats the key on line 6"


def test_an_empty_or_scalar_document_is_refused() -> None:
    # GIVEN an empty file or a bare string WHEN parsed THEN a PolicyError says what a policy is
    assert "empty" in error_of("")
    assert "must be a mapping" in error_of("just text\n")


def test_json_is_accepted() -> None:
    # GIVEN the policy as JSON WHEN parsed THEN it is the same policy
    text = (
        '{"version": 1, "rules": [{"groups": ["churn-*", "fraud-model"], "approve_when": ['
        '{"metric": "binary_classification_metrics.auc.value", "min": 0.85}, '
        '{"metric": "binary_classification_metrics.recall.value", "min": 0.6}], "on_failure": "reject"}]}'
    )
    assert parse_policy(text).digest == parse_policy(VALID).digest


def test_digest_is_seven_hex_digits_and_ignores_formatting() -> None:
    # GIVEN the same policy with comments and defaults spelt out WHEN digested THEN the digest is the same
    spelt_out = "# a comment\n" + VALID + "    redecide: false\n"
    digest = parse_policy(VALID).digest
    assert re.fullmatch(r"[0-9a-f]{7}", digest)
    assert parse_policy(spelt_out).digest == digest


def test_digest_changes_with_a_threshold() -> None:
    # GIVEN a different threshold WHEN digested THEN the digest differs
    assert parse_policy(VALID.replace("0.85", "0.86")).digest != parse_policy(VALID).digest


def test_first_matching_rule_wins() -> None:
    # GIVEN two rules that both match churn-model WHEN matched THEN the first one is chosen
    text = VALID + "  - groups: ['churn-model']\n    approve_when: [{metric: x, min: 0}]\n    on_failure: hold\n"
    policy = parse_policy(text)
    matched = policy.match("churn-model")
    assert matched is not None
    assert matched[0] == 1
    assert matched[1] is policy.rules[0]


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("churn-model", 1),
        ("churn-", 1),
        ("fraud-model", 1),
        ("fraud-model-2", None),
        ("Churn-model", 1),
        ("FRAUD-MODEL", 1),
        ("Fraud-Model-2", None),
    ],
)
def test_groups_are_fnmatch_patterns_ignoring_case(group: str, expected: int | None) -> None:
    # GIVEN patterns churn-* and fraud-model WHEN a group is matched THEN fnmatch decides, ignoring case
    # (one case rule for policy rules, managed groups and ARNs: registrar.groups)
    matched = parse_policy(VALID).match(group)
    assert (matched.number if matched else None) == expected


def test_load_policy_reads_a_file(tmp_path: pathlib.Path) -> None:
    # GIVEN a policy file WHEN loaded THEN errors name the file's path
    path = tmp_path / "policy.yaml"
    path.write_text(VALID.replace("min: 0.6", "min: x"))
    with pytest.raises(PolicyError, match=re.escape(f"{path}:8: rules.0.approve_when.1.min")):
        load_policy(path)


def test_load_policy_of_a_missing_file() -> None:
    # GIVEN no file WHEN loaded THEN a PolicyError names the path
    with pytest.raises(PolicyError, match=re.escape("nowhere.yaml: cannot read the policy file")):
        load_policy("nowhere.yaml")


def test_describe_policy_says_what_each_rule_does(policy: Policy) -> None:
    # GIVEN the test policy WHEN described THEN a summary line then one line per rule, in words
    lines = describe_policy(policy)
    assert len(lines) == 1 + len(policy.rules)
    assert policy.digest in lines[0]
    assert "approve when auc (binary_classification_metrics.auc.value) ≥ 0.85" in lines[1]
    assert "otherwise reject" in lines[1]
    assert "life cycle Production/Approved" in lines[1]
    assert "than the champion's" in lines[2]
    assert "hold for a human" in lines[2]
    assert "evaluation.json in output 'evaluation'" in lines[3]
    assert "Re-decides" in lines[4]


@pytest.mark.parametrize(
    ("expression", "label"),
    [
        ("binary_classification_metrics.auc.value", "auc"),
        ("metrics.f1", "f1"),
        ('report."f1-score".value', "f1-score"),
        ("metrics[0].value", "metrics[0].value"),
        ("value", "value"),
    ],
)
def test_metric_label(expression: str, label: str) -> None:
    # GIVEN an expression WHEN labelled THEN the last field before .value, or the expression itself
    assert metric_label(expression) == label
