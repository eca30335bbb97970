"""What the tests, the benchmarks, the demo and the local runner share to act on the emulator as AWS would.

- :func:`sqs_record` and :func:`sqs_event`: the SQS event a Lambda event source mapping hands a handler.
- :class:`CallCounter`: every AWS call registrar's own clients make (``registrar.aws.observe_calls``).
- :func:`emulator_clients` and :func:`emulator_client`: plain botocore clients of the emulator from a
  botocore session that is not registrar's, so observing registrar's calls (or injecting faults into
  them) never sees these, and with every operation (registrar's clients carry only the ones it makes);
  ``account=`` makes them act in another account. :func:`emulator_credentials`: a role's credentials as
  Lambda gets them, to run a handler as its function role.
- :func:`create_processing_job` and :func:`create_compilation_job`: the jobs a data scientist's
  pipeline starts, linked to a model package by tag or by ARN.
- :func:`emulator_environment`: the environment of a deployed function pointed at the emulator.
- The names the sample events under ``events/`` use (``events/approval/README.md``, ``events/neo/README.md``).

A dev-time module, like the rest of ``registrar_dev``: the deployed functions never import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PACKAGE_TAG = "registrar:model-package-arn"
OUTCOME_TAG = "emulator:outcome"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
DEFAULT_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:registrar-test"
ACCOUNT_HEADER = "x-moto-account-id"  # moto: the account a request acts in, whatever its credentials
SENT_TIMESTAMP = "1741079727000"

# The samples under events/ ---------------------------------------------------------------------------

APPROVAL_SAMPLES = (
    "passing",
    "failing",
    "missing-report",
    "nan-metric",
    "human-decided",
    "unmatched-group",
    "duplicate",
    "processing-completed",
    "failed-job",
)
NEO_SAMPLES = ("completed-ml-c5", "completed-ml-inf2", "edge-jetson-nano", "failed", "unlinked")
# Report file under events/approval/reports/ -> the key it is uploaded to (README, "The state each event expects").
SAMPLE_REPORT_KEYS = {
    "passing.json": "churn-model/1/evaluation.json",
    "failing.json": "churn-model/2/evaluation.json",
    "nan-metric.json": "churn-model/4/evaluation.json",
    "processing.json": "credit-risk/1/evaluation/evaluation.json",
}
# The model package events whose packages are created, in version order per group.
PACKAGE_SAMPLES = ("passing", "failing", "missing-report", "nan-metric", "human-decided", "unmatched-group")
# The Neo samples' bucket, where compiled models go, and what a job compiles when it is given no package
# (the PyTorch 1.13 model of the samples' training run).
ARTIFACT_BUCKET = "churn-artifacts"
NEO_OUTPUT = f"s3://{ARTIFACT_BUCKET}/neo/"
NEO_INPUT = f"s3://{ARTIFACT_BUCKET}/train/model.tar.gz"
NEO_INPUT_CONFIG = {
    "S3Uri": NEO_INPUT,
    "Framework": "PYTORCH",
    "FrameworkVersion": "1.13",
    "DataInputConfig": '{"input0": [1, 3, 224, 224]}',
}


# SQS ---------------------------------------------------------------------------------------------------


def sqs_record(
    body: str,
    *,
    queue_arn: str = DEFAULT_QUEUE_ARN,
    receive_count: int = 1,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    attributes: Mapping[str, str] | None = None,
    region: str = REGION,
) -> dict[str, Any]:
    """One SQS record as a Lambda event source mapping delivers it.

    Parameters
    ----------
    body
        The message body.
    queue_arn
        The queue the record came from (``eventSourceARN``).
    receive_count
        ``ApproximateReceiveCount``, when ``attributes`` is not given.
    message_id, receipt_handle
        Those of a received message; fresh ones otherwise.
    attributes
        The message's system attributes as SQS returned them; otherwise a receive count and a sent time.
    region
        ``awsRegion``.
    """
    if attributes is None:
        attributes = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": SENT_TIMESTAMP}
    return {
        "messageId": message_id if message_id is not None else str(uuid.uuid4()),
        "receiptHandle": receipt_handle if receipt_handle is not None else f"receipt-{uuid.uuid4()}",
        "body": body,
        "attributes": dict(attributes),
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(bodies: Iterable[str], *, queue_arn: str = DEFAULT_QUEUE_ARN) -> dict[str, Any]:
    """An SQS event of one record per body, as Lambda passes a function."""
    return {"Records": [sqs_record(body, queue_arn=queue_arn) for body in bodies]}


# Calls ---------------------------------------------------------------------------------------------------


@dataclass
class CallCounter:
    """Every AWS call registrar's own clients make once started (``registrar.aws.observe_calls``).

    ``made`` holds ``(service, operation, parameters)`` per call, oldest first.
    """

    made: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> CallCounter:
        """Observe registrar's clients from now on; returns this counter.

        The observer lives on registrar's botocore session: start counting after :func:`fresh_container`
        (or ``registrar.aws.reset_clients``), which drops that session and its observers with it.
        """
        from registrar import aws

        aws.observe_calls(self._record)
        return self

    def _record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        with self._lock:
            self.made.append((service, operation, dict(params)))

    def clear(self) -> None:
        """Forget the calls counted so far."""
        with self._lock:
            self.made.clear()

    def count(self, operation: str | None = None, service: str = "sagemaker") -> int:
        """How many calls of ``service`` (of ``operation`` only, when given) were made."""
        with self._lock:
            counted = Counter(op for svc, op, _ in self.made if svc == service)
        return counted[operation] if operation is not None else sum(counted.values())

    def of(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``operation`` (of any service), oldest first."""
        with self._lock:
            return [params for _, op, params in self.made if op == operation]


