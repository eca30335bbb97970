"""Build the deployed event flow on the emulator: the same rule patterns, queues with DLQs, table and policy.

The CDK app (``infra/``) builds the same shape in AWS from the same ``registrar.patterns``.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registrar import aws
from registrar.errors import ConfigurationError
from registrar.patterns import FLOWS, for_account
from registrar_dev.runner import DEFAULT_TIMEOUT_SECONDS
from registrar_dev.support import ACCOUNT, emulator_client

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
        The account the stack is deployed in: the rules' patterns accept its events alone.
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
    topology = Topology(function_timeout=function_timeout)
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
            # As deployed: only events of the stack's own account reach a flow.
            deployed = for_account(pattern, account)
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
