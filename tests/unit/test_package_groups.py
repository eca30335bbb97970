"""Which versions a function may describe at all, read from the version ARN before any call."""

from __future__ import annotations

import pytest

from registrar.groups import group_in_version_arn, unmanaged_reason

VERSION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"


def test_the_group_is_read_from_a_version_arn_only() -> None:
    # GIVEN version ARNs, an unversioned package ARN and a group ARN WHEN the group is read
    # THEN only a version ARN names one
    assert group_in_version_arn(VERSION) == "churn-model"
    assert group_in_version_arn("arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package/fraud/12") == "fraud"
    assert group_in_version_arn("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model") is None
    assert group_in_version_arn("arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-model") is None


@pytest.mark.parametrize("patterns", [(), ("churn-*",), ("Churn-*",), ("CHURN-MODEL",), ("fraud-*", "churn-?odel")])
def test_a_version_of_a_managed_group_may_be_described(patterns: tuple[str, ...]) -> None:
    # GIVEN managed groups that include churn-model in any case (or none configured)
    # WHEN a churn-model version's ARN is checked THEN nothing stops describing it
    assert unmanaged_reason(VERSION, patterns) is None


def test_a_version_of_another_group_is_not_described() -> None:
    # GIVEN managed groups fraud-* and credit-risk WHEN a churn-model version's ARN is checked THEN the reason
    reason = unmanaged_reason(VERSION, ["fraud-*", "credit-risk"])
    assert reason == "group churn-model is not among the managed groups (fraud-*, credit-risk)"


@pytest.mark.parametrize("patterns", [["churn-*"], []])
def test_a_package_that_is_no_version_is_not_described(patterns: list[str]) -> None:
    # GIVEN an unversioned package ARN WHEN checked, with managed groups or without
    # THEN refused either way: registrar acts on versions only (without managed groups too, since the restructure)
    unversioned = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model"
    assert (
        unmanaged_reason(unversioned, patterns)
        == f"{unversioned} is not a model package version; registrar acts on versions only"
    )
