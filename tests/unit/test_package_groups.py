"""Which versions a function may describe at all, read from the version ARN before any call."""

from __future__ import annotations

import pytest

from registrar.package import group_in_version_arn, unmanaged_reason

VERSION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"


def test_the_group_is_read_from_a_version_arn_only() -> None:
    assert group_in_version_arn(VERSION) == "churn-model"
    assert group_in_version_arn("arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package/fraud/12") == "fraud"
    assert group_in_version_arn("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model") is None
    assert group_in_version_arn("arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-model") is None


@pytest.mark.parametrize("patterns", [(), ("churn-*",), ("Churn-*",), ("CHURN-MODEL",), ("fraud-*", "churn-?odel")])
def test_a_version_of_a_managed_group_may_be_described(patterns: tuple[str, ...]) -> None:
    # SageMaker's ARNs spell the group in lower case, so the ARN check ignores case
    assert unmanaged_reason(VERSION, patterns) is None


def test_a_version_of_another_group_is_not_described() -> None:
    reason = unmanaged_reason(VERSION, ["fraud-*", "credit-risk"])
    assert reason == (
        "group churn-model (as the version ARN spells it) is not among the managed groups (fraud-*, credit-risk)"
    )


def test_a_package_that_is_no_version_is_not_described_when_groups_are_managed() -> None:
    unversioned = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model"
    assert (
        unmanaged_reason(unversioned, ["churn-*"])
        == f"{unversioned} is not a model package version; registrar acts on versions only"
    )
    assert unmanaged_reason(unversioned, []) is None
