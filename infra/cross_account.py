"""Several accounts, the registry's side: what it accepts from the workload accounts, and what it shares with them.

With ``accounts`` in the configuration, the registrar stack is deployed to the registry account and each
workload account gets a forwarder stack (:mod:`infra.forwarder`). The registry's default bus then accepts
the forwarded events from exactly the listed accounts; the approval and Neo flows' rules match them; their
functions may assume the evidence role of exactly those accounts; and the exact model package groups let
those accounts register versions. Trust crosses an account boundary only where the configuration names the
account (ARCHITECTURE.md, safety rule 8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from infra import permissions
from infra.config import AccountsConfig, RegistrarConfig
from infra.function import LOG_RETENTION, RegistrarFunction
from infra.names import ENV_EVIDENCE_ROLE, ENV_REGISTRY_ACCOUNT, ENV_WORKLOAD_ACCOUNTS, role_name
from infra.routing import rule_id
from registrar.patterns import FORWARDED

# What a workload account may do in a shared model package group: register a version. The SageMaker developer
# guide's cross-account model registry example grants exactly this action, on model-package/<group>/*.
GROUP_POLICY_ACTIONS: Final = ("sagemaker:CreateModelPackage",)
# ...and only a version pending approval: CreateModelPackage takes a ModelApprovalStatus, and a version registered
# Approved would never pass registrar's gate (its rule matches PendingManualApproval). `sagemaker:ModelApprovalStatus`
# is SageMaker's condition key on "the model approval status with the model-package in the request" (service
# authorization reference); IfExists, because a request without a status registers the version pending approval.
PENDING_APPROVAL_ONLY: Final = {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}


def is_exact_group(group: str) -> bool:
    """Whether a configured group is one name (``credit-risk``) rather than a pattern (``churn-*``)."""
    return not any(wildcard in group for wildcard in "*?")


def flow_workloads(config: RegistrarConfig) -> list[str]:
    """The workload accounts whose forwarded events the approval and Neo flows' rules also match; none for one."""
    return [] if config.accounts is None else config.accounts.workload_ids


def flow_environment(scope: IConstruct, config: RegistrarConfig) -> dict[str, str]:
    """The settings the approval and Neo functions read about accounts.

    Always the registry account (the stack's); with several accounts also the workloads' locations
    (``{"<account>": {"report_locations": [...], "neo_output_locations": [...]}}``, compact JSON) and
    the name of the evidence role to assume in them.
    """
    environment = {ENV_REGISTRY_ACCOUNT: cdk.Stack.of(scope).account}
    if config.accounts is not None:
        environment[ENV_WORKLOAD_ACCOUNTS] = config.accounts.workload_settings
        environment[ENV_EVIDENCE_ROLE] = config.accounts.evidence_role
    return environment


def flow_role_name(config: RegistrarConfig, template: str) -> str | None:
    """The physical name of a flow function's role with several accounts (the workloads' roles trust it by ARN)."""
    return None if config.accounts is None else role_name(template, config.accounts.region)


def read_workload_evidence(handler: RegistrarFunction, config: RegistrarConfig) -> None:
    """Let a flow function assume the evidence role of each listed workload account, and no other role."""
    if config.accounts is not None:
        permissions.assume_evidence_roles(handler.role, config.accounts.workload_ids, config.accounts.evidence_role)


def account_roots(accounts: Sequence[str]) -> list[str]:
    """The root principal of each account, as ARNs in the stack's partition."""
    return [cdk.Fn.sub(f"arn:${{AWS::Partition}}:iam::{account}:root") for account in accounts]


def organization_condition(accounts: AccountsConfig) -> dict[str, str]:
    """``aws:PrincipalOrgID`` when the configuration names an organization: it narrows, never widens."""
    return {} if accounts.organization_id is None else {"aws:PrincipalOrgID": accounts.organization_id}


def forwarded_event_statement(pattern: Mapping[str, Any], accounts: AccountsConfig) -> dict[str, Any]:
    """The default bus's policy statement that accepts one forwarded pattern's events from the workload accounts.

    The principals are the listed accounts, nothing wider; ``events:source`` and ``events:detail-type`` hold each
    entry to the pattern's source and detail-type, as EventBridge's "send events to a bus in a different account"
    example does (``ForAllValues`` on the source: a PutEvents call carries one per entry).
    """
    [source] = pattern["source"]
    [detail_type] = pattern["detail-type"]
    return {
        "Sid": statement_id(pattern),
        "Effect": "Allow",
        "Principal": {"AWS": account_roots(accounts.workload_ids)},
        "Action": "events:PutEvents",
        "Resource": cdk.Fn.sub(permissions.default_bus()),
        "Condition": {
            "ForAllValues:StringEquals": {"events:source": [source]},
            "StringEquals": {"events:detail-type": detail_type, **organization_condition(accounts)},
        },
    }


def statement_id(pattern: Mapping[str, Any]) -> str:
    """The bus policy statement's id for one forwarded pattern: ``registrar-ProcessingJobStateChange``..."""
    return f"registrar-{rule_id(pattern)}"


