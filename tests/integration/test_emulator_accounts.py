"""The emulator hosts several accounts as AWS does: a registry account and workload accounts.

docs/sagemaker.md#accounts-in-the-emulator: what moto 5.2.5 already does (credentials select the account; every
resource is kept per account), and fixes 19 (AssumeRole only where the trust policy allows), 20 (an event sent to
another account's bus keeps its envelope and needs that bus's policy), 21 (model package group policies, and
versions registered from another account) and 22 (PutEvents naming another account's bus, per entry by its policy).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from registrar_dev.emulator import Emulator
from registrar_dev.support import emulator_client, emulator_credentials

REGISTRY = "123456789012"  # moto's default account: fake credentials act in it
WORKLOAD = "111111111111"
OTHER = "333333333333"
REGION = "us-east-1"
REGISTRY_BUS = f"arn:aws:events:{REGION}:{REGISTRY}:event-bus/default"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
Drain = Callable[[], list[dict[str, Any]]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def trust(principal: Any, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def make_role(aws: Emulator, account: str, name: str, trust_policy: str) -> str:
    """A role in ``account`` (created by that account's own administrator); returns its ARN."""
    iam = emulator_client("iam", aws.endpoint, account=account)
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)["Role"]["Arn"])


def assume(aws: Emulator, role_arn: str, credentials: dict[str, str] | None = None, **request: Any) -> dict[str, str]:
    """AssumeRole from the default account's credentials (or ``credentials``); returns the new credentials."""
    sts = as_credentials(aws, "sts", credentials) if credentials else emulator_client("sts", aws.endpoint)
    return dict(sts.assume_role(RoleArn=role_arn, RoleSessionName="test", **request)["Credentials"])


def as_credentials(aws: Emulator, service: str, credentials: dict[str, str]) -> Any:
    return emulator_client(
        service,
        aws.endpoint,
        access_key=credentials["AccessKeyId"],
        secret_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
    )


def denied(call: Callable[[], Any], code: str = "AccessDenied") -> str:
    """Run ``call``, which must fail with ``code``; returns the error message."""
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == code, raised.value.response
    return str(raised.value.response["Error"]["Message"])


def workload_session(aws: Emulator) -> dict[str, str]:
    """Credentials of a pipeline role in the workload account, trusted by the registry account's root."""
    role = make_role(aws, WORKLOAD, unique("pipeline"), trust({"AWS": f"arn:aws:iam::{REGISTRY}:root"}))
    return assume(aws, role)


# Accounts by credentials (moto already does this) ---------------------------------------------------------------


def test_assumed_role_credentials_act_in_the_roles_account(aws: Emulator) -> None:
    # GIVEN credentials of a role assumed in the workload account
    credentials = workload_session(aws)
    identity = as_credentials(aws, "sts", credentials).get_caller_identity()
    assert identity["Account"] == WORKLOAD
    assert identity["Arn"].startswith(f"arn:aws:sts::{WORKLOAD}:assumed-role/pipeline-")

    # WHEN they create a bucket, a processing job and a compilation job, both tagged
    s3 = as_credentials(aws, "s3", credentials)
    bucket = unique("workload-evidence")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.json", Body=b"{}")
    sagemaker = as_credentials(aws, "sagemaker", credentials)
    job = sagemaker.create_processing_job(
        ProcessingJobName="evaluate",
        RoleArn=f"arn:aws:iam::{WORKLOAD}:role/processing",
        AppSpecification={"ImageUri": IMAGE},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        Tags=[{"Key": "team", "Value": "ml"}],
    )["ProcessingJobArn"]
    compilation = sagemaker.create_compilation_job(
        CompilationJobName="compile",
        RoleArn=f"arn:aws:iam::{WORKLOAD}:role/neo",
        OutputConfig={"S3OutputLocation": f"s3://{bucket}/neo/", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        InputConfig={
            "S3Uri": f"s3://{bucket}/model.tar.gz",
            "Framework": "PYTORCH",
            "FrameworkVersion": "1.13",
            "DataInputConfig": "{}",
        },
        Tags=[{"Key": "team", "Value": "ml"}],
    )["CompilationJobArn"]

    # THEN all of it is the workload account's, and the registry account sees none of it
    assert job.startswith(f"arn:aws:sagemaker:{REGION}:{WORKLOAD}:processing-job/")
    assert compilation.startswith(f"arn:aws:sagemaker:{REGION}:{WORKLOAD}:compilation-job/")
    assert sagemaker.list_tags(ResourceArn=job)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert sagemaker.list_tags(ResourceArn=compilation)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert bucket in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
    registry = emulator_client("sagemaker", aws.endpoint)
    assert bucket not in [entry["Name"] for entry in emulator_client("s3", aws.endpoint).list_buckets()["Buckets"]]
    denied(lambda: registry.describe_processing_job(ProcessingJobName="evaluate"), "ValidationException")
    denied(lambda: registry.describe_compilation_job(CompilationJobName="compile"), "ResourceNotFound")
    [bus] = as_credentials(aws, "events", credentials).list_event_buses()["EventBuses"]
    assert bus["Arn"] == f"arn:aws:events:{REGION}:{WORKLOAD}:event-bus/default"


def test_account_client_acts_as_that_accounts_root(aws: Emulator) -> None:
    # GIVEN/WHEN a client made for the workload account asks who it is
    identity = emulator_client("sts", aws.endpoint, account=WORKLOAD).get_caller_identity()

    # THEN it acts in that account (moto names its principal user/moto; the emulator treats it as the root)
    assert identity["Account"] == WORKLOAD


# Fix 19: AssumeRole only where the role's trust policy allows --------------------------------------------------


def test_assume_role_refused_when_the_role_does_not_exist(aws: Emulator) -> None:
    # GIVEN/WHEN the registry account assumes a role the workload account does not have
    role = f"arn:aws:iam::{WORKLOAD}:role/missing"
    sts = emulator_client("sts", aws.endpoint)
    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=role, RoleSessionName="test")

    # THEN STS answers AccessDenied, 403, naming the caller and the role
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert error["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{REGISTRY}:root is not authorized to perform: sts:AssumeRole on resource: {role}"
    )


