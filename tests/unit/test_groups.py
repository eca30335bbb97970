"""registrar.groups: one group matcher, one case rule (ignore case), for policy rules, managed groups and ARNs."""

from __future__ import annotations

import pytest

from registrar.approval.policy import parse_policy
from registrar.groups import (
    account_and_region,
    first_match,
    group_in_version_arn,
    is_version_arn,
    matches,
    unmanaged_reason,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"


def version_arn(group: str, version: int = 3) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


POLICY = """\
version: 1
rules:
  - groups: ["Churn-*"]
    approve_when: [{metric: m.value, min: 0}]
    on_failure: reject
  - groups: ["fraud-model"]
    approve_when: [{metric: m.value, min: 0}]
    on_failure: hold
"""


# --- matches / first_match ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "pattern"),
    [
        ("churn-model", "churn-*"),
        ("Churn-Model", "churn-*"),
        ("churn-model", "CHURN-*"),
        ("CHURN-MODEL", "churn-model"),
        ("churn-model", "Churn-?odel"),
        ("credit-risk", "credit-[rR]isk"),
    ],
)
def test_a_group_matches_a_pattern_ignoring_case(group: str, pattern: str) -> None:
    # GIVEN a group and an fnmatch pattern that differ at most in case WHEN matched THEN they match
    assert matches(group, pattern)


@pytest.mark.parametrize(
    ("group", "pattern"),
    [("churn-model", "fraud-*"), ("churn-model-2", "churn-model"), ("xchurn-model", "churn-*"), ("churn", "churn-*")],
)
def test_a_group_not_matching_a_pattern_in_any_case_does_not_match(group: str, pattern: str) -> None:
    # GIVEN a group the pattern does not cover WHEN matched THEN no match (fnmatch, whole name)
    assert not matches(group, pattern)
    assert not matches(group.upper(), pattern)


def test_first_match_is_the_first_pattern_matching_in_order() -> None:
    # GIVEN several patterns, two of which match (in another case) WHEN the first match is asked
    # THEN the first matching pattern, as it was written; None when none matches
    assert first_match("Churn-Model", ["fraud-*", "CHURN-*", "churn-model"]) == "CHURN-*"
    assert first_match("churn-model", ["fraud-*", "credit-risk"]) is None
    assert first_match("churn-model", []) is None


# --- one case rule for policy rules, managed groups and ARNs -------------------------------------


@pytest.mark.parametrize("group", ["churn-model", "Churn-Model", "CHURN-MODEL"])
def test_policy_rules_managed_groups_and_arns_agree_on_a_group_in_any_case(group: str) -> None:
    # GIVEN the policy rule Churn-*, the managed group Churn-*, and a version of the group in any case
    # (SageMaker spells it in lower case in the ARN)
    policy = parse_policy(POLICY)
    arn = version_arn(group.lower())
    # WHEN each check is made THEN all three say the same: the group is covered
    matched = policy.match(group)
    assert matched is not None and matched.number == 1
    assert unmanaged_reason(arn, ["Churn-*"]) is None
    assert first_match(group, ["Churn-*"]) == "Churn-*"


@pytest.mark.parametrize("group", ["Fraud-Model", "FRAUD-MODEL"])
def test_an_exact_rule_matches_the_group_in_another_case(group: str) -> None:
    # GIVEN the rule fraud-model (no wildcard) WHEN a group spelled in capitals is matched THEN rule 2 matches
    matched = parse_policy(POLICY).match(group)
    assert matched is not None and matched.number == 2


# --- version ARNs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        version_arn("churn-model", 1),
        version_arn("Churn-Model", 12),
        "arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package/fraud/12",
        "arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:model-package/a/1",
        version_arn("a" * 63, 1234567890),
    ],
)
def test_a_version_arn_is_recognised(arn: str) -> None:
    # GIVEN a model package version ARN in any partition WHEN checked THEN it is a version ARN
    assert is_version_arn(arn)


@pytest.mark.parametrize(
    "arn",
    [
        "churn-model",
        "churn-model/3",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/churn-model",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/latest",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/3/extra",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:compilation-job/churn-model/3",
        f"arn:aws:s3:{REGION}:{ACCOUNT}:model-package/churn-model/3",
        f"arn:aws:sagemaker:{REGION}:12345:model-package/churn-model/3",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn_model/3",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/-churn/3",
        version_arn("a" * 64, 1),
        " " + version_arn("churn-model"),
        version_arn("churn-model") + "\n",
    ],
)
def test_anything_else_is_not_a_version_arn(arn: str) -> None:
    # GIVEN a name, an unversioned or group ARN, another resource or service, or a malformed ARN
    # WHEN checked THEN it is no version ARN, and it names no group
    assert not is_version_arn(arn)
    assert group_in_version_arn(arn) is None
    assert account_and_region(arn) is None


def test_the_group_is_read_as_the_arn_spells_it() -> None:
    # GIVEN a version ARN WHEN its group, account and region are read THEN as written in the ARN
    arn = "arn:aws:sagemaker:eu-west-1:210987654321:model-package/Churn-Model/7"
    assert group_in_version_arn(arn) == "Churn-Model"
    assert account_and_region(arn) == ("210987654321", "eu-west-1")


# --- unmanaged_reason ---------------------------------------------------------------------------


@pytest.mark.parametrize("managed", [(), ("churn-*",), ("CHURN-MODEL",), ("fraud-*", "Churn-?odel")])
def test_a_version_of_a_managed_group_has_no_reason_to_be_refused(managed: tuple[str, ...]) -> None:
    # GIVEN managed groups covering churn-model in any case, or none configured (any group is managed)
    # WHEN a churn-model version is checked THEN no reason
    assert unmanaged_reason(version_arn("churn-model"), managed) is None


def test_a_version_of_an_unmanaged_group_is_refused_naming_the_group_and_the_managed_groups() -> None:
    # GIVEN managed groups fraud-* and credit-risk WHEN a churn-model version is checked
    # THEN the reason names the group as the ARN spells it and the managed groups
    reason = unmanaged_reason(version_arn("churn-model"), ("fraud-*", "credit-risk"))
    assert reason == "group churn-model is not among the managed groups (fraud-*, credit-risk)"


@pytest.mark.parametrize("managed", [(), ("churn-*",)])
@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/churn-model",
        "churn-model",
    ],
)
def test_a_non_version_arn_is_refused_with_or_without_managed_groups(arn: str, managed: tuple[str, ...]) -> None:
    # GIVEN an ARN (or name) that is no model package version WHEN checked, whether groups are managed or not
    # THEN refused: registrar acts on versions only
    assert unmanaged_reason(arn, managed) == f"{arn} is not a model package version; registrar acts on versions only"
