"""One registrar Lambda function with its own role and log group, configured the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import nag
from infra.names import METRICS_NAMESPACE, SERVICE

MEMORY_MB = 256
DEFAULT_TIMEOUT = cdk.Duration.seconds(60)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
LOG_LEVEL = "INFO"


class RegistrarFunction(Construct):
    """A Python 3.13 arm64 function with JSON logs, X-Ray tracing (unless turned off) and the Powertools settings.

    The role and the log group are created here rather than by CDK's defaults, so the role holds
    exactly the log permissions it needs instead of the AWSLambdaBasicExecutionRole managed policy,
    and the log group has a retention period.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    handler
        The handler's import path inside the code asset (``handlers.approval.handler``).
    description
        What the function does, shown in the console.
    code, layer
        The shared function code and dependencies layer.
    environment
        The ``REGISTRAR_*`` settings (see ``registrar.settings.Settings``).
    timeout
        The function timeout.
    tracing
        X-Ray active tracing (Powertools Tracer); off, Powertools is told so and never imports the X-Ray SDK.
    role_name
        A physical name for the role, when another account must name it (:data:`infra.names.APPROVAL_ROLE_NAME`);
        otherwise CloudFormation generates one.

    Attributes
    ----------
    function, role, log_group
        The function, its execution role and its log group.
    timeout
        The function timeout (queues size their visibility timeout from it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        tracing: bool = True,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.timeout = timeout
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"registrar {construct_id}: {description}",
            role_name=role_name,
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            layers=[layer],
            role=self.role,
            memory_size=MEMORY_MB,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
                **({} if tracing else {"POWERTOOLS_TRACE_DISABLED": "true"}),
                **environment,
            },
        )
        # The function's GetAtt on the role already orders it after the role, so CDK's DependsOn on the role is
        # redundant (cfn-lint W3005); the one on the role's policy is not: keep that alone.
        policy = cast(cdk.CfnResource, self.role.node.find_child("DefaultPolicy").node.default_child)
        cast(cdk.CfnResource, self.function.node.default_child).add_override("DependsOn", [policy.logical_id])
        if tracing:
            nag.acknowledge(
                self.role,
                "IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords, added for active tracing, do not support "
                "resource-level permissions",
            )
        nag.acknowledge(
            self.function,
            "L1",
            "Python 3.13 is deliberate: the dependencies layer is built for cp313 and the code is tested on it; "
            "moving to a newer runtime is a change of its own, with the layer rebuilt and the tests rerun",
        )
