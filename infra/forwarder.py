"""Several accounts, a workload's side: the forwarder stack deployed to each workload account.

Evaluations and Neo compilations run in the workload accounts, the model registry and registrar in the
registry account. Each workload account's forwarder stack sends the events registrar consumes to the
registry account's default bus, runs the Neo sweeper where the compilations run, and holds the role
registrar's functions assume to read the evidence that stays in the account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import permissions
from infra.config import PROJECT_ROOT, AccountsConfig, RegistrarConfig, WorkloadAccount
from infra.names import (
    APPROVAL_ROLE_NAME,
    FORWARDER_STACK_DESCRIPTION,
    NEO_REGISTRATION_ROLE_NAME,
    SERVICE,
    role_name,
)
from infra.neo_registration import Sweep, build_sweeper
from infra.observability import Observability
from infra.routing import event_pattern, rule_id, target_dead_letter_queue
from infra.shared import SharedResources
from registrar.patterns import FORWARDED, for_account

EVENTS_PRINCIPAL = "events.amazonaws.com"


def registry_bus(accounts: AccountsConfig) -> str:
    """An ``Fn::Sub`` template for the ARN of the registry account's default bus."""
    return f"arn:${{AWS::Partition}}:events:{accounts.region}:{accounts.registry}:event-bus/default"


def registry_function_roles(accounts: AccountsConfig) -> list[str]:
    """``Fn::Sub`` templates for the ARNs of the registry's function roles that read a workload's evidence."""
    return [
        f"arn:${{AWS::Partition}}:iam::{accounts.registry}:role/{role_name(template, accounts.region)}"
        for template in (APPROVAL_ROLE_NAME, NEO_REGISTRATION_ROLE_NAME)
    ]


class EventForwarding(Construct):
    """Rules on the workload account's default bus that send registrar's events to the registry account's bus.

    One rule per forwarded pattern (:data:`registrar.patterns.FORWARDED`: evaluation jobs that
    ended, and the sweeper's ``Compilation Job State Change``), each narrowed to this account's own events.
    The target's role may put events on exactly the registry's default bus. Each target has its own
    dead-letter queue; CDK's event bus target takes no retry policy, so EventBridge's own applies (retries
    for 24 hours, up to 185 attempts), then the dead-letter queue.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    accounts
        The configuration's accounts (the registry account and region).

    Attributes
    ----------
    bus_arn
        The registry account's default bus.
    role
        The role EventBridge assumes to put the events there.
    rules, dead_letter_queues
        The rules and each one's target dead-letter queue, by the rule's id (``ProcessingJobStateChange``...).
    """

    def __init__(self, scope: Construct, construct_id: str, *, accounts: AccountsConfig) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        self.bus_arn = cdk.Fn.sub(registry_bus(accounts))
        bus = events.EventBus.from_event_bus_arn(self, "RegistryBus", self.bus_arn)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(EVENTS_PRINCIPAL),
            description="registrar forwarder: puts this account's registrar events on the registry account's bus",
        )
        self.rules: dict[str, events.Rule] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for pattern in FORWARDED:
            name = rule_id(pattern)
            dead_letters = target_dead_letter_queue(self, f"{name}DeadLetterQueue")
            self.rules[name] = events.Rule(
                self,
                name,
                description=f"registrar forwarder: {', '.join(pattern['detail-type'])} to the registry account",
                event_pattern=event_pattern(for_account(pattern, account)),
                # The target grants its role events:PutEvents on this bus ARN, and nothing else.
                targets=[targets.EventBus(bus, role=self.role, dead_letter_queue=dead_letters)],
            )
            self.dead_letter_queues[name] = dead_letters