def group_policy(group: str, accounts: AccountsConfig) -> dict[str, Any]:
    """A model package group's resource policy: the workload accounts may register pending versions, nothing more.

    Pending approval only (:data:`PENDING_APPROVAL_ONLY`); with ``organization_id``, only principals of that
    organization.
    """
    condition: dict[str, Any] = dict(PENDING_APPROVAL_ONLY)
    if accounts.organization_id:
        condition["StringEquals"] = organization_condition(accounts)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WorkloadAccountsRegisterVersions",
                "Effect": "Allow",
                "Principal": {"AWS": account_roots(accounts.workload_ids)},
                "Action": list(GROUP_POLICY_ACTIONS),
                "Resource": [cdk.Fn.sub(arn) for arn in permissions.package_versions([group])],
                "Condition": condition,
            }
        ],
    }


class CrossAccountAccess(Construct):
    """The registry account's grants to the workload accounts: forwarded events in, version registration.

    - One statement per forwarded pattern (:data:`FORWARDED`) on the default bus's resource policy:
      ``events:PutEvents`` from exactly the listed workload accounts (and, with ``organization_id``, only
      from principals of that organization), for that pattern's source and detail-type only.
    - For each *exact* model package group (no ``*`` or ``?``), its resource policy
      (PutModelPackageGroupPolicy through a custom resource; DeleteModelPackageGroupPolicy when removed):
      the workload accounts may call CreateModelPackage on its versions, with no ``ModelApprovalStatus`` or
      ``PendingManualApproval`` (:data:`PENDING_APPROVAL_ONLY`), nothing else. A pattern names no
      group to put a policy on: the operator shares those groups (docs/deployment.md, "Several accounts").
      The policy replaces any other on the group: registrar owns the resource policy of the groups it shares.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    config
        The deployment's configuration; ``accounts`` must be set.

    Attributes
    ----------
    bus_policies
        The default bus's policy statements, by forwarded detail-type's rule id.
    group_policies
        The model package group policies' custom resources, by group.
    provider_role, provider_log_group
        The role and log group of AwsCustomResource's provider function, when there is a group to share.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: RegistrarConfig) -> None:
        super().__init__(scope, construct_id)
        accounts = config.accounts
        if accounts is None:
            raise ValueError("CrossAccountAccess needs the configuration's accounts")
        self.bus_policies: dict[str, events.CfnEventBusPolicy] = {}
        # The L1 with a whole statement: CDK's EventBusPolicy cannot serialize an iam.PolicyStatement from Python
        # (a circular reference at synth). cdk-nag's EventBridge rule reads the deprecated `principal` of each,
        # which makes jsii print a deprecation warning; the statement form is the supported one.
        for pattern in FORWARDED:
            name = rule_id(pattern)
            self.bus_policies[name] = events.CfnEventBusPolicy(
                self,
                f"Accept{name}",
                event_bus_name="default",
                statement_id=statement_id(pattern),
                statement=forwarded_event_statement(pattern, accounts),
            )

        stack = cdk.Stack.of(self)
        self.group_policies: dict[str, cr.AwsCustomResource] = {}
        groups = list(filter(is_exact_group, config.model_package_groups))
        if not groups:
            return
        # AwsCustomResource's provider is one function per stack; given its role and log group, it gets no AWS
        # managed policy and its logs expire like the functions'.
        self.provider_log_group = logs.LogGroup(self, "ProviderLogs", retention=LOG_RETENTION)
        self.provider_role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="registrar: puts and deletes the shared model package groups' resource policies",
        )
        self.provider_log_group.grant_write(self.provider_role)
        for group in groups:
            call = cr.AwsSdkCall(
                service="SageMaker",
                action="PutModelPackageGroupPolicy",
                parameters={
                    "ModelPackageGroupName": group,
                    "ResourcePolicy": stack.to_json_string(group_policy(group, accounts)),
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"registrar-group-policy-{group}"),
            )
            self.group_policies[group] = cr.AwsCustomResource(
                self,
                f"GroupPolicy-{group}",
                resource_type="Custom::ModelPackageGroupPolicy",
                on_create=call,
                on_update=call,
                on_delete=cr.AwsSdkCall(
                    service="SageMaker",
                    action="DeleteModelPackageGroupPolicy",
                    parameters={"ModelPackageGroupName": group},
                    # A group (or its policy) already gone leaves nothing to delete. SageMaker models no error of its
                    # own for this call: a missing group comes back as a ValidationException.
                    ignore_error_codes_matching="ValidationException|ResourceNotFound",
                ),
                policy=cr.AwsCustomResourcePolicy.from_statements(
                    [
                        iam.PolicyStatement(
                            actions=["sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy"],
                            resources=[cdk.Fn.sub(arn) for arn in permissions.package_groups([group])],
                        )
                    ]
                ),
                install_latest_aws_sdk=False,
                role=self.provider_role,
                log_group=self.provider_log_group,
            )
        # As for registrar's own functions (infra.function): the provider's GetAtt on its role already orders it
        # after the role, so CDK's DependsOn on the role is redundant (cfn-lint W3005); keep the one on its policy.
        policy = cast(cdk.CfnResource, self.provider_role.node.find_child("DefaultPolicy").node.default_child)
        for provider in stack.node.children:
            if isinstance(provider, lambda_.Function) and provider.role is self.provider_role:
                cast(cdk.CfnResource, provider.node.default_child).add_override("DependsOn", [policy.logical_id])