def test_assume_role_refused_when_the_trust_policy_names_another_account(aws: Emulator) -> None:
    # GIVEN a workload role trusting another account only
    role = make_role(aws, WORKLOAD, unique("evidence"), trust({"AWS": f"arn:aws:iam::{OTHER}:root"}))

    # WHEN/THEN the registry account cannot assume it, the other account can
    denied(lambda: assume(aws, role))
    other = emulator_client("sts", aws.endpoint, account=OTHER)
    assert other.assume_role(RoleArn=role, RoleSessionName="test")["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{WORKLOAD}:assumed-role/evidence-"
    )


def test_trust_policy_naming_a_role_trusts_that_role_only(aws: Emulator) -> None:
    # GIVEN a registry role the registry's root may assume, and a workload role trusting that role by ARN
    caller_role = make_role(aws, REGISTRY, unique("approval"), trust({"AWS": f"arn:aws:iam::{REGISTRY}:root"}))
    role = make_role(aws, WORKLOAD, unique("evidence"), trust({"AWS": caller_role}))

    # WHEN/THEN the registry's root is refused; a session of the named role is let in
    denied(lambda: assume(aws, role))
    session = assume(aws, caller_role)
    assert assume(aws, role, credentials=session)["AccessKeyId"]


@pytest.mark.parametrize(
    ("condition", "allowed"),
    [
        ({"ArnEquals": {"aws:PrincipalArn": "{caller_role}"}}, True),
        ({"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{REGISTRY}:role/someone-else"}}, False),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{REGISTRY}:role/approval-*"}}, True),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{REGISTRY}:role/neo-*"}}, False),
        ({"StringEquals": {"aws:PrincipalAccount": REGISTRY}}, True),
        ({"StringEquals": {"aws:PrincipalAccount": OTHER}}, False),
        ({"StringEquals": {"sts:ExternalId": "registrar-external-id"}}, True),
        ({"StringEquals": {"sts:ExternalId": "another-id"}}, False),
    ],
    ids=[
        "arn-equals-the-role",
        "arn-equals-another-role",
        "arn-like-matching",
        "arn-like-not-matching",
        "principal-account",
        "another-principal-account",
        "external-id",
        "another-external-id",
    ],
)
def test_trust_policy_conditions(aws: Emulator, condition: dict[str, Any], allowed: bool) -> None:
    # GIVEN a registry function role, and a workload role trusting the registry account on a condition
    caller_role = make_role(aws, REGISTRY, unique("approval"), trust({"AWS": f"arn:aws:iam::{REGISTRY}:root"}))
    condition = json.loads(json.dumps(condition).replace("{caller_role}", caller_role))
    role = make_role(aws, WORKLOAD, unique("evidence"), trust({"AWS": f"arn:aws:iam::{REGISTRY}:root"}, condition))
    session = assume(aws, caller_role)

    # WHEN the function role's session assumes it, with registrar's external id
    def call() -> dict[str, str]:
        return assume(aws, role, credentials=session, ExternalId="registrar-external-id")

    # THEN it is let in exactly when the condition holds
    if allowed:
        assert call()["AccessKeyId"]
    else:
        denied(call)


def test_trust_policy_without_the_external_id_refuses_a_request_without_one(aws: Emulator) -> None:
    # GIVEN a role whose trust requires an external id
    condition = {"StringEquals": {"sts:ExternalId": "registrar-external-id"}}
    role = make_role(aws, WORKLOAD, unique("evidence"), trust({"AWS": REGISTRY}, condition))

    # WHEN/THEN a request without one is refused, with one let in
    denied(lambda: assume(aws, role))
    assert assume(aws, role, ExternalId="registrar-external-id")["AccessKeyId"]