class EvidenceReader(Construct):
    """The role registrar's functions assume to read a workload account's evidence: read-only, nothing else.

    Trusted by the registry account on the condition that the caller is one of registrar's two function
    roles there (``aws:PrincipalArn``; the roles have physical names, :data:`infra.names.APPROVAL_ROLE_NAME`),
    so no other principal of the registry account may assume it, and the trust does not depend on which
    stack is deployed first. It may read the workload's report locations (``s3:GetObject``, and
    ``s3:ListBucket`` limited to their prefixes, as the approval role does in its own account), provided the
    bucket belongs to the workload account itself (``aws:ResourceAccount``: a bucket name deleted or mistyped
    could be created by any other account), and describe and list the tags of the account's processing and
    compilation jobs.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    accounts
        The configuration's accounts (registry account, region, the role's name).
    workload
        The workload account the role is in.

    Attributes
    ----------
    role
        The evidence role.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, accounts: AccountsConfig, workload: WorkloadAccount
    ) -> None:
        super().__init__(scope, construct_id)
        callers = [cdk.Fn.sub(arn) for arn in registry_function_roles(accounts)]
        self.role = iam.Role(
            self,
            "Role",
            role_name=accounts.evidence_role,
            assumed_by=iam.AccountPrincipal(accounts.registry).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": callers}}
            ),
            description="registrar: the registry account's approval and Neo functions read this account's evidence",
        )
        # The workload's own account: a bucket of that name in any other account is not its evidence.
        permissions.read_reports(self.role, workload.report_locations, owner="${AWS::AccountId}")
        permissions.read_jobs(self.role, "processing-job", ["sagemaker:DescribeProcessingJob"])
        permissions.read_jobs(self.role, "compilation-job", ["sagemaker:DescribeCompilationJob"])


class ForwarderStack(cdk.Stack):
    """A workload account's part of registrar: event forwarding, the Neo sweeper and the evidence role.

    Parameters
    ----------
    scope, construct_id
        Where the stack sits in the app (``RegistrarForwarder-<name>``, :func:`infra.names.forwarder_stack`).
    config
        The validated deployment configuration; ``accounts`` must be set.
    workload
        The workload account this stack is deployed to.
    root
        The project root (``functions/``, ``pyproject.toml``, ``.build/``).
    **kwargs
        Passed to :class:`aws_cdk.Stack` (``env``...).

    Attributes
    ----------
    shared
        The function code, dependencies layer and the table holding the sweeper's watermark.
    forwarding
        The rules sending registrar's events to the registry account.
    sweep
        The Neo sweeper, publishing this account's finished compilation jobs on its default bus.
    evidence
        The role registrar assumes to read this account's evidence.
    observability
        The sweeper's and the dead-letter queues' alarms, their topic and a dashboard.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RegistrarConfig,
        workload: WorkloadAccount,
        root: Path = PROJECT_ROOT,
        **kwargs: Any,
    ) -> None:
        accounts = config.accounts
        if accounts is None:
            raise ValueError("a forwarder stack needs the configuration's accounts")
        kwargs.setdefault("description", FORWARDER_STACK_DESCRIPTION)
        super().__init__(scope, construct_id, **kwargs)
        cdk.Tags.of(self).add("application", SERVICE)

        self.shared = SharedResources(self, "Shared", root=root)
        self.forwarding = EventForwarding(self, "Forward", accounts=accounts)
        self.sweep: Sweep = build_sweeper(
            Construct(self, "Neo"),
            shared=self.shared,
            config=config,
            neo_output_locations=workload.neo_output_locations,
        )
        self.evidence = EvidenceReader(self, "Evidence", accounts=accounts, workload=workload)
        self.observability = Observability(
            self,
            "Observability",
            functions={"Sweeper": self.sweep.function.function},
            dead_letter_queues={
                "SweepScheduleDeadLetterQueue": self.sweep.dead_letter_queue,
                **{f"Forward{name}DeadLetterQueue": q for name, q in self.forwarding.dead_letter_queues.items()},
            },
            flow_queues={},
            sweep_rate=cdk.Duration.minutes(config.sweep_rate_minutes),
            alarm_email=config.alarm_email,
        )
