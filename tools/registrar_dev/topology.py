"""Build the deployed event flow on the emulator: the same rule patterns, queues with DLQs, table and policy.

The CDK app (``infra/``) builds the same shape in AWS from the same ``registrar.patterns``. With several
accounts, :func:`build_cross_account` adds what the registry stack grants the workload accounts and what each
workload's forwarder stack deploys (infra/cross_account.py, infra/forwarder.py).
"""

from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registrar import aws
from registrar.errors import ConfigurationError
from registrar.patterns import FLOWS, for_account, for_registry
from registrar.settings import Settings, WorkloadAccount, variable
from registrar_dev.runner import DEFAULT_TIMEOUT_SECONDS
from registrar_dev.support import ACCOUNT, emulator_client, emulator_credentials

if TYPE_CHECKING:
    from registrar.neo.sweep import SweepResult
    from registrar.watermark import MemoryWatermark

MAX_RECEIVE_COUNT = 3  # the deployed queues use 5; the local demo gives up sooner to stay short
IDEMPOTENCY_TABLE = "registrar-local"
POLICY_PARAMETER = "/registrar/approval-policy"
STANDARD_PARAMETER_BYTES = 4096  # an SSM standard parameter's limit; the stack switches to advanced above it


@dataclass(frozen=True)
class FlowQueues:
    """A flow's queue and dead-letter queues (its own, and its rules' target DLQ)."""

    name: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    rule_dead_letter_url: str
    rules: tuple[str, ...]


@dataclass
class Topology:
    """The local copy of the deployed resources."""

    flows: dict[str, FlowQueues] = field(default_factory=dict)
    table_name: str = IDEMPOTENCY_TABLE
    event_bus_name: str = "default"
    function_timeout: int = DEFAULT_TIMEOUT_SECONDS
    policy_parameter: str | None = None
    workloads: tuple[str, ...] = ()

    def all_queue_urls(self) -> dict[str, str]:
        urls: dict[str, str] = {}
        for flow in self.flows.values():
            urls[f"{flow.name}"] = flow.queue_url
            urls[f"{flow.name}-dlq"] = flow.dead_letter_url
            urls[f"{flow.name}-rule-dlq"] = flow.rule_dead_letter_url
        return urls