def test_trust_policy_with_an_operator_the_emulator_does_not_evaluate_denies(aws: Emulator) -> None:
    # GIVEN a trust policy whose only statement uses an operator outside the emulator's subset
    condition = {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    role = make_role(aws, WORKLOAD, unique("evidence"), trust({"AWS": REGISTRY}, condition))

    # WHEN/THEN it fails closed, and says why
    message = denied(lambda: assume(aws, role))
    assert "NumericLessThan is not evaluated" in message


def test_service_credentials_act_as_the_function_role(aws: Emulator) -> None:
    # GIVEN registrar's function role (trusting Lambda) and a workload evidence role trusting it by aws:PrincipalArn
    function_role = make_role(aws, REGISTRY, unique("approval"), trust({"Service": "lambda.amazonaws.com"}))
    evidence = make_role(
        aws,
        WORKLOAD,
        unique("evidence"),
        trust({"AWS": f"arn:aws:iam::{REGISTRY}:root"}, {"ArnEquals": {"aws:PrincipalArn": function_role}}),
    )

    # WHEN the function runs with the credentials Lambda gives it
    credentials = emulator_credentials(aws.endpoint, function_role)

    # THEN it acts as its role, and may assume the evidence role, which nobody else in the registry may
    name = function_role.split("/")[-1]
    identity = as_credentials(aws, "sts", credentials).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{REGISTRY}:assumed-role/{name}/registrar"
    assert assume(aws, evidence, credentials=credentials)["AccessKeyId"]
    denied(lambda: assume(aws, evidence))
    # and a role that does not trust Lambda gives no credentials
    with pytest.raises(PermissionError, match=r"lambda\.amazonaws\.com cannot assume"):
        emulator_credentials(aws.endpoint, evidence)


# Fix 20: events sent to another account's bus ---------------------------------------------------------------


class Queue:
    """An SQS queue of one account, read as its owner reads it."""

    def __init__(self, aws: Emulator, name: str, account: str = REGISTRY) -> None:
        self.sqs = emulator_client("sqs", aws.endpoint, account=account)
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]
        self.arn = attributes["QueueArn"]

    def receive(self, wait: float = 3.0) -> list[dict[str, Any]]:
        """The messages that arrive within ``wait`` seconds (at least one, unless none came), deleted."""
        deadline = time.monotonic() + wait
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if messages or time.monotonic() >= deadline:
                break
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return list(messages)

    def events(self, wait: float = 3.0) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in self.receive(wait)]


