"""Least privilege: SageMaker writes only on the configured groups, S3 reads only on the report locations."""

from __future__ import annotations

from typing import Any

import pytest

from infra.names import APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER, SWEEPER_HANDLER

from .conftest import Synthesized

SAGEMAKER_READ_PREFIXES = ("sagemaker:Describe", "sagemaker:List")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub(template: str) -> dict[str, str]:
    return {"Fn::Sub": template}


def all_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synthesized.properties("AWS::IAM::Policy").values()
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def resources_for(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]


def test_no_sagemaker_write_or_s3_read_is_granted_on_every_resource(synthesized: Synthesized) -> None:
    for statement in all_statements(synthesized):
        actions = as_list(statement["Action"])
        sensitive = [
            a
            for a in actions
            if a == "s3:GetObject" or (a.startswith("sagemaker:") and not a.startswith(SAGEMAKER_READ_PREFIXES))
        ]
        if sensitive:
            assert "*" not in as_list(statement["Resource"]), f"{sensitive} granted on *"
        assert not any("*" in a for a in actions), f"wildcard action in {actions}"


def test_update_model_package_is_granted_on_exactly_the_configured_groups(synthesized: Synthesized) -> None:
    expected = [
        sub(f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:model-package/{group}/*")
        for group in synthesized.config.model_package_groups
    ]
    for handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER):
        function_id, _function = synthesized.function(handler)
        statements = synthesized.role_statements(function_id)
        assert resources_for(statements, "sagemaker:UpdateModelPackage") == expected, handler
        assert resources_for(statements, "sagemaker:DescribeModelPackage") == expected, handler
    sweeper_id, _sweeper = synthesized.function(SWEEPER_HANDLER)
    assert resources_for(synthesized.role_statements(sweeper_id), "sagemaker:UpdateModelPackage") == []


def test_reports_are_readable_only_under_the_configured_locations(synthesized: Synthesized) -> None:
    expected = [
        sub(f"arn:${{AWS::Partition}}:s3:::{location.removeprefix('s3://')}*")
        for location in synthesized.config.report_locations
    ]
    assert resources_for(all_statements(synthesized), "s3:GetObject") == expected
    approval_id, _approval = synthesized.function(APPROVAL_HANDLER)
    assert resources_for(synthesized.role_statements(approval_id), "s3:GetObject") == expected


def test_champion_lookup_lists_only_the_configured_groups(synthesized: Synthesized) -> None:
    approval_id, _approval = synthesized.function(APPROVAL_HANDLER)
    listed = resources_for(synthesized.role_statements(approval_id), "sagemaker:ListModelPackages")
    prefix = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
    for group in synthesized.config.model_package_groups:
        assert sub(f"{prefix}model-package-group/{group}") in listed
    assert all(
        r["Fn::Sub"].removeprefix(prefix).split("/")[1] in synthesized.config.model_package_groups for r in listed
    )


@pytest.mark.parametrize(
    ("handler", "actions", "kind"),
    [
        (APPROVAL_HANDLER, ("sagemaker:DescribeProcessingJob", "sagemaker:ListTags"), "processing-job"),
        (NEO_REGISTRATION_HANDLER, ("sagemaker:DescribeCompilationJob", "sagemaker:ListTags"), "compilation-job"),
    ],
)
def test_jobs_are_read_only_within_their_kind(
    synthesized: Synthesized, handler: str, actions: tuple[str, ...], kind: str
) -> None:
    function_id, _function = synthesized.function(handler)
    statements = synthesized.role_statements(function_id)
    for action in actions:
        assert resources_for(statements, action) == [
            sub(f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/*")
        ]


def test_only_the_sweeper_lists_compilation_jobs_and_puts_events_on_the_default_bus(synthesized: Synthesized) -> None:
    for handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER, SWEEPER_HANDLER):
        function_id, _function = synthesized.function(handler)
        statements = synthesized.role_statements(function_id)
        lists = resources_for(statements, "sagemaker:ListCompilationJobs")
        puts = resources_for(statements, "events:PutEvents")
        if handler == SWEEPER_HANDLER:
            assert lists == ["*"]  # the action has no resource type
            [bus] = puts
            assert "event-bus/default" in str(bus)
        else:
            assert lists == puts == []


def test_roles_carry_no_managed_policies(synthesized: Synthesized) -> None:
    for name, role in synthesized.properties("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role, name