def build_topology(
    *,
    endpoint_url: str,
    region: str = "us-east-1",
    visibility_timeout: int = 5,
    function_timeout: int = DEFAULT_TIMEOUT_SECONDS,
    policy_file: str | pathlib.Path | None = None,
    account: str = ACCOUNT,
    workloads: Sequence[str] = (),
) -> Topology:
    """Create, on the emulator at ``endpoint_url``, every rule, queue, DLQ and the idempotency table.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    visibility_timeout
        Seconds a received message stays hidden: how soon a failed record is retried.
    function_timeout
        The functions' timeout, for the event source mappings (``Topology.function_timeout``); the
        visibility timeout may not be shorter (the stack makes it six times as long).
    account
        The account the stack is deployed in: the rules' patterns accept its events alone, but for ``workloads``.
    workloads
        The workload accounts of a deployment of several accounts: the rules of the forwarded patterns
        (:data:`registrar.patterns.FORWARDED`) also accept their events, as the registry stack's do
        (:func:`registrar.patterns.for_registry`); see :func:`build_cross_account` for the rest.
    policy_file
        When given, the approval policy is stored as the stack stores it: the file, validated, as the
        compact JSON of :func:`registrar.approval.policy.deployable_json`, in the SSM parameter
        ``Topology.policy_parameter`` (set ``REGISTRAR_POLICY_PARAMETER`` to it).

    Raises
    ------
    ConfigurationError
        The visibility timeout is shorter than the function timeout; nothing was created.
    PolicyError
        The policy file is invalid; nothing was created.
    """
    if visibility_timeout < function_timeout:
        raise ConfigurationError(
            f"visibility timeout {visibility_timeout} s is shorter than the function timeout {function_timeout} s: "
            "a failed or slow record would come back while its invocation still runs; the stack sets the "
            "visibility timeout to 6 x the function timeout"
        )
    policy_text = None
    if policy_file is not None:
        from registrar.approval.policy import deployable_json

        policy_text = deployable_json(policy_file)
    sqs = aws.client("sqs", endpoint_url, region)
    events = aws.client("events", endpoint_url, region)
    dynamodb = aws.client("dynamodb", endpoint_url, region)
    topology = Topology(function_timeout=function_timeout, workloads=tuple(workloads))
    for flow, patterns in FLOWS.items():
        dead_letter = _queue(sqs, f"registrar-{flow}-dlq", {"MessageRetentionPeriod": "1209600"})
        rule_dead_letter = _queue(sqs, f"registrar-{flow}-rule-dlq", {"MessageRetentionPeriod": "1209600"})
        queue = _queue(
            sqs,
            f"registrar-{flow}",
            {
                "VisibilityTimeout": str(visibility_timeout),
                "MessageRetentionPeriod": "345600",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dead_letter["arn"], "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )
        rule_names = []
        for index, pattern in enumerate(patterns):
            rule_name = f"registrar-{flow}-{index}"
            # As deployed: only events of the stack's own account reach a flow, and the workloads' forwarded ones.
            deployed = for_registry(pattern, account, workloads)
            events.put_rule(Name=rule_name, EventPattern=json.dumps(deployed), State="ENABLED")
            # As deployed; but the emulator (moto) ignores a target's RetryPolicy and DeadLetterConfig, so nothing
            # ever reaches the rule DLQ locally: an empty rule DLQ here proves nothing.
            events.put_targets(
                Rule=rule_name,
                Targets=[
                    {
                        "Id": "queue",
                        "Arn": queue["arn"],
                        "DeadLetterConfig": {"Arn": rule_dead_letter["arn"]},
                        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                    }
                ],
            )
            rule_names.append(rule_name)
        topology.flows[flow] = FlowQueues(
            name=flow,
            queue_url=queue["url"],
            queue_arn=queue["arn"],
            dead_letter_url=dead_letter["url"],
            rule_dead_letter_url=rule_dead_letter["url"],
            rules=tuple(rule_names),
        )
    dynamodb.create_table(
        TableName=topology.table_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    if policy_text is not None:
        tier = "Standard" if len(policy_text.encode("utf-8")) <= STANDARD_PARAMETER_BYTES else "Advanced"
        # What the stack deploys, not what the function does: registrar's own clients cannot write parameters.
        ssm = emulator_client("ssm", endpoint_url, region=region)
        ssm.put_parameter(Name=POLICY_PARAMETER, Value=policy_text, Type="String", Tier=tier, Overwrite=True)
        topology.policy_parameter = POLICY_PARAMETER
    return topology


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> dict[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn}


# People in the loop (issue #15): what infra/notifications.py deploys for decision notifications. ------------

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NOTIFICATION_VERDICTS = ("Approved", "Rejected", "Held", "Refused", "Failed")
# The stack's connection carries a label header (Slack and Teams webhooks keep their secret in the URL).
CHAT_HEADER = "X-Registrar-Notification"
CHAT_HEADER_VALUE = "registrar"
# The stack retries a target 185 times over 24 h; locally a failing webhook gives up after two retries.
LOCAL_CHAT_RETRY_ATTEMPTS = 2


@dataclass(frozen=True)
class SentEmail:
    """One e-mail SNS sent (on the emulator: recorded instead of sent) to one subscriber.

    Attributes
    ----------
    to
        The subscription's endpoint (the address).
    subject
        The subject: EventBridge publishes without one, so SNS's default ``AWS Notification Message``.
    body
        The text of the e-mail: the rule's input transformer output, as published.
    topic_arn, subscription_arn, message_id
        Where it came from.
    protocol
        ``email`` or ``email-json``.
    """

    to: str
    subject: str
    body: str
    topic_arn: str
    subscription_arn: str
    message_id: str
    protocol: str = "email"


@dataclass(frozen=True)
class Notifications:
    """The local copy of the notification resources: one rule per channel, each with its dead-letter queue.

    ``topic_arn``, ``email_rule`` and ``email_dead_letter_url`` are set when anyone is subscribed by e-mail;
    ``chat_rule``, ``api_destination_arn`` and ``chat_dead_letter_url`` when a chat URL was given.
    """

    endpoint_url: str
    region: str
    account: str
    pattern: dict[str, Any]
    topic_arn: str | None = None
    subscriptions: dict[str, str] = field(default_factory=dict)  # e-mail address -> subscription ARN
    email_rule: str | None = None
    email_dead_letter_url: str | None = None
    chat_url: str | None = None
    chat_rule: str | None = None
    connection_arn: str | None = None
    api_destination_arn: str | None = None
    chat_dead_letter_url: str | None = None

    def sent_emails(self) -> list[SentEmail]:
        """The e-mails SNS sent to this topic's subscribers so far, oldest first (read from the emulator)."""
        if self.topic_arn is None:
            return []
        sent = read_sent_emails(self.endpoint_url, self.account, self.region)
        return [email for email in sent if email.topic_arn == self.topic_arn]

    def dead_letters(self, channel: str) -> list[dict[str, Any]]:
        """The messages of a channel's (``email`` or ``chat``) dead-letter queue, read and left visible.

        Each ``Body`` is the undelivered event; ``MessageAttributes`` say why (``ERROR_CODE``, ``ERROR_MESSAGE``,
        ``RETRY_ATTEMPTS``, ``RULE_ARN``, ``TARGET_ARN``).
        """
        url = {"email": self.email_dead_letter_url, "chat": self.chat_dead_letter_url}[channel]
        if url is None:
            return []
        sqs = emulator_client("sqs", self.endpoint_url, region=self.region)
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
        )
        return list(response.get("Messages", []))


def read_sent_emails(endpoint_url: str, account: str = ACCOUNT, region: str = "us-east-1") -> list[SentEmail]:
    """Every e-mail the emulator's SNS sent in ``account``/``region``, oldest first.

    SNS sends no e-mail locally: the emulator records what each ``email``/``email-json`` subscription would
    have received and serves the record at ``GET <endpoint>/registrar-emulator/sns/sent-emails``
    (:mod:`registrar_dev.emulator.targets`). The emulator's reset empties it.
    """
    import urllib.parse
    import urllib.request

    from registrar_dev.emulator.targets import SENT_EMAILS_PATH

    query = urllib.parse.urlencode({"account": account, "region": region})
    with urllib.request.urlopen(f"{endpoint_url.rstrip('/')}{SENT_EMAILS_PATH}?{query}", timeout=10) as response:
        records = json.loads(response.read().decode("utf-8"))
    return [SentEmail(**record) for record in records]


def build_notifications(
    endpoint_url: str,
    *,
    account: str = ACCOUNT,
    region: str = "us-east-1",
    email: Sequence[str] = (),
    chat_url: str | None = None,
    verdicts: Sequence[str] = NOTIFICATION_VERDICTS,
    name: str = "registrar-notify",
    chat_retry_attempts: int = LOCAL_CHAT_RETRY_ATTEMPTS,
) -> Notifications:
    """Create, on the emulator, what the stack creates to tell people about decisions (infra/notifications.py).

    Both rules match ``Registrar Decision`` events of ``account`` whose ``detail.verdict`` is one of
    ``verdicts`` (the contract's ``DECISION_PATTERN``, narrowed). With ``email``: an SNS topic with one
    ``email`` subscription per address, and a rule whose SNS target reads the decision through the
    contract's e-mail input transformer. With ``chat_url``: an events connection, an API destination that
    POSTs there, and a rule whose target reads the decision through the chat input transformer. Each
    target has a retry policy and its own dead-letter queue.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    account
        The account the stack is deployed in: the rules accept its events alone.
    email
        The subscribers' addresses (confirmed at once locally; in AWS each confirms by e-mail first).
    chat_url
        The webhook (:attr:`registrar_dev.chat.ChatReceiver.url`); loopback only, the emulator calls nothing else.
    verdicts
        The verdicts people are told about.
    name
        The prefix of every resource's name (unique names let tests run side by side).
    chat_retry_attempts
        The chat target's ``RetryPolicy.MaximumRetryAttempts`` (the stack's is 185, over 24 h).

    Returns
    -------
    Notifications
        What was made; :meth:`Notifications.sent_emails` reads what SNS sent.

    Raises
    ------
    ConfigurationError
        ``chat_url`` is not an ``http(s)`` URL on a loopback host, or ``verdicts`` is empty; nothing was created.
    """
    import urllib.parse

    import botocore.session

    from registrar.decisions.contract import (
        CHAT_INPUT_PATHS,
        CHAT_INPUT_TEMPLATE,
        DECISION_PATTERN,
        EMAIL_INPUT_PATHS,
        EMAIL_INPUT_TEMPLATE,
    )

    if not verdicts:
        raise ConfigurationError("no verdicts to notify: give at least one (e.g. Approved, Rejected, Held)")
    if chat_url is not None:
        parsed = urllib.parse.urlsplit(chat_url)
        if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK_HOSTS:
            raise ConfigurationError(
                f"chat URL {chat_url!r} is not on a loopback host ({', '.join(sorted(LOOPBACK_HOSTS))}): "
                "the emulator's API destinations call nothing else; use registrar_dev.chat.ChatReceiver"
            )
    session = botocore.session.Session()  # one session for the clients: each session loads its models anew
    sqs, events, sns = (
        emulator_client(service, endpoint_url, region=region, session=session) for service in ("sqs", "events", "sns")
    )
    pattern = for_account({**DECISION_PATTERN, "detail": {"verdict": list(verdicts)}}, account)
    made: dict[str, Any] = {}
    if email:
        dead_letter = _queue(sqs, f"{name}-email-dlq", {"MessageRetentionPeriod": "1209600"})
        topic_arn = sns.create_topic(Name=f"{name}-decisions")["TopicArn"]
        made["subscriptions"] = {
            address: sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=address, ReturnSubscriptionArn=True)[
                "SubscriptionArn"
            ]
            for address in email
        }
        rule = f"{name}-email"
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(
            Rule=rule,
            Targets=[
                {
                    "Id": "email",
                    "Arn": topic_arn,
                    "InputTransformer": {
                        "InputPathsMap": dict(EMAIL_INPUT_PATHS),
                        "InputTemplate": EMAIL_INPUT_TEMPLATE,
                    },
                    "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                    "DeadLetterConfig": {"Arn": dead_letter["arn"]},
                }
            ],
        )
        made.update(topic_arn=topic_arn, email_rule=rule, email_dead_letter_url=dead_letter["url"])
    if chat_url is not None:
        dead_letter = _queue(sqs, f"{name}-chat-dlq", {"MessageRetentionPeriod": "1209600"})
        connection_arn = events.create_connection(
            Name=f"{name}-chat",
            AuthorizationType="API_KEY",
            AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": CHAT_HEADER, "ApiKeyValue": CHAT_HEADER_VALUE}},
        )["ConnectionArn"]
        api_destination_arn = events.create_api_destination(
            Name=f"{name}-chat",
            ConnectionArn=connection_arn,
            InvocationEndpoint=chat_url,
            HttpMethod="POST",
            InvocationRateLimitPerSecond=1,
        )["ApiDestinationArn"]
        rule = f"{name}-chat"
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(
            Rule=rule,
            Targets=[
                {
                    "Id": "chat",
                    "Arn": api_destination_arn,
                    "RoleArn": f"arn:aws:iam::{account}:role/{name}-chat",
                    "InputTransformer": {"InputPathsMap": dict(CHAT_INPUT_PATHS), "InputTemplate": CHAT_INPUT_TEMPLATE},
                    "RetryPolicy": {"MaximumRetryAttempts": chat_retry_attempts, "MaximumEventAgeInSeconds": 86400},
                    "DeadLetterConfig": {"Arn": dead_letter["arn"]},
                }
            ],
        )
        made.update(
            chat_url=chat_url,
            chat_rule=rule,
            connection_arn=connection_arn,
            api_destination_arn=api_destination_arn,
            chat_dead_letter_url=dead_letter["url"],
        )
    return Notifications(endpoint_url=endpoint_url, region=region, account=account, pattern=pattern, **made)


# Approvers and the decision page (issue #16): what infra/decision_page.py and infra/approver_mail.py deploy. -------

SIGNING_KEY_ID = "initial"  # infra.decision_page.INITIAL_KEY_ID
SIGNING_KEY_LENGTH = 64  # infra.decision_page.GENERATED_KEY_LENGTH: letters and digits, valid base64 of 48 bytes


@dataclass(frozen=True)
class DecisionPageTopology:
    """The local copy of the approver e-mails' resources and the signing secret.

    Attributes
    ----------
    endpoint_url, region, account
        Where they are.
    signing_secret
        The secret's name; its value is the links' keys JSON, generated as the stack generates it.
    sender, mail_from
        The verified SES identity, and the From address the e-mails use.
    approvers
        Group pattern → addresses, as the mail function receives them.
    page_url, ttl_days
        The page's base URL (the links lead there) and the links' lifetime.
    pattern, rule
        The mail rule's pattern and name.
    queue_url, queue_arn, dead_letter_url, rule_dead_letter_url
        The mail queue and its dead-letter queues.
    """

    endpoint_url: str
    region: str
    account: str
    signing_secret: str
    sender: str
    mail_from: str
    approvers: dict[str, list[str]]
    page_url: str
    ttl_days: int
    pattern: dict[str, Any]
    rule: str
    queue_url: str
    queue_arn: str
    dead_letter_url: str
    rule_dead_letter_url: str

    def environment(self, table_name: str | None = IDEMPOTENCY_TABLE) -> dict[str, str]:
        """The mail function's ``REGISTRAR_*`` variables, as the stack sets them (infra/approver_mail.py)."""
        return {
            **({"REGISTRAR_TABLE_NAME": table_name} if table_name else {}),
            "REGISTRAR_APPROVERS": json.dumps(self.approvers, separators=(",", ":")),
            "REGISTRAR_MAIL_FROM": self.mail_from,
            "REGISTRAR_DECISION_PAGE_URL": self.page_url,
            "REGISTRAR_SIGNING_SECRET": self.signing_secret,
            "REGISTRAR_LINK_TTL_DAYS": str(self.ttl_days),
        }

    def sent_emails(self) -> list[dict[str, str]]:
        """What SES sent from the sender so far, one entry per recipient, oldest first (read from the emulator)."""
        import urllib.parse
        import urllib.request

        from registrar_dev.emulator.ses import SENT_EMAILS_PATH

        query = urllib.parse.urlencode({"account": self.account, "region": self.region})
        url = f"{self.endpoint_url.rstrip('/')}{SENT_EMAILS_PATH}?{query}"
        with urllib.request.urlopen(url, timeout=10) as response:
            records = json.loads(response.read().decode("utf-8"))
        return [record for record in records if record["from"] == self.mail_from]


def build_decision_page(
    endpoint_url: str,
    *,
    approvers: Sequence[str] | Mapping[str, Sequence[str]],
    sender: str,
    page_url: str,
    ttl: int = 7,
    verdicts: Sequence[str] = ("Held",),
    signing_secret: str | None = None,
    account: str = ACCOUNT,
    region: str = "us-east-1",
    managed_groups: Sequence[str] = ("*",),
    visibility_timeout: int = 5,
    name: str = "registrar-approver-mail",
) -> DecisionPageTopology:
    """Create, on the emulator, the signing secret, the verified sender and the approver e-mails' rule and queue.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    approvers
        Addresses for every group (with ``managed_groups``), or group pattern → addresses (as cdk.json's ``approvers``).
    sender
        The SES identity (an address, or a domain: the e-mails then come from ``registrar@<domain>``); verified here
        at once (in AWS, by the link SES sends, or DNS).
    page_url
        The decision page's base URL (a local server's, e.g. ``registrar serve``'s).
    ttl
        The links' lifetime in days.
    verdicts
        The verdicts that e-mail the approvers (cdk.json's ``approvers_notified_of``).
    signing_secret
        The secret's name; :data:`registrar.decisions.links.DEFAULT_SIGNING_SECRET` by default.
    account
        The stack's account: the rule accepts its decisions alone.
    managed_groups
        The group patterns a plain list of approvers applies to.
    visibility_timeout
        The mail queue's visibility timeout (at least the local function timeout).
    name
        The prefix of the rule's and the queues' names.
    """
    import secrets as random
    import string

    from registrar.decisions import links
    from registrar.decisions.approver_mail import pattern as mail_pattern

    by_group = (
        {group: list(addresses) for group, addresses in approvers.items()}
        if isinstance(approvers, dict)
        else {group: list(approvers) for group in managed_groups}
    )
    secret_name = signing_secret or links.DEFAULT_SIGNING_SECRET
    # As the stack: 64 letters and digits (Secrets Manager's generator without punctuation), the key as base64.
    alphabet = string.ascii_letters + string.digits
    key = "".join(random.choice(alphabet) for _ in range(SIGNING_KEY_LENGTH))
    document = json.dumps({"current": {"id": SIGNING_KEY_ID, "key": key}, "previous": None}, separators=(",", ":"))
    links.parse_signing_keys(document)  # the format the page and the mail function read
    session_clients = {s: emulator_client(s, endpoint_url, region=region) for s in ("secretsmanager", "sesv2")}
    session_clients["secretsmanager"].create_secret(Name=secret_name, SecretString=document)
    session_clients["sesv2"].create_email_identity(EmailIdentity=sender)
    sqs = aws.client("sqs", endpoint_url, region)
    events = aws.client("events", endpoint_url, region)
    dead_letter = _queue(sqs, f"{name}-dlq", {"MessageRetentionPeriod": "1209600"})
    rule_dead_letter = _queue(sqs, f"{name}-rule-dlq", {"MessageRetentionPeriod": "1209600"})
    queue = _queue(
        sqs,
        name,
        {
            "VisibilityTimeout": str(visibility_timeout),
            "MessageRetentionPeriod": "345600",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_letter["arn"], "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )
    deployed = for_account(mail_pattern(verdicts), account)
    events.put_rule(Name=name, EventPattern=json.dumps(deployed), State="ENABLED")
    events.put_targets(
        Rule=name,
        Targets=[{"Id": "queue", "Arn": queue["arn"], "DeadLetterConfig": {"Arn": rule_dead_letter["arn"]}}],
    )
    return DecisionPageTopology(
        endpoint_url=endpoint_url,
        region=region,
        account=account,
        signing_secret=secret_name,
        sender=sender,
        mail_from=sender if "@" in sender else f"registrar@{sender}",
        approvers=by_group,
        page_url=page_url,
        ttl_days=ttl,
        pattern=deployed,
        rule=name,
        queue_url=queue["url"],
        queue_arn=queue["arn"],
        dead_letter_url=dead_letter["url"],
        rule_dead_letter_url=rule_dead_letter["url"],
    )


# Several accounts (issue #18): what infra/cross_account.py and infra/forwarder.py deploy. ---------------------------
#
# The documents are written here as plain data rather than imported: infra/ is not installed (`registrar demo` runs
# from the virtual environment's script, where it cannot be imported) and its documents are CDK tokens.
# tests/infrastructure/test_local_accounts.py holds each one equal to what `make synth` writes.

PARTITION = "aws"
POLICY_VERSION = "2012-10-17"
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
EVENTS_PRINCIPAL = "events.amazonaws.com"
# infra.names: the registry's function roles have physical names, which the workloads' evidence roles trust by ARN.
FUNCTION_ROLE_NAMES = {"approval": "registrar-approval-{region}", "neo": "registrar-neo-registration-{region}"}
# The forwarder stack's other roles get names CloudFormation makes up; these stand for them locally.
FORWARDER_ROLE_NAME = "registrar-forwarder"
SWEEPER_ROLE_NAME = "registrar-sweeper"
FORWARD_RULE_PREFIX = "registrar-forward-"
# infra.cross_account.GROUP_POLICY_ACTIONS: what a workload may do in a shared group, register a version...
GROUP_POLICY_ACTIONS = ("sagemaker:CreateModelPackage",)
# ...pending approval only (infra.cross_account.PENDING_APPROVAL_ONLY): never one already Approved.
APPROVAL_STATUS_KEY = "sagemaker:ModelApprovalStatus"
PENDING_APPROVAL = "PendingManualApproval"
DEFAULT_EVIDENCE_ROLE: str = Settings.model_fields["evidence_role"].default


def rule_id(pattern: Mapping[str, Any]) -> str:
    """A pattern's name from its detail-type (``Compilation Job State Change`` → ``CompilationJobStateChange``).

    As infra.routing.rule_id: the bus policy's statement ids and the forwarder's rule names are made from it.
    """
    import re

    detail_types = pattern.get("detail-type") or ["Any"]
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", str(detail_types[0])) if word)


def account_root(account: str, partition: str = PARTITION) -> str:
    """The root principal of ``account``: every principal of that account."""
    return f"arn:{partition}:iam::{account}:root"


def registry_bus(registry: str, region: str, partition: str = PARTITION) -> str:
    """The ARN of the registry account's default bus, where the workloads forward their events."""
    return f"arn:{partition}:events:{region}:{registry}:event-bus/default"


def function_role_arns(registry: str, region: str, partition: str = PARTITION) -> dict[str, str]:
    """The registry's function roles that read a workload's evidence, by flow (``approval``, ``neo``)."""
    return {
        flow: f"arn:{partition}:iam::{registry}:role/{name.format(region=region)}"
        for flow, name in FUNCTION_ROLE_NAMES.items()
    }


def forwarded_event_statement(
    pattern: Mapping[str, Any],
    *,
    registry: str,
    region: str,
    workloads: Sequence[str],
    organization_id: str | None = None,
    partition: str = PARTITION,
) -> dict[str, Any]:
    """The registry bus's policy statement accepting one forwarded pattern's events from exactly ``workloads``.

    As infra.cross_account.forwarded_event_statement: the principals are the listed accounts, and
    ``events:source`` and ``events:detail-type`` hold each entry to the pattern's; ``organization_id`` narrows.
    """
    [source] = pattern["source"]
    [detail_type] = pattern["detail-type"]
    organization = {} if organization_id is None else {"aws:PrincipalOrgID": organization_id}
    return {
        "Sid": f"registrar-{rule_id(pattern)}",
        "Effect": "Allow",
        "Principal": {"AWS": [account_root(account, partition) for account in workloads]},
        "Action": "events:PutEvents",
        "Resource": registry_bus(registry, region, partition),
        "Condition": {
            "ForAllValues:StringEquals": {"events:source": [source]},
            "StringEquals": {"events:detail-type": detail_type, **organization},
        },
    }


def group_policy(
    group: str,
    *,
    registry: str,
    region: str,
    workloads: Sequence[str],
    organization_id: str | None = None,
    partition: str = PARTITION,
) -> dict[str, Any]:
    """A shared model package group's resource policy: ``workloads`` may register pending versions, nothing more.

    As infra.cross_account.group_policy (the group's name in both spellings, as infra.permissions grants it):
    ``sagemaker:ModelApprovalStatus``, when the request gives one, must be ``PendingManualApproval``.
    """
    statement: dict[str, Any] = {
        "Sid": "WorkloadAccountsRegisterVersions",
        "Effect": "Allow",
        "Principal": {"AWS": [account_root(account, partition) for account in workloads]},
        "Action": list(GROUP_POLICY_ACTIONS),
        "Resource": [
            f"arn:{partition}:sagemaker:{region}:{registry}:model-package/{name}/*"
            for name in dict.fromkeys((group, group.lower()))
        ],
        "Condition": {"StringEqualsIfExists": {APPROVAL_STATUS_KEY: PENDING_APPROVAL}},
    }
    if organization_id is not None:
        statement["Condition"]["StringEquals"] = {"aws:PrincipalOrgID": organization_id}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def service_trust(service: str) -> dict[str, Any]:
    """A trust policy letting one AWS service (``lambda.amazonaws.com``, ``events.amazonaws.com``) assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}}],
    }


def evidence_trust(registry: str, region: str, partition: str = PARTITION) -> dict[str, Any]:
    """The evidence role's trust: the registry account, provided the caller is one of registrar's function roles.

    As infra.forwarder.EvidenceReader's (``ArnEquals`` on ``aws:PrincipalArn``).
    """
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(registry, partition)},
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": list(function_role_arns(registry, region, partition).values())}
                },
            }
        ],
    }


def evidence_policy(
    account: str, region: str, report_locations: Sequence[str], partition: str = PARTITION
) -> dict[str, Any]:
    """The evidence role's permissions in workload ``account``: read-only, on its reports and its jobs.

    As infra.permissions.read_reports and read_jobs: ``s3:GetObject`` under the report locations,
    ``s3:ListBucket`` limited to their prefixes, both only on buckets ``account`` owns (``aws:ResourceAccount``),
    Describe and ListTags of processing and compilation jobs.
    """
    owned = {"StringEquals": {"aws:ResourceAccount": account}}
    listed: dict[str, list[str] | None] = {}
    objects = []
    for location in report_locations:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        objects.append(f"arn:{partition}:s3:::{bucket}/{prefix}*")
        if not prefix:
            listed[bucket] = None
        elif (patterns := listed.setdefault(bucket, [])) is not None:
            patterns.extend(p for p in (prefix, f"{prefix}*") if p not in patterns)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadEvaluationReports",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": _one_or_many(objects),
            "Condition": owned,
        }
    ]
    for number, (bucket, patterns) in enumerate(listed.items(), start=1):
        listing: dict[str, Any] = {
            "Sid": f"ListEvaluationReports{number}",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:{partition}:s3:::{bucket}",
            "Condition": {**({} if patterns is None else {"StringLike": {"s3:prefix": patterns}}), **owned},
        }
        statements.append(listing)
    for kind, action in (
        ("processing-job", "sagemaker:DescribeProcessingJob"),
        ("compilation-job", "sagemaker:DescribeCompilationJob"),
    ):
        statements.append(
            {
                "Sid": "Read" + "".join(part.title() for part in kind.split("-")) + "s",
                "Effect": "Allow",
                "Action": [action, "sagemaker:ListTags"],
                "Resource": f"arn:{partition}:sagemaker:{region}:{account}:{kind}/*",
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def forwarder_policy(registry: str, region: str, partition: str = PARTITION) -> dict[str, Any]:
    """The forwarding rules' target role's permissions: put events on the registry's default bus, nothing else."""
    statement = {"Action": "events:PutEvents", "Effect": "Allow", "Resource": registry_bus(registry, region, partition)}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def _one_or_many(values: Sequence[str]) -> str | list[str]:
    # As CDK writes a statement's actions and resources: one alone, several as a list.
    return values[0] if len(values) == 1 else list(values)


def registry_settings(
    registry: str, workloads: Mapping[str, WorkloadAccount], evidence_role: str | None = None
) -> dict[str, str]:
    """The ``REGISTRAR_*`` variables the registry stack gives its approval and Neo functions about accounts.

    As infra.cross_account.flow_environment: the registry account, each workload's locations as compact JSON
    (``{"111111111111": {"report_locations": [...], "neo_output_locations": [...]}}``), and the evidence role.
    """
    return {
        variable("registry_account"): registry,
        variable("workload_accounts"): json.dumps(
            {account: workload.model_dump(mode="json") for account, workload in workloads.items()},
            separators=(",", ":"),
        ),
        variable("evidence_role"): evidence_role or DEFAULT_EVIDENCE_ROLE,
    }


@dataclass(frozen=True)
class Undelivered:
    """An event a forwarding rule could not deliver to the registry's bus, read from the rule's dead-letter queue.

    Attributes
    ----------
    rule
        The forwarded pattern's name (:func:`rule_id`).
    event
        The event, as the rule received it.
    error_code, error_message
        Why (EventBridge's ``ERROR_CODE`` and ``ERROR_MESSAGE``): ``AccessDenied`` when the bus policy refused it.
    """

    rule: str
    event: dict[str, Any]
    error_code: str
    error_message: str


@dataclass(frozen=True)
class Forwarding:
    """A forwarder stack's rules, locally (infra.forwarder.EventForwarding): one per forwarded pattern.

    Each rule matches its account's own events of one pattern of :data:`registrar.patterns.FORWARDED` and
    targets the registry account's default bus, as :attr:`role_arn`, with its own dead-letter queue.
    """

    endpoint_url: str
    region: str
    account: str
    registry: str
    role_arn: str
    rules: dict[str, str]  # rule id -> rule name
    dead_letter_urls: dict[str, str]  # rule id -> its target's dead-letter queue

    def undelivered(self) -> list[Undelivered]:
        """What the registry's bus refused so far, oldest first per rule; the messages are left in their queues."""
        sqs = emulator_client("sqs", self.endpoint_url, region=self.region, account=self.account)
        found = []
        for rule, url in self.dead_letter_urls.items():
            response = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
            )
            for message in response.get("Messages", []):
                attributes = message.get("MessageAttributes", {})
                found.append(
                    Undelivered(
                        rule=rule,
                        event=json.loads(message["Body"]),
                        error_code=attributes.get("ERROR_CODE", {}).get("StringValue", ""),
                        error_message=attributes.get("ERROR_MESSAGE", {}).get("StringValue", ""),
                    )
                )
        return found


def build_forwarding(
    endpoint_url: str, *, account: str, registry: str = ACCOUNT, region: str = "us-east-1"
) -> Forwarding:
    """Create, in ``account``, the forwarder stack's rules to the registry account's bus (infra.forwarder).

    A role EventBridge assumes (trusting ``events.amazonaws.com``, allowed ``events:PutEvents`` on the
    registry's bus), and per pattern of :data:`registrar.patterns.FORWARDED` a dead-letter queue and a rule
    matching ``account``'s own events, whose target is the registry's default bus. Whether the registry
    accepts them is its bus policy's business (:func:`build_cross_account`): an unlisted account building
    this gets its events refused, into these dead-letter queues.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    account
        The account the forwarder stack is deployed in.
    registry, region
        The registry account and the region of every stack.
    """
    from registrar.patterns import FORWARDED

    clients = {
        service: emulator_client(service, endpoint_url, region=region, account=account)
        for service in ("iam", "sqs", "events")
    }
    bus = registry_bus(registry, region)
    role_arn = clients["iam"].create_role(
        RoleName=FORWARDER_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(service_trust(EVENTS_PRINCIPAL))
    )["Role"]["Arn"]
    clients["iam"].put_role_policy(
        RoleName=FORWARDER_ROLE_NAME,
        PolicyName="PutEventsOnTheRegistryBus",
        PolicyDocument=json.dumps(forwarder_policy(registry, region)),
    )
    rules: dict[str, str] = {}
    dead_letter_urls: dict[str, str] = {}
    for pattern in FORWARDED:
        name = rule_id(pattern)
        rule = f"{FORWARD_RULE_PREFIX}{name}"
        dead_letter = _queue(clients["sqs"], f"{rule}-dlq", {"MessageRetentionPeriod": "1209600"})
        clients["events"].put_rule(Name=rule, EventPattern=json.dumps(for_account(pattern, account)), State="ENABLED")
        # As the stack's: no RetryPolicy (CDK's event bus target takes none), a role and a dead-letter queue.
        clients["events"].put_targets(
            Rule=rule,
            Targets=[
                {"Id": "registry-bus", "Arn": bus, "RoleArn": role_arn, "DeadLetterConfig": {"Arn": dead_letter["arn"]}}
            ],
        )
        rules[name] = rule
        dead_letter_urls[name] = dead_letter["url"]
    return Forwarding(
        endpoint_url=endpoint_url,
        region=region,
        account=account,
        registry=registry,
        role_arn=role_arn,
        rules=rules,
        dead_letter_urls=dead_letter_urls,
    )


@dataclass(frozen=True)
class CrossAccount:
    """The local copy of a deployment of several accounts: the registry's grants and each workload's forwarder.

    Attributes
    ----------
    endpoint_url, region
        Where it is.
    registry
        The registry account: registrar runs there, the model package groups live there.
    workloads
        The workload accounts, each with where its evidence lies.
    evidence_role
        The evidence role's name, the same in every workload account.
    function_roles
        The registry's function roles, by flow (``approval``, ``neo``): what registrar runs as there.
    evidence_roles, sweeper_roles
        Each workload's evidence role and its sweeper's function role, by account.
    forwarders
        Each workload's forwarding rules, by account.
    bus_policy
        The registry's default bus's resource policy.
    group_policies
        The resource policy of each shared model package group.
    """

    endpoint_url: str
    region: str
    registry: str
    workloads: dict[str, WorkloadAccount]
    evidence_role: str
    function_roles: dict[str, str]
    evidence_roles: dict[str, str]
    sweeper_roles: dict[str, str]
    forwarders: dict[str, Forwarding]
    bus_policy: dict[str, Any]
    group_policies: dict[str, dict[str, Any]]
    _watermarks: dict[str, MemoryWatermark] = field(default_factory=dict, repr=False, compare=False)

    def settings(self) -> dict[str, str]:
        """The approval and Neo functions' ``REGISTRAR_*`` variables about accounts (:func:`registry_settings`)."""
        return registry_settings(self.registry, self.workloads, self.evidence_role)

    def credentials(self, flow: str) -> dict[str, str]:
        """``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` of ``flow``'s function role.

        What Lambda gives the function; fresh ones on every call (an emulator reset ends them).
        """
        credentials = emulator_credentials(self.endpoint_url, self.function_roles[flow])
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def environment(self, flow: str) -> dict[str, str]:
        """What ``flow``'s function gets in the registry account: :meth:`settings` and :meth:`credentials`.

        Registrar's clients read credentials once: rebuild them after setting these
        (:func:`registrar_dev.support.fresh_container`, or :func:`registrar_dev.support.emulator_environment`).
        """
        return {**self.settings(), **self.credentials(flow)}

    def sweep(self, account: str, *, now: datetime | None = None) -> SweepResult:
        """One run of workload ``account``'s sweeper, where its compilations run: as its role, on its own bus.

        The forwarder stack's sweeper is registrar's (:func:`registrar.neo.sweep.sweep`), with its settings'
        defaults; each workload's watermark is kept in memory here, between its sweeps. Its events reach the
        registry through the forwarding rules.

        Returns
        -------
        registrar.neo.sweep.SweepResult
            The jobs found and published.
        """
        from datetime import UTC, timedelta

        import botocore.session

        from registrar.bus import EventBus
        from registrar.neo.sweep import sweep
        from registrar.registry import Registry
        from registrar.watermark import MemoryWatermark

        credentials = emulator_credentials(self.endpoint_url, self.sweeper_roles[account])
        session = botocore.session.Session()
        sagemaker, events = (
            emulator_client(
                service,
                self.endpoint_url,
                region=self.region,
                access_key=credentials["AccessKeyId"],
                secret_key=credentials["SecretAccessKey"],
                session_token=credentials["SessionToken"],
                session=session,
            )
            for service in ("sagemaker", "events")
        )
        watermark = self._watermarks.setdefault(account, MemoryWatermark())
        return sweep(
            registry=Registry(client=sagemaker),
            bus=EventBus(Settings().event_bus_name, client=events),
            watermark=watermark,
            now=now or datetime.now(UTC),
            lookback=timedelta(minutes=Settings().sweep_lookback_minutes),
        )


def build_cross_account(
    endpoint_url: str,
    *,
    workloads: Mapping[str, WorkloadAccount],
    registry: str = ACCOUNT,
    region: str = "us-east-1",
    groups: Sequence[str] = (),
    evidence_role: str | None = None,
    organization_id: str | None = None,
) -> CrossAccount:
    """Create, on the emulator, what a deployment of several accounts adds to the registry's topology.

    In the registry account (infra/cross_account.py): the default bus's policy accepting the forwarded
    patterns (:data:`registrar.patterns.FORWARDED`) from exactly ``workloads``; the approval and Neo
    functions' roles, by their physical names, trusting Lambda; the resource policy of each exact group of
    ``groups``. In each workload account (infra/forwarder.py): the evidence role (trusted by the registry
    account when the caller is one of those function roles; read-only on the account's report locations and
    jobs), the sweeper's role, and the forwarding rules (:func:`build_forwarding`). Build the registry's own
    rules with ``build_topology(..., workloads=list(workloads))``.

    The emulator evaluates trust and resource policies, not identity policies: the roles' own permissions are
    put on them as the stacks deploy them, for the reader, and allow nothing locally.

    Parameters
    ----------
    endpoint_url
        The emulator's endpoint.
    workloads
        The workload accounts, each with where its evidence lies (``REGISTRAR_WORKLOAD_ACCOUNTS``).
    registry, region
        The registry account and the region of every stack.
    groups
        The deployment's model package groups; each exact one (no ``*`` or ``?``) is shared with the workloads,
        and must exist already (the stack puts the policy on a group its operator created).
    evidence_role
        The evidence role's name; registrar's default (``registrar-evidence-reader``) otherwise.
    organization_id
        An AWS Organizations id: the bus and group policies then also require it of the caller.

    Returns
    -------
    CrossAccount
        What was made, and the registry functions' environment (:meth:`CrossAccount.environment`).

    Raises
    ------
    ConfigurationError
        No workload, or the registry account among them; nothing was created.
    """
    from registrar.patterns import FORWARDED

    if not workloads or registry in workloads:
        raise ConfigurationError(
            f"workload accounts {sorted(workloads)}: list at least one, and not the registry account ({registry})"
        )
    accounts = list(workloads)
    role_name = evidence_role or DEFAULT_EVIDENCE_ROLE
    statement = functools.partial(
        forwarded_event_statement, registry=registry, region=region, workloads=accounts, organization_id=organization_id
    )
    shared_group = functools.partial(
        group_policy, registry=registry, region=region, workloads=accounts, organization_id=organization_id
    )

    bus_policy = {"Version": POLICY_VERSION, "Statement": [statement(pattern) for pattern in FORWARDED]}
    emulator_client("events", endpoint_url, region=region, account=registry).put_permission(
        Policy=json.dumps(bus_policy)
    )
    iam = emulator_client("iam", endpoint_url, region=region, account=registry)
    function_roles = function_role_arns(registry, region)
    # infra.permissions.assume_evidence_roles: the evidence role of each listed workload, and no other role.
    assume = {
        "Sid": "AssumeEvidenceRoles",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": [f"arn:{PARTITION}:iam::{account}:role/{role_name}" for account in accounts],
    }
    for arn in function_roles.values():
        name = arn.rsplit("/", 1)[-1]
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(service_trust(LAMBDA_PRINCIPAL)))
        iam.put_role_policy(
            RoleName=name,
            PolicyName="AssumeEvidenceRoles",
            PolicyDocument=json.dumps({"Version": POLICY_VERSION, "Statement": [assume]}),
        )
    sagemaker = emulator_client("sagemaker", endpoint_url, region=region, account=registry)
    group_policies = {}
    for group in [g for g in groups if not any(wildcard in g for wildcard in "*?")]:
        group_policies[group] = shared_group(group)
        sagemaker.put_model_package_group_policy(
            ModelPackageGroupName=group, ResourcePolicy=json.dumps(group_policies[group])
        )

    evidence_roles, sweeper_roles, forwarders = {}, {}, {}
    for account, workload in workloads.items():
        workload_iam = emulator_client("iam", endpoint_url, region=region, account=account)
        evidence_roles[account] = workload_iam.create_role(
            RoleName=role_name, AssumeRolePolicyDocument=json.dumps(evidence_trust(registry, region))
        )["Role"]["Arn"]
        workload_iam.put_role_policy(
            RoleName=role_name,
            PolicyName="ReadEvidence",
            PolicyDocument=json.dumps(evidence_policy(account, region, workload.report_locations)),
        )
        sweeper_roles[account] = workload_iam.create_role(
            RoleName=SWEEPER_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(service_trust(LAMBDA_PRINCIPAL))
        )["Role"]["Arn"]
        forwarders[account] = build_forwarding(endpoint_url, account=account, registry=registry, region=region)
    return CrossAccount(
        endpoint_url=endpoint_url,
        region=region,
        registry=registry,
        workloads=dict(workloads),
        evidence_role=role_name,
        function_roles=function_roles,
        evidence_roles=evidence_roles,
        sweeper_roles=sweeper_roles,
        forwarders=forwarders,
        bus_policy=bus_policy,
        group_policies=group_policies,
    )