class Forwarding:
    """A workload rule forwarding ``source`` events to the registry's default bus (role, DLQ), and a registry rule
    sending what arrives from the workload to a queue: the forwarder stack and the registry stack, locally."""

    def __init__(self, aws: Emulator, *, sender: str = WORKLOAD, receiver: str = REGISTRY, **target: Any) -> None:
        self.aws, self.sender, self.receiver = aws, sender, receiver
        self.events = emulator_client("events", aws.endpoint, account=sender)
        self.received = Queue(aws, unique("received"), receiver)
        self.dead_letters = Queue(aws, unique("forward-dlq"), sender)
        self.rule = unique("forward")
        receiving = emulator_client("events", aws.endpoint, account=receiver)
        receiving_rule = unique("from-workload")
        pattern = {"source": ["registrar", "aws.sagemaker"], "account": [sender]}
        receiving.put_rule(Name=receiving_rule, EventPattern=json.dumps(pattern))
        receiving.put_targets(Rule=receiving_rule, Targets=[{"Id": "queue", "Arn": self.received.arn}])
        role = make_role(aws, sender, unique("forwarder"), trust({"Service": "events.amazonaws.com"}))
        self.events.put_rule(Name=self.rule, EventPattern=json.dumps({"source": ["registrar", "aws.sagemaker"]}))
        bus = f"arn:aws:events:{REGION}:{receiver}:event-bus/default"
        forward = {"Id": "registry", "Arn": bus, "RoleArn": role, "DeadLetterConfig": {"Arn": self.dead_letters.arn}}
        self.events.put_targets(Rule=self.rule, Targets=[{**forward, **target}])

    def publish(self, source: str = "registrar", detail_type: str = "Compilation Job State Change") -> dict[str, Any]:
        detail = {"CompilationJobName": unique("compile"), "CompilationJobStatus": "COMPLETED"}
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": ["arn:x"]}
        assert self.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        return detail

    def refusal(self) -> dict[str, str]:
        """The attributes of the one event the forwarding target dead-lettered."""
        [dead] = self.dead_letters.receive()
        return {key: value["StringValue"] for key, value in dead["MessageAttributes"].items()}

    def failed_invocations(self) -> float:
        cloudwatch = emulator_client("cloudwatch", self.aws.endpoint, account=self.sender)
        now = datetime.now(UTC)
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/Events",
            MetricName="FailedInvocations",
            Dimensions=[{"Name": "RuleName", "Value": self.rule}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return float(sum(point["Sum"] for point in datapoints))


def allow_account(aws: Emulator, account: str = WORKLOAD, receiver: str = REGISTRY) -> None:
    events = emulator_client("events", aws.endpoint, account=receiver)
    events.put_permission(Action="events:PutEvents", Principal=account, StatementId=f"from-{account}")


def test_forwarded_event_keeps_its_envelope_and_matches_the_receiving_rules(aws: Emulator) -> None:
    # GIVEN a registry bus whose policy lets the workload account put events, and the forwarding rule
    allow_account(aws)
    forwarding = Forwarding(aws)

    # WHEN the workload publishes an event
    detail = forwarding.publish()

    # THEN the registry's rule matching account=workload receives it whole, as the workload's event
    [event] = forwarding.received.events()
    assert (event["account"], event["source"], event["detail-type"], event["region"]) == (
        WORKLOAD,
        "registrar",
        "Compilation Job State Change",
        REGION,
    )
    assert (event["detail"], event["resources"]) == (detail, ["arn:x"])
    assert forwarding.dead_letters.receive(wait=0.5) == []


def test_sagemaker_event_of_a_workload_job_reaches_the_registry(aws: Emulator) -> None:
    # GIVEN the forwarding, allowed by the registry's bus policy
    allow_account(aws)
    forwarding = Forwarding(aws)

    # WHEN a processing job ends in the workload account
    workload = emulator_client("sagemaker", aws.endpoint, account=WORKLOAD)
    arn = workload.create_processing_job(
        ProcessingJobName=unique("evaluate"),
        RoleArn=f"arn:aws:iam::{WORKLOAD}:role/processing",
        AppSpecification={"ImageUri": IMAGE},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )["ProcessingJobArn"]

    # THEN its SageMaker event arrives in the registry account, from the workload account
    [event] = forwarding.received.events()
    assert (event["account"], event["detail-type"], event["resources"]) == (
        WORKLOAD,
        "SageMaker Processing Job State Change",
        [arn],
    )


def test_forwarding_without_a_bus_policy_is_dead_lettered_and_counted(aws: Emulator) -> None:
    # GIVEN a forwarding rule, and a registry bus without any policy
    forwarding = Forwarding(aws)

    # WHEN the workload publishes an event
    forwarding.publish()

    # THEN nothing reaches the registry; the event goes to the target's dead-letter queue, a failed invocation
    assert forwarding.received.events(wait=0.5) == []
    refusal = forwarding.refusal()
    assert (refusal["TARGET_ARN"], refusal["ERROR_CODE"]) == (REGISTRY_BUS, "AccessDenied")
    assert "events:PutEvents" in refusal["ERROR_MESSAGE"]
    assert forwarding.failed_invocations() == 1.0


def test_bus_policy_for_another_account_refuses_the_workload(aws: Emulator) -> None:
    # GIVEN a registry bus that lets another account in, not the workload
    allow_account(aws, OTHER)
    forwarding = Forwarding(aws)

    # WHEN/THEN the workload's event is refused
    forwarding.publish()
    assert forwarding.received.events(wait=0.5) == []
    assert forwarding.refusal()["ERROR_CODE"] == "AccessDenied"


def test_bus_policy_conditions_on_source_and_detail_type(aws: Emulator) -> None:
    # GIVEN the registry stack's kind of statement: the workload's root, one source and one detail-type
    statement = {
        "Sid": "registrar-CompilationJobStateChange",
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{WORKLOAD}:root"]},
        "Action": "events:PutEvents",
        "Resource": REGISTRY_BUS,
        "Condition": {
            "ForAllValues:StringEquals": {"events:source": ["registrar"]},
            "StringEquals": {"events:detail-type": "Compilation Job State Change"},
        },
    }
    emulator_client("events", aws.endpoint).put_permission(
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    forwarding = Forwarding(aws)

    # WHEN the workload forwards a matching event, then one claiming another detail-type
    detail = forwarding.publish()
    forwarding.publish(detail_type="Registrar Decision")

    # THEN only the first arrives; the second is refused
    assert [event["detail"] for event in forwarding.received.events()] == [detail]
    assert forwarding.refusal()["ERROR_CODE"] == "AccessDenied"


def test_bus_policy_for_an_organization(aws: Emulator) -> None:
    # GIVEN the registry account is in an organization, and another account's bus lets that organization in
    organizations = emulator_client("organizations", aws.endpoint)
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    receiving = emulator_client("events", aws.endpoint, account=OTHER)
    condition = {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": organization}
    receiving.put_permission(Action="events:PutEvents", Principal="*", StatementId="org", Condition=condition)
    [statement] = json.loads(receiving.describe_event_bus()["Policy"])["Statement"]
    assert statement["Principal"] == "*"  # as EventBridge keeps it (moto wrote arn:aws:iam::*:root)

    # WHEN the registry account forwards through its role, then the policy names another organization
    forwarding = Forwarding(aws, sender=REGISTRY, receiver=OTHER)
    forwarding.publish()
    [event] = forwarding.received.events()
    receiving.put_permission(
        Action="events:PutEvents", Principal="*", StatementId="org", Condition={**condition, "Value": "o-another"}
    )
    forwarding.publish()

    # THEN the first arrives, from the registry account; the second is refused
    assert event["account"] == REGISTRY
    assert forwarding.received.events(wait=0.5) == []
    assert forwarding.refusal()["ERROR_CODE"] == "AccessDenied"


def test_forwarding_role_that_events_cannot_assume_is_dead_lettered(aws: Emulator) -> None:
    # GIVEN a bus policy allowing the workload, but a target role that does not trust EventBridge
    allow_account(aws)
    role = make_role(aws, WORKLOAD, unique("not-for-events"), trust({"AWS": WORKLOAD}))
    forwarding = Forwarding(aws, RoleArn=role)

    # WHEN/THEN the event is not delivered
    forwarding.publish()
    assert forwarding.received.events(wait=0.5) == []
    refusal = forwarding.refusal()
    assert refusal["ERROR_CODE"] == "AccessDenied"
    assert "events.amazonaws.com cannot assume" in refusal["ERROR_MESSAGE"]


# Fix 22: PutEvents naming another account's bus -----------------------------------------------------------------


class DirectPut:
    """A registry rule sending what arrives from the workload to a queue, and a workload rule catching what lands on
    the workload's own bus (where moto put an entry naming the registry's bus)."""

    def __init__(self, aws: Emulator) -> None:
        self.received = Queue(aws, unique("received"))
        self.stayed_home = Queue(aws, unique("stayed-home"), WORKLOAD)
        pattern = json.dumps({"source": ["registrar", "aws.sagemaker"], "account": [WORKLOAD]})
        for account, queue in ((REGISTRY, self.received), (WORKLOAD, self.stayed_home)):
            events = emulator_client("events", aws.endpoint, account=account)
            rule = unique("from-workload")
            events.put_rule(Name=rule, EventPattern=pattern)
            events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue.arn}])
        self.events = emulator_client("events", aws.endpoint, account=WORKLOAD)

    def put(self, *entries: dict[str, Any], events: Any = None) -> dict[str, Any]:
        """PutEvents from the workload (or ``events``); returns the answer without its metadata."""
        answer = dict((events or self.events).put_events(Entries=list(entries)))
        answer.pop("ResponseMetadata", None)
        return answer


