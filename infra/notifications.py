"""Who hears of registrar's decisions: EventBridge rules on ``Registrar Decision`` events → SNS e-mail and chat.

Nothing here is hand-written delivery: the functions publish one ``Registrar Decision`` event per write
(:mod:`registrar.decisions.contract`), and EventBridge does the rest. A rule per channel matches the
configured verdicts; an input transformer (the contract's ``EMAIL_*`` and ``CHAT_*`` constants) turns the
event into the text people read; EventBridge retries and keeps what it could not deliver in a dead-letter
queue, which alarms like every other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import NotifyConfig
from infra.routing import TARGET_MAX_EVENT_AGE, TARGET_RETRY_ATTEMPTS, event_pattern, target_dead_letter_queue
from registrar.decisions.contract import (
    CHAT_INPUT_PATHS,
    CHAT_INPUT_TEMPLATE,
    DECISION_PATTERN,
    EMAIL_INPUT_PATHS,
    EMAIL_INPUT_TEMPLATE,
)
from registrar.patterns import for_account

EVENTS_PRINCIPAL = "events.amazonaws.com"
# Slack accepts about one message per second per incoming webhook; Teams' connectors are of the same order.
# EventBridge holds events above the rate and retries them within the target's retry policy.
CHAT_RATE_LIMIT_PER_SECOND = 1
# The Connection's authorization: Slack and Teams webhooks carry their secret in the URL and read no
# header, but an EventBridge connection must have one; this one is a label, not a credential.
CHAT_HEADER = "X-Registrar-Notification"
CHAT_HEADER_VALUE = "registrar"


def decision_pattern(verdicts: list[str], account: str) -> dict[str, Any]:
    """The pattern of the decisions that notify: the contract's, for ``account`` and ``verdicts`` only.

    Parameters
    ----------
    verdicts
        The verdicts that notify (``notify.verdicts``).
    account
        The account whose events match (the stack's): the default bus also receives other accounts' events.
    """
    return for_account({**DECISION_PATTERN, "detail": {"verdict": list(verdicts)}}, account)


class TransformedInput(events.RuleTargetInput):
    """A target's input transformer, exactly as given: the contract's paths and template, no CDK rewriting.

    CDK's own inputs (``RuleTargetInput.from_text``/``from_object``) build their template from
    ``EventField`` tokens and quote string placeholders; these templates are defined once, in the contract,
    and used as they are by both the CDK app and the emulator.
    """

    def __init__(self, paths: Mapping[str, str], template: str) -> None:
        super().__init__()
        self.paths = dict(paths)
        self.template = template

    def bind(self, _rule: Any) -> events.RuleTargetInputProperties:
        return events.RuleTargetInputProperties(input_paths_map=self.paths, input_template=self.template)


@jsii.implements(events.IRuleTarget)
class TopicTarget:
    """An SNS topic as a rule target, with the retry policy and dead-letter queue, and no grant.

    CDK's ``targets.SnsTopic`` grants ``events.amazonaws.com`` sns:Publish on the topic for any rule of any
    account; :class:`Notifications` writes the topic's and the dead-letter queue's grants itself, each limited
    to the one rule (``aws:SourceArn``).
    """

    def __init__(self, topic: sns.ITopic, *, message: events.RuleTargetInput, dead_letter_queue: sqs.IQueue) -> None:
        self.topic = topic
        self.message = message
        self.dead_letter_queue = dead_letter_queue

    def bind(self, _rule: Any, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.topic.topic_arn,
            input=self.message,
            target_resource=self.topic,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=TARGET_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=int(TARGET_MAX_EVENT_AGE.to_seconds()),
            ),
        )


def from_rule(rule: events.IRule) -> dict[str, Any]:
    """The condition that limits a service principal's grant to what EventBridge does for ``rule``."""
    return {"ArnEquals": {"aws:SourceArn": rule.rule_arn}}


class Notifications(Construct):
    """E-mail and chat notifications of registrar's decisions, from ``notify`` in cdk.json.

    With ``notify.email``: a KMS-encrypted, TLS-only SNS topic with one e-mail subscription per address,
    and a rule on the default bus that publishes the decision's summary to it. With ``notify.chat``: an
    EventBridge connection and API destination that POST to the webhook URL held in the named Secrets
    Manager secret, and a rule that sends the summary to it. Each rule matches ``Registrar Decision``
    events of the stack's account whose verdict is one of ``notify.verdicts``; each rule target retries
    and has its own dead-letter queue.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    notify
        The deployment's ``notify`` configuration.

    Attributes
    ----------
    topic
        The decision topic, when ``notify.email`` names anyone.
    destination
        The chat API destination, when ``notify.chat`` is set.
    rules
        The rules, by construct id (``EmailRule``, ``ChatRule``).
    dead_letter_queues
        Each rule target's dead-letter queue, by name (``NotifyEmailDeadLetterQueue``...), for the alarms.
    """

    def __init__(self, scope: Construct, construct_id: str, *, notify: NotifyConfig) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.pattern = decision_pattern(list(notify.verdicts), stack.account)
        self.topic: sns.Topic | None = None
        self.destination: events.ApiDestination | None = None
        self.rules: dict[str, events.Rule] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        if notify.email:
            self._email(list(notify.email), ", ".join(notify.verdicts))
        if notify.chat is not None:
            self._chat(notify.chat, ", ".join(notify.verdicts))

    def _email(self, addresses: list[str], verdicts: str) -> None:
        stack = cdk.Stack.of(self)
        principal = iam.ServicePrincipal(EVENTS_PRINCIPAL)
        key = kms.Key(
            self,
            "TopicKey",
            description="registrar decision topic encryption",
            enable_key_rotation=True,
            # The key only protects notifications in flight: nothing to keep once the stack is gone.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        self.topic = sns.Topic(
            self, "DecisionTopic", display_name="registrar decisions", master_key=key, enforce_ssl=True
        )
        for address in addresses:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        dead_letters = target_dead_letter_queue(self, "EmailDeadLetterQueue")
        rule = events.Rule(
            self,
            "EmailRule",
            description=f"registrar notifications: e-mail the decisions whose verdict is {verdicts}",
            event_pattern=event_pattern(self.pattern),
        )
        rule.add_target(
            TopicTarget(
                self.topic,
                message=TransformedInput(EMAIL_INPUT_PATHS, EMAIL_INPUT_TEMPLATE),
                dead_letter_queue=dead_letters,
            )
        )
        # SNS encrypts what EventBridge publishes with the topic's key, on EventBridge's behalf: EventBridge
        # needs the data key calls, for this account's rules only (aws:SourceAccount, which EventBridge's
        # documentation names for key policies; the topic policy below narrows publishing to the one rule).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DecisionRuleUsesKey",
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DecisionRulePublishes",
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_rule(rule),
            )
        )
        dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DecisionRuleDeadLetters",
                principals=[principal],
                actions=["sqs:SendMessage"],
                resources=[dead_letters.queue_arn],
                conditions=from_rule(rule),
            )
        )
        self.rules["EmailRule"] = rule
        self.dead_letter_queues["NotifyEmailDeadLetterQueue"] = dead_letters

    def _chat(self, secret_name: str, verdicts: str) -> None:
        connection = events.Connection(
            self,
            "ChatConnection",
            description="registrar notifications: Slack/Teams incoming webhook (the secret is in the URL)",
            authorization=events.Authorization.api_key(
                CHAT_HEADER, cdk.SecretValue.unsafe_plain_text(CHAT_HEADER_VALUE)
            ),
        )
        # The webhook URL is the secret: CloudFormation resolves it from Secrets Manager when it deploys, so it
        # is never in the template, the assembly or the repository (docs/decisions.md, Chat notifications).
        endpoint = cdk.SecretValue.secrets_manager(secret_name).unsafe_unwrap()
        self.destination = events.ApiDestination(
            self,
            "ChatDestination",
            description="registrar notifications: the chat incoming webhook",
            connection=connection,
            endpoint=endpoint,
            http_method=events.HttpMethod.POST,
            rate_limit_per_second=CHAT_RATE_LIMIT_PER_SECOND,
        )
        dead_letters = target_dead_letter_queue(self, "ChatDeadLetterQueue")
        rule = events.Rule(
            self,
            "ChatRule",
            description=f"registrar notifications: post the decisions whose verdict is {verdicts} to chat",
            event_pattern=event_pattern(self.pattern),
            targets=[
                targets.ApiDestination(
                    self.destination,
                    event=TransformedInput(CHAT_INPUT_PATHS, CHAT_INPUT_TEMPLATE),
                    dead_letter_queue=dead_letters,
                    retry_attempts=TARGET_RETRY_ATTEMPTS,
                    max_event_age=TARGET_MAX_EVENT_AGE,
                )
            ],
        )
        self.rules["ChatRule"] = rule
        self.dead_letter_queues["NotifyChatDeadLetterQueue"] = dead_letters
