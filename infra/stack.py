"""The registrar stack: composes one construct per concern and passes the shared resources in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra import permissions
from infra.approval_flow import ApprovalFlow
from infra.approver_mail import ApproverMail
from infra.config import PROJECT_ROOT, RegistrarConfig
from infra.cross_account import CrossAccountAccess
from infra.decision_page import DecisionPage, SigningSecret
from infra.deployment_flow import DeploymentFlow
from infra.names import SERVICE, STACK_DESCRIPTION
from infra.neo_registration import NeoRegistration
from infra.notifications import Notifications
from infra.observability import Observability
from infra.shared import SharedResources


class RegistrarStack(cdk.Stack):
    """registrar in one stack: shared resources, the approval flow, the Neo flow, notifications and observability.

    With several accounts (``accounts`` in the configuration) this is the registry account's stack, which also
    accepts the workload accounts' forwarded events and shares the exact model package groups with them
    (:class:`infra.cross_account.CrossAccountAccess`); each workload account has a
    :class:`infra.forwarder.ForwarderStack`.

    Parameters
    ----------
    scope, construct_id
        Where the stack sits in the app.
    config
        The validated deployment configuration.
    root
        The project root (``functions/``, ``pyproject.toml``, ``.build/``).
    **kwargs
        Passed to :class:`aws_cdk.Stack` (``env``, ``synthesizer``...).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RegistrarConfig,
        root: Path = PROJECT_ROOT,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", STACK_DESCRIPTION)
        super().__init__(scope, construct_id, **kwargs)
        cdk.Tags.of(self).add("application", SERVICE)

        self.shared = SharedResources(self, "Shared", root=root)
        self.approval = ApprovalFlow(self, "Approval", shared=self.shared, config=config)
        self.neo = NeoRegistration(self, "Neo", shared=self.shared, config=config)
        self.deployment = DeploymentFlow(self, "Deployment", shared=self.shared, config=config)
        # Both flows write to model packages, and announce each write with a Registrar Decision event, notifications
        # or not: anyone may subscribe to the contract (docs/events.md).
        for role in (self.approval.handler.role, self.neo.handler.role):
            permissions.put_decision_events(role)
        # Several accounts: the registry's bus accepts the workloads' forwarded events, and they may register versions.
        self.cross_account = CrossAccountAccess(self, "CrossAccount", config=config) if config.accounts else None
        self.notifications = Notifications(self, "Notify", notify=config.notify) if config.notify else None
        # Approvers: their e-mails and the page their links lead to, with the links' signing secret.
        self.signing: SigningSecret | None = None
        self.page: DecisionPage | None = None
        self.approver_mail: ApproverMail | None = None
        if config.approvers is not None:
            self.signing = SigningSecret(self, "DecisionLinks", secret_name=config.signing_secret)
            self.page = DecisionPage(self, "DecisionPage", shared=self.shared, config=config, signing=self.signing)
            self.approver_mail = ApproverMail(
                self, "ApproverMail", shared=self.shared, config=config, signing=self.signing, page=self.page
            )
        mail = self.approver_mail
        self.observability = Observability(
            self,
            "Observability",
            functions={
                "Approval": self.approval.handler.function,
                "NeoRegistration": self.neo.handler.function,
                "Sweeper": self.neo.sweeper.function,
                "Deployment": self.deployment.handler.function,
                **({"DecisionPage": self.page.handler.function} if self.page else {}),
                **({"ApproverMail": mail.handler.function} if mail else {}),
            },
            dead_letter_queues={
                "ApprovalDeadLetterQueue": self.approval.route.dead_letter_queue,
                **{
                    f"Approval{rule.node.id}DeadLetterQueue": queue
                    for rule, queue in zip(
                        self.approval.route.rules, self.approval.route.target_dead_letter_queues, strict=True
                    )
                },
                "NeoDeadLetterQueue": self.neo.route.dead_letter_queue,
                **{
                    f"Neo{rule.node.id}DeadLetterQueue": queue
                    for rule, queue in zip(self.neo.route.rules, self.neo.route.target_dead_letter_queues, strict=True)
                },
                "SweepScheduleDeadLetterQueue": self.neo.schedule_dead_letter_queue,
                "DeploymentDeadLetterQueue": self.deployment.route.dead_letter_queue,
                **{
                    f"Deployment{rule.node.id}DeadLetterQueue": queue
                    for rule, queue in zip(
                        self.deployment.route.rules, self.deployment.route.target_dead_letter_queues, strict=True
                    )
                },
                **(self.notifications.dead_letter_queues if self.notifications else {}),
                **({"ApproverMailDeadLetterQueue": mail.route.dead_letter_queue} if mail else {}),
                **(
                    {
                        f"ApproverMail{rule.node.id}DeadLetterQueue": queue
                        for rule, queue in zip(mail.route.rules, mail.route.target_dead_letter_queues, strict=True)
                    }
                    if mail
                    else {}
                ),
            },
            flow_queues={
                "ApprovalQueue": self.approval.route,
                "NeoQueue": self.neo.route,
                "DeploymentQueue": self.deployment.route,
                **({"ApproverMailQueue": mail.route} if mail else {}),
            },
            sweep_rate=cdk.Duration.minutes(config.sweep_rate_minutes),
            alarm_email=config.alarm_email,
        )
