"""The approver e-mails: decisions a person must look at → the mail function → SES, one personal link per approver."""

from __future__ import annotations

import json
from typing import Final

from constructs import Construct

from infra import permissions
from infra.config import RegistrarConfig
from infra.decision_page import DecisionPage, SigningSecret
from infra.function import RegistrarFunction
from infra.names import (
    APPROVER_MAIL_HANDLER,
    ENV_APPROVERS,
    ENV_DECISION_PAGE_URL,
    ENV_LINK_TTL_DAYS,
    ENV_MAIL_FROM,
    ENV_SIGNING_SECRET,
    ENV_TABLE_NAME,
)
from infra.routing import RoutedQueue
from infra.shared import SharedResources
from registrar.decisions.approver_mail import pattern
from registrar.mail import ID_PREFIX as MAIL_ID_PREFIX

# What registrar.mail.MailLedger calls (put_item, update_item, delete_item), on mail#<decision id>#<recipient> items.
MAIL_LEDGER_ACTIONS: Final = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class ApproverMail(Construct):
    """E-mails each approver of a held version a personal decision link, through SES.

    A rule on the default bus matches the stack's account's ``Registrar Decision`` events whose verdict is one
    of ``approvers_notified_of`` and feeds a queue (with its dead-letter queues, like every flow's); the mail
    function reads the signing secret, mints one link per approver of the version's group and sends each its
    own e-mail from the configured sender, claiming ``mail#<decision id>#<recipient>`` in the state table first
    so a redelivery sends nothing twice.

    The role may read the signing secret, send e-mail from the sender identity with the configured From
    address, and write its ``mail#*`` items: nothing else (no SageMaker, no events).

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    shared
        The function code, dependencies layer and state table.
    config
        The deployment's configuration (approvers, sender, link lifetime, verdicts, concurrency, tracing).
    signing
        The signing secret.
    page
        The decision page, whose URL the links lead to.

    Attributes
    ----------
    handler
        The mail function, its role and log group.
    route
        The rule, queue and dead-letter queues that feed it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        config: RegistrarConfig,
        signing: SigningSecret,
        page: DecisionPage,
    ) -> None:
        super().__init__(scope, construct_id)
        assert config.sender is not None and config.from_address is not None, "validated: approvers need a sender"
        self.handler = RegistrarFunction(
            self,
            "Handler",
            handler=APPROVER_MAIL_HANDLER,
            description="E-mails the approvers of a held model package version a personal decision link each",
            code=shared.code,
            layer=shared.layer,
            tracing=config.tracing,
            environment={
                ENV_TABLE_NAME: shared.table.table_name,
                ENV_APPROVERS: json.dumps(config.approvers_by_group, separators=(",", ":")),
                ENV_MAIL_FROM: config.from_address,
                ENV_DECISION_PAGE_URL: page.url.url,
                ENV_SIGNING_SECRET: signing.secret.secret_name,
                ENV_LINK_TTL_DAYS: str(config.link_ttl_days),
            },
        )
        role = self.handler.role
        permissions.read_secret(role, signing.secret.secret_arn, signing.key.key_arn)
        permissions.send_email(role, config.sender, config.from_address)
        permissions.use_table(role, shared.table, "SentMail", MAIL_LEDGER_ACTIONS, [f"{MAIL_ID_PREFIX}*"])
        self.route = RoutedQueue(
            self,
            "Events",
            flow="approver mail",
            patterns=[pattern(config.approvers_notified_of)],
            consumer=self.handler.function,
            timeout=self.handler.timeout,
            max_concurrency=config.max_concurrency,
        )