# Clients and jobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmulatorClients:
    """Plain botocore clients of the emulator (a data scientist's pipeline), not registrar's."""

    sagemaker: Any
    s3: Any
    sqs: Any
    events: Any
    dynamodb: Any


def emulator_clients(
    endpoint: str,
    *,
    region: str = REGION,
    access_key: str = "testing",
    secret_key: str = "testing",
    account: str | None = None,
) -> EmulatorClients:
    """Clients of the emulator at ``endpoint`` from a botocore session of their own (fake credentials).

    ``account`` makes them act in that account (see :func:`emulator_client`).
    """
    import botocore.session

    session = botocore.session.Session()
    made = {
        service: emulator_client(
            service,
            endpoint,
            region=region,
            access_key=access_key,
            secret_key=secret_key,
            session=session,
            account=account,
        )
        for service in ("sagemaker", "s3", "sqs", "events", "dynamodb")
    }
    return EmulatorClients(**made)


def emulator_client(
    service: str,
    endpoint: str,
    *,
    region: str = REGION,
    access_key: str = "testing",
    secret_key: str = "testing",
    session: Any = None,
    account: str | None = None,
    session_token: str | None = None,
) -> Any:
    """One plain botocore client of the emulator at ``endpoint`` (of ``session``, else of a session of its own).

    Parameters
    ----------
    service
        The botocore service name.
    endpoint
        The emulator's endpoint.
    region
        The client's region.
    access_key, secret_key, session_token
        The credentials: fake ones act in the default account :data:`ACCOUNT`; those of an assumed role
        (:func:`emulator_credentials`, or STS AssumeRole) act as that role in its account.
    session
        The botocore session to create the client from; a session of its own otherwise.
    account
        Act in this account, as its root principal (a person of that account, not a role): every request
        carries moto's ``x-moto-account-id`` header, which selects the account whatever the credentials.
    """
    import botocore.session

    client = (session or botocore.session.Session()).create_client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
    )
    if account is not None:

        def act_in_account(request: Any, **_: Any) -> None:
            request.headers[ACCOUNT_HEADER] = account

        client.meta.events.register("before-sign", act_in_account)
    return client