def entry(
    source: str = "registrar", detail_type: str = "Compilation Job State Change", bus: str | None = REGISTRY_BUS
) -> dict[str, Any]:
    detail = {"CompilationJobName": unique("compile"), "CompilationJobStatus": "COMPLETED"}
    put = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": ["arn:x"]}
    return {**put, "EventBusName": bus} if bus else put


def refused(message: str, caller: str = f"arn:aws:iam::{WORKLOAD}:root", bus: str = REGISTRY_BUS) -> bool:
    return message.startswith(
        f"User: {caller} is not authorized to perform: events:PutEvents on resource: {bus} because no resource-based "
        "policy allows the events:PutEvents action"
    )


def test_put_events_to_another_accounts_bus_is_delivered_there_from_the_caller(aws: Emulator) -> None:
    # GIVEN a registry bus whose policy lets the workload account put events, and a registry rule matching it
    allow_account(aws)
    direct = DirectPut(aws)

    # WHEN the workload puts an event naming the registry's bus by ARN
    sent = entry()
    answer = direct.put(sent)

    # THEN it is accepted, and the registry's rule receives it whole, as the workload's event, under its EventId
    assert answer["FailedEntryCount"] == 0
    [result] = answer["Entries"]
    [event] = direct.received.events()
    assert (event["id"], event["account"], event["source"], event["detail-type"], event["region"]) == (
        result["EventId"],
        WORKLOAD,
        "registrar",
        "Compilation Job State Change",
        REGION,
    )
    assert (event["detail"], event["resources"]) == (json.loads(sent["Detail"]), ["arn:x"])
    # AND it did not land on the workload's own bus
    assert direct.stayed_home.events(wait=0.5) == []


def test_put_events_to_another_accounts_bus_without_its_policy_fails_that_entry(aws: Emulator) -> None:
    # GIVEN a registry bus without any policy, and a custom bus name the registry does not have
    direct = DirectPut(aws)
    missing = REGISTRY_BUS.replace("/default", "/missing")

    # WHEN the workload puts one event on its own bus, one on the registry's, one on the missing bus
    answer = direct.put(entry(bus=None), entry(), entry(bus=missing))

    # THEN the call succeeds; its own entry is put, the two others fail with AccessDeniedException, in their places
    assert answer["FailedEntryCount"] == 2
    own, registry, elsewhere = answer["Entries"]
    assert set(own) == {"EventId"}
    assert (registry["ErrorCode"], elsewhere["ErrorCode"]) == ("AccessDeniedException", "AccessDeniedException")
    assert "EventId" not in registry and "EventId" not in elsewhere
    assert refused(registry["ErrorMessage"]) and refused(elsewhere["ErrorMessage"], bus=missing)
    assert "does not exist" in elsewhere["ErrorMessage"]
    # AND nothing reached the registry; only the workload's own entry is on the workload's bus
    assert direct.received.events(wait=0.5) == []
    assert [event["id"] for event in direct.stayed_home.events()] == [own["EventId"]]


