"""The approval flow: evaluated packages and finished evaluation jobs → the approval handler (registrar.approval)."""

from __future__ import annotations

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import cross_account, permissions
from infra.config import STANDARD_PARAMETER_BYTES, RegistrarConfig
from infra.function import RegistrarFunction
from infra.names import (
    APPROVAL_HANDLER,
    APPROVAL_ROLE_NAME,
    ENV_MANAGED_GROUPS,
    ENV_POLICY_PARAMETER,
    ENV_REPORT_LOCATIONS,
    ENV_TABLE_NAME,
)
from infra.routing import RoutedQueue
from infra.shared import SharedResources
from registrar.patterns import FLOWS


class ApprovalFlow(Construct):
    """Decides evaluated model package versions from their evidence and the approval policy.

    The policy file, validated at synth, is delivered as compact JSON in an SSM parameter the
    handler reads with a cache; the handler may read reports under the configured locations,
    update versions of the configured groups and keep its own idempotency records, nothing else.
    With several accounts its rules also match the listed workload accounts' events, and it may
    assume their evidence roles (:mod:`infra.cross_account`).

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    shared
        The function code, dependencies layer and state table.
    config
        The deployment's configuration.

    Attributes
    ----------
    policy
        The SSM parameter holding the policy as compact JSON (standard tier up to 4 KB, else advanced).
    handler
        The approval function, its role and log group.
    route
        The rules, queue and dead-letter queues that feed it.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, shared: SharedResources, config: RegistrarConfig
    ) -> None:
        super().__init__(scope, construct_id)
        self.policy = ssm.StringParameter(
            self,
            "Policy",
            description=f"registrar approval policy, from {config.policy_file}",
            string_value=config.policy_text,
            tier=(
                ssm.ParameterTier.STANDARD
                if len(config.policy_text.encode("utf-8")) <= STANDARD_PARAMETER_BYTES
                else ssm.ParameterTier.ADVANCED
            ),
        )
        self.handler = RegistrarFunction(
            self,
            "Handler",
            handler=APPROVAL_HANDLER,
            description="Decides evaluated SageMaker model package versions from their evidence and the policy",
            code=shared.code,
            layer=shared.layer,
            tracing=config.tracing,
            environment={
                ENV_POLICY_PARAMETER: self.policy.parameter_name,
                ENV_TABLE_NAME: shared.table.table_name,
                ENV_REPORT_LOCATIONS: ",".join(config.report_locations),
                ENV_MANAGED_GROUPS: ",".join(config.model_package_groups),
                **cross_account.flow_environment(self, config),
            },
            role_name=cross_account.flow_role_name(config, APPROVAL_ROLE_NAME),
        )
        role = self.handler.role
        self.policy.grant_read(role)
        permissions.update_packages(role, config.model_package_groups)
        permissions.list_group_versions(role, config.model_package_groups)
        permissions.read_jobs(role, "processing-job", ["sagemaker:DescribeProcessingJob"])
        # The registry's own report locations; a workload's reports are read through its evidence role.
        permissions.read_reports(role, config.report_locations)
        cross_account.read_workload_evidence(self.handler, config)

        self.route = RoutedQueue(
            self,
            "Events",
            flow="approval",
            patterns=FLOWS["approval"],
            consumer=self.handler.function,
            timeout=self.handler.timeout,
            max_concurrency=config.max_concurrency,
            workloads=cross_account.flow_workloads(config),
        )
        permissions.use_idempotency_records(self.handler, shared.table, before=[self.route.mapping])