def emulator_credentials(
    endpoint: str, role_arn: str, *, service: str = "lambda.amazonaws.com", session_name: str = "registrar"
) -> dict[str, str]:
    """The credentials ``service`` gets for ``role_arn`` in the emulator: what Lambda gives a function with that role.

    The role must exist and trust ``service`` (``registrar_dev.emulator.accounts.service_credentials``); the
    credentials act as the role in its account, until the emulator is reset.

    Parameters
    ----------
    endpoint
        The emulator's endpoint.
    role_arn
        The role, e.g. a flow function's execution role.
    service
        The service principal assuming it.
    session_name
        The session's name (the last part of ``arn:aws:sts::<account>:assumed-role/<role>/<session>``).

    Returns
    -------
    dict
        ``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``, ``Expiration`` (ISO 8601) and ``Arn``.

    Raises
    ------
    PermissionError
        The role does not exist or does not trust ``service``; the message says which.
    """
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    from registrar_dev.emulator.accounts import SERVICE_CREDENTIALS_PATH

    query = urllib.parse.urlencode({"role_arn": role_arn, "service": service, "session": session_name})
    request = urllib.request.Request(f"{endpoint.rstrip('/')}{SERVICE_CREDENTIALS_PATH}?{query}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:
        if error.code == 403:
            raise PermissionError(json.load(error).get("message", str(error))) from error
        raise


def create_processing_job(
    sagemaker: Any,
    name: str,
    package_arn: str,
    output_prefix: str,
    *,
    role: str,
    image: str = XGBOOST_IMAGE,
    fail: bool = False,
    model_uri: str | None = None,
) -> None:
    """A processing job evaluating a model and writing its evaluation to ``output_prefix``, tagged with ``package_arn``.

    Parameters
    ----------
    model_uri
        The model the job evaluates (its input ``model``); by default the tagged version's own model
        artifact (its primary container's ``ModelDataUrl``), so the job is bound to it. Give another
        to make a job whose tag points at a version it did not evaluate.
    fail
        Tag the job ``emulator:outcome=Failed`` too, and the emulator ends it Failed.
    """
    if model_uri is None:
        described = sagemaker.describe_model_package(ModelPackageName=package_arn)
        model_uri = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    output = {
        "OutputName": "evaluation",
        "S3Output": {"S3Uri": output_prefix, "LocalPath": "/opt/ml/processing/evaluation", "S3UploadMode": "EndOfJob"},
    }
    model_input = {
        "InputName": "model",
        "S3Input": {
            "S3Uri": model_uri,
            "LocalPath": "/opt/ml/processing/model",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
        },
    }
    _processing_job(
        sagemaker,
        package_arn,
        fail,
        ProcessingJobName=name,
        RoleArn=role,
        AppSpecification={"ImageUri": image},
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        ProcessingInputs=[model_input],
        ProcessingOutputConfig={"Outputs": [output]},
    )


def create_processing_job_from_detail(
    sagemaker: Any, detail: dict[str, Any], package_arn: str, *, role: str, fail: bool = False
) -> None:
    """The processing job a ``Processing Job State Change`` event's ``detail`` describes, tagged with the package.

    ``fail`` tags it ``emulator:outcome=Failed`` too, and the emulator ends it Failed.
    """
    _processing_job(
        sagemaker,
        package_arn,
        fail,
        ProcessingJobName=detail["ProcessingJobName"],
        RoleArn=role,
        AppSpecification={"ImageUri": detail["AppSpecification"]["ImageUri"]},
        ProcessingInputs=[
            {"InputName": entry["InputName"], "S3Input": entry["S3Input"]}
            for entry in detail.get("ProcessingInputs", [])
        ],
        ProcessingResources=detail["ProcessingResources"],
        ProcessingOutputConfig=detail["ProcessingOutputConfig"],
        StoppingCondition=detail["StoppingCondition"],
    )


def _processing_job(sagemaker: Any, package_arn: str, fail: bool, **request: Any) -> None:
    tags = [{"Key": PACKAGE_TAG, "Value": package_arn}]
    if fail:
        tags.append({"Key": OUTCOME_TAG, "Value": "Failed"})
    sagemaker.create_processing_job(**request, Tags=tags)


def create_compilation_job(
    sagemaker: Any,
    name: str,
    target: str,
    output_location: str,
    *,
    role: str,
    package_arn: str | None = None,
    input_config: dict[str, Any] | None = None,
    tagged: str | None = None,
    fail: bool = False,
) -> None:
    """A Neo compilation job (it ends at once in the emulator).

    Parameters
    ----------
    package_arn
        Compile this versioned package (``ModelPackageVersionArn``); otherwise ``input_config``.
    tagged
        Link the job with the tag ``registrar:model-package-arn`` = this ARN.
    fail
        Tag the job ``emulator:outcome=FAILED``.
    """
    request: dict[str, Any] = {
        "CompilationJobName": name,
        "RoleArn": role,
        "OutputConfig": {"S3OutputLocation": output_location, "TargetDevice": target},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }
    if package_arn is not None:
        request["ModelPackageVersionArn"] = package_arn
    if input_config is not None:
        request["InputConfig"] = input_config
    tags = [{"Key": PACKAGE_TAG, "Value": tagged}] if tagged else []
    if fail:
        tags.append({"Key": OUTCOME_TAG, "Value": "FAILED"})
    if tags:
        request["Tags"] = tags
    sagemaker.create_compilation_job(**request)


def create_idempotency_table(dynamodb: Any, name: str) -> None:
    """The idempotency table the stack deploys: partition key ``id`` (S), billed per request."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


# Environment -----------------------------------------------------------------------------------------------

_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "REGISTRAR_TABLE_NAME")


@contextlib.contextmanager
def emulator_environment(endpoint: str, region: str = REGION, **variables: str) -> Iterator[None]:
    """This process's environment pointed at the emulator (fake credentials), with ``variables``, for the block.

    Profiles, session tokens and ``REGISTRAR_TABLE_NAME`` are unset; registrar's clients and what a
    Lambda container keeps (:func:`fresh_container`) are rebuilt on entry and on exit, so nothing built
    inside outlives the block.
    """

    wanted = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **variables,
    }
    saved = {name: os.environ.get(name) for name in (*_UNSET, *wanted)}
    for name in _UNSET:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    fresh_container()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        fresh_container()


def fresh_container() -> None:
    """Forget what a Lambda container keeps between invocations: settings, flows, clients.

    The next invocation of a handler in this process starts as in a new container (the environment
    read again, clients created again), though the modules stay imported.
    """
    from registrar import aws
    from registrar.approval import service as approval
    from registrar.deployments import service as deployments
    from registrar.neo import service as neo
    from registrar.settings import deployed_settings

    deployed_settings.cache_clear()
    approval.deployed.cache_clear()
    neo.deployed.cache_clear()
    deployments.deployed.cache_clear()
    aws.reset_clients()