def test_put_events_bus_policy_for_another_account_refuses_the_workload(aws: Emulator) -> None:
    # GIVEN a registry bus that lets another account in, not the workload
    allow_account(aws, OTHER)
    direct = DirectPut(aws)

    # WHEN the workload, then the other account, put an event on the registry's bus
    [workload] = direct.put(entry())["Entries"]
    other = direct.put(entry(), events=emulator_client("events", aws.endpoint, account=OTHER))

    # THEN the workload's entry is refused and nothing of it arrives; the other account's is accepted
    assert workload["ErrorCode"] == "AccessDeniedException"
    assert direct.received.events(wait=0.5) == []
    assert other["FailedEntryCount"] == 0


def test_put_events_bus_policy_conditions_on_source_and_detail_type_hold_per_entry(aws: Emulator) -> None:
    # GIVEN the registry stack's kind of statement: the workload's root, one source and one detail-type
    statement = {
        "Sid": "registrar-CompilationJobStateChange",
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{WORKLOAD}:root"]},
        "Action": "events:PutEvents",
        "Resource": REGISTRY_BUS,
        "Condition": {
            "ForAllValues:StringEquals": {"events:source": ["registrar"]},
            "StringEquals": {"events:detail-type": "Compilation Job State Change"},
        },
    }
    emulator_client("events", aws.endpoint).put_permission(
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    direct = DirectPut(aws)

    # WHEN the workload puts, in one call, a matching entry, one of another detail-type and one of another source
    matching = entry()
    answer = direct.put(matching, entry(detail_type="Registrar Decision"), entry(source="registrar.other"))

    # THEN only the first is accepted and delivered; the others fail, each in its place
    assert answer["FailedEntryCount"] == 2
    codes = [result.get("ErrorCode") for result in answer["Entries"]]
    assert codes == [None, "AccessDeniedException", "AccessDeniedException"]
    assert [event["detail"] for event in direct.received.events()] == [json.loads(matching["Detail"])]


def test_put_events_bus_policy_on_principal_arn_lets_that_role_in_only(aws: Emulator) -> None:
    # GIVEN a registry bus letting in one workload role, by aws:PrincipalArn, and nobody else of the workload
    role = make_role(aws, WORKLOAD, unique("publisher"), trust({"AWS": f"arn:aws:iam::{REGISTRY}:root"}))
    statement = {
        "Sid": "publisher",
        "Effect": "Allow",
        "Principal": {"AWS": WORKLOAD},
        "Action": "events:PutEvents",
        "Resource": REGISTRY_BUS,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": role}},
    }
    emulator_client("events", aws.endpoint).put_permission(Policy=json.dumps({"Statement": [statement]}))
    direct = DirectPut(aws)

    # WHEN a session of that role, then the workload's root, put an event on the registry's bus
    session = as_credentials(aws, "events", assume(aws, role))
    as_role = direct.put(entry(), events=session)
    as_root = direct.put(entry())

    # THEN the role's entry is delivered, from the workload; the root's is refused
    assert as_role["FailedEntryCount"] == 0
    [event] = direct.received.events()
    assert event["account"] == WORKLOAD
    [result] = as_root["Entries"]
    assert result["ErrorCode"] == "AccessDeniedException"
    assert refused(result["ErrorMessage"])


def test_put_events_to_another_accounts_bus_refuses_an_aws_source_whatever_its_policy(aws: Emulator) -> None:
    # GIVEN a registry bus whose policy lets the workload put anything
    allow_account(aws)
    direct = DirectPut(aws)

    # WHEN the workload puts a SageMaker event of its own making on the registry's bus
    [result] = direct.put(entry(source="aws.sagemaker", detail_type="SageMaker Processing Job State Change"))["Entries"]

    # THEN it is refused as EventBridge refuses aws.* sources from customers, and nothing arrives
    assert result == {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
    assert direct.received.events(wait=0.5) == []


def test_event_bus_invocation_tells_a_forwarding_rule_from_put_events(aws: Emulator) -> None:
    # GIVEN a registry bus that accepts the workload's events only through a rule (events:eventBusInvocation)
    statement = {
        "Sid": "forwarded-only",
        "Effect": "Allow",
        "Principal": {"AWS": WORKLOAD},
        "Action": "events:PutEvents",
        "Resource": REGISTRY_BUS,
        "Condition": {"Bool": {"events:eventBusInvocation": "true"}},
    }
    emulator_client("events", aws.endpoint).put_permission(Policy=json.dumps({"Statement": [statement]}))
    forwarding = Forwarding(aws)

    # WHEN the workload puts an event on the registry's bus directly, then on its own bus, which forwards it
    [result] = DirectPut(aws).put(entry())["Entries"]
    detail = forwarding.publish()

    # THEN the direct one is refused, the forwarded one arrives
    assert result["ErrorCode"] == "AccessDeniedException"
    assert [event["detail"] for event in forwarding.received.events()] == [detail]


# Fix 21: model package groups shared with workload accounts ------------------------------------------------------


def group_policy(group_arn: str, actions: list[str], account: str = WORKLOAD) -> str:
    """The policy SageMaker's guide gives for registering versions from another account."""
    versions = group_arn.replace(":model-package-group/", ":model-package/") + "/*"
    statement = {
        "Sid": "AddPermModelPackageVersion",
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{account}:root"]},
        "Action": actions,
        "Resource": versions,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def version_request(group: str) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://workload-artifacts/churn/churn-v1.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }


@pytest.fixture
def registry_group(aws: Emulator) -> str:
    """A model package group of the registry account; its ARN."""
    registry = emulator_client("sagemaker", aws.endpoint)
    return str(registry.create_model_package_group(ModelPackageGroupName=unique("churn"))["ModelPackageGroupArn"])


def test_group_policy_is_put_read_and_deleted(aws: Emulator, registry_group: str) -> None:
    # GIVEN a registry group
    registry = emulator_client("sagemaker", aws.endpoint)
    name = registry_group.split("/")[-1]
    policy = group_policy(registry_group, ["sagemaker:CreateModelPackage"])

    # WHEN its policy is put, read, deleted
    put = registry.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=policy)
    read = registry.get_model_package_group_policy(ModelPackageGroupName=name)["ResourcePolicy"]
    registry.delete_model_package_group_policy(ModelPackageGroupName=name)

    # THEN each answers as the API reference says; a deleted policy is gone, and a broken one refused
    assert (put["ModelPackageGroupArn"], json.loads(read)) == (registry_group, json.loads(policy))
    denied(lambda: registry.get_model_package_group_policy(ModelPackageGroupName=name), "ValidationException")
    denied(
        lambda: registry.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy="{not json"),
        "ValidationException",
    )


def test_group_arn_names_the_group_in_its_own_account(aws: Emulator, registry_group: str) -> None:
    # GIVEN/WHEN the registry registers a version and describes the group by the group's ARN
    registry = emulator_client("sagemaker", aws.endpoint)
    arn = registry.create_model_package(**version_request(registry_group))["ModelPackageArn"]

    # THEN both work, as with the name
    assert arn.endswith(f"/{registry_group.split('/')[-1]}/1")
    assert registry.describe_model_package_group(ModelPackageGroupName=registry_group)["ModelPackageGroupArn"] == (
        registry_group
    )


def test_workload_registers_a_version_in_the_registry(
    aws: Emulator, registry_group: str, sagemaker_events: Drain
) -> None:
    # GIVEN a registry group whose policy lets the workload account register and describe versions
    registry = emulator_client("sagemaker", aws.endpoint)
    name = registry_group.split("/")[-1]
    policy = group_policy(registry_group, ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"])
    registry.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=policy)
    workload = as_credentials(aws, "sagemaker", workload_session(aws))

    # WHEN the workload's pipeline registers a version by the group's ARN
    arn = workload.create_model_package(**version_request(registry_group))["ModelPackageArn"]

    # THEN the version is the registry's: its ARN, its listing, its event on the registry's bus
    assert arn == f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package/{name}/1"
    listed = registry.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]
    assert [summary["ModelPackageArn"] for summary in listed] == [arn]
    assert workload.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"
    [event] = sagemaker_events()
    assert (event["account"], event["detail-type"], event["resources"]) == (
        REGISTRY,
        "SageMaker Model Package State Change",
        [arn],
    )
    assert workload.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def test_workload_is_refused_without_a_group_policy(aws: Emulator, registry_group: str) -> None:
    # GIVEN a registry group without a resource policy
    workload = as_credentials(aws, "sagemaker", workload_session(aws))

    # WHEN/THEN the workload cannot register a version in it
    message = denied(lambda: workload.create_model_package(**version_request(registry_group)), "AccessDeniedException")
    assert f"is not authorized to perform: sagemaker:CreateModelPackage on resource: arn:aws:sagemaker:{REGION}:" in (
        message
    )
    registry = emulator_client("sagemaker", aws.endpoint)
    assert registry.list_model_packages(ModelPackageGroupName=registry_group)["ModelPackageSummaryList"] == []


def test_group_policy_grants_only_what_it_names(aws: Emulator, registry_group: str) -> None:
    # GIVEN a group whose policy lets the workload register versions, nothing more, and another account nothing
    registry = emulator_client("sagemaker", aws.endpoint)
    name = registry_group.split("/")[-1]
    registry.put_model_package_group_policy(
        ModelPackageGroupName=name, ResourcePolicy=group_policy(registry_group, ["sagemaker:CreateModelPackage"])
    )
    workload = as_credentials(aws, "sagemaker", workload_session(aws))
    arn = workload.create_model_package(**version_request(registry_group))["ModelPackageArn"]

    # WHEN/THEN the workload may not approve it, nor describe it; another account may not register
    denied(
        lambda: workload.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved"),
        "AccessDeniedException",
    )
    denied(lambda: workload.describe_model_package(ModelPackageName=arn), "AccessDeniedException")
    other = emulator_client("sagemaker", aws.endpoint, account=OTHER)
    denied(lambda: other.create_model_package(**version_request(registry_group)), "AccessDeniedException")
    assert registry.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_workload_compiles_a_registry_version(aws: Emulator, registry_group: str) -> None:
    # GIVEN a registry version, and a workload compilation job on it
    registry = emulator_client("sagemaker", aws.endpoint)
    arn = registry.create_model_package(**version_request(registry_group))["ModelPackageArn"]
    workload = emulator_client("sagemaker", aws.endpoint, account=WORKLOAD)

    # WHEN the workload compiles it
    workload.create_compilation_job(
        CompilationJobName="compile",
        RoleArn=f"arn:aws:iam::{WORKLOAD}:role/neo",
        OutputConfig={"S3OutputLocation": "s3://workload-artifacts/neo/", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        ModelPackageVersionArn=arn,
    )

    # THEN the job names the version, and its artifact is named after the version's model (read across accounts)
    job = workload.describe_compilation_job(CompilationJobName="compile")
    assert job["ModelPackageVersionArn"] == arn
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == "s3://workload-artifacts/neo/churn-v1-ml_c5.tar.gz"


# Per-account readers ----------------------------------------------------------------------------------------------


def read_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_sent_email_readers_read_each_account(aws: Emulator) -> None:
    # GIVEN an SNS topic with an e-mail subscriber and a verified SES sender, both in the workload account
    sns = emulator_client("sns", aws.endpoint, account=WORKLOAD)
    topic = sns.create_topic(Name=unique("decisions"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ml-lead@example.com")
    ses = emulator_client("sesv2", aws.endpoint, account=WORKLOAD)
    ses.create_email_identity(EmailIdentity="registrar@example.com")

    # WHEN each sends one message there
    sns.publish(TopicArn=topic, Message="decided")
    ses.send_email(
        FromEmailAddress="registrar@example.com",
        Destination={"ToAddresses": ["approver@example.com"]},
        Content={"Simple": {"Subject": {"Data": "decide"}, "Body": {"Text": {"Data": "link"}}}},
    )

    # THEN each reader finds it under the workload account, and none under the registry account
    def sent(path: str, account: str) -> list[str]:
        query = urllib.parse.urlencode({"account": account, "region": REGION})
        return [email["to"] for email in read_json(f"{aws.endpoint}{path}?{query}")]

    assert sent("/registrar-emulator/sns/sent-emails", WORKLOAD) == ["ml-lead@example.com"]
    assert sent("/registrar-emulator/ses/sent-emails", WORKLOAD) == ["approver@example.com"]
    assert sent("/registrar-emulator/sns/sent-emails", REGISTRY) == []
    assert sent("/registrar-emulator/ses/sent-emails", REGISTRY) == []


def test_boto3_default_credentials_stay_in_the_registry(aws: Emulator) -> None:
    # GIVEN/WHEN a plain boto3 client with the test credentials asks who it is
    identity = boto3.client("sts", endpoint_url=aws.endpoint, region_name=REGION).get_caller_identity()

    # THEN it is the default (registry) account
    assert identity["Account"] == REGISTRY


def test_group_policy_condition_on_the_approval_status_holds_for_create_model_package(
    aws: Emulator, registry_group: str
) -> None:
    # GIVEN a group shared as the registry stack shares it: CreateModelPackage, pending approval only
    registry = emulator_client("sagemaker", aws.endpoint)
    name = registry_group.split("/")[-1]
    document = json.loads(group_policy(registry_group, ["sagemaker:CreateModelPackage"]))
    document["Statement"][0]["Condition"] = {
        "StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    }
    registry.put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=json.dumps(document))
    workload = as_credentials(aws, "sagemaker", workload_session(aws))
    pending = version_request(registry_group)
    unstated = {key: value for key, value in pending.items() if key != "ModelApprovalStatus"}

    # WHEN/THEN the workload cannot register a version already Approved (the request carries the key)...
    denied(
        lambda: workload.create_model_package(**{**pending, "ModelApprovalStatus": "Approved"}),
        "AccessDeniedException",
    )
    assert registry.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"] == []
    # ...and may register one pending approval, or one without a status (the key is then absent)
    created = [workload.create_model_package(**request)["ModelPackageArn"] for request in (pending, unstated)]
    listed = registry.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]
    assert sorted(summary["ModelPackageArn"] for summary in listed) == sorted(created)
