"""The state the reliability tests act on, built through the ordinary SageMaker, S3 and EventBridge APIs.

:class:`World` uses plain boto3 clients of the emulator (a data scientist's pipeline), never registrar's, so
neither the fault injector nor the call counter sees them. It captures the SageMaker events the emulator
emits, builds the events registrar consumes, and calls the deployed Lambda handlers as an event source
mapping does.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registrar import aws
from registrar_cli.queues import Queue
from registrar_dev.emulator import Emulator
from registrar_dev.runner import LocalEventSourceMapping, LocalLambdaContext
from registrar_dev.support import (
    ACCOUNT,
    OUTCOME_TAG,
    PACKAGE_TAG,
    REGION,
    XGBOOST_IMAGE,
    create_compilation_job,
    create_idempotency_table,
    emulator_clients,
    emulator_environment,
    sqs_record,
)
from registrar_dev.topology import Topology

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPORTS = ROOT / "events" / "approval" / "reports"
POLICY = ROOT / "events" / "policy.yaml"
REPORT_BUCKET = "registrar-reliability-reports"
TABLE = "registrar-reliability-idempotency"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/registrar-reliability"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:registrar-reliability"
CAPTURE = "reliability-capture"

PASSING = (REPORTS / "passing.json").read_bytes()
FAILING = (REPORTS / "failing.json").read_bytes()


@dataclass
class World:
    """The emulator's state for one test, and the ways a test acts on it."""

    emulator: Emulator
    sagemaker: Any
    s3: Any
    sqs: Any
    events: Any
    dynamodb: Any
    capture_url: str
    captured: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls, emulator: Emulator, *, table: str = TABLE) -> World:
        """A report bucket, the idempotency table and a queue capturing every ``aws.sagemaker`` event."""

        clients = emulator_clients(emulator.endpoint, region=emulator.region)
        sqs, events = clients.sqs, clients.events
        url = sqs.create_queue(QueueName=CAPTURE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=CAPTURE, EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
        events.put_targets(Rule=CAPTURE, Targets=[{"Id": "capture", "Arn": arn}])
        world = cls(emulator, clients.sagemaker, clients.s3, sqs, events, clients.dynamodb, url)
        world.s3.create_bucket(Bucket=REPORT_BUCKET)
        create_idempotency_table(world.dynamodb, table)
        return world

    # State ------------------------------------------------------------------------------------------

    def upload(self, key: str, body: bytes, bucket: str = REPORT_BUCKET) -> str:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{bucket}/{key}"

    def package(self, group: str = "churn-model", *, report: bytes | None = PASSING, uri: str | None = None) -> str:
        """A pending version of ``group`` whose ModelQuality report is ``report`` (uploaded) or ``uri``.

        Each version has a model artifact of its own (:meth:`model_of`): evidence and compilations are
        bound to a version by its artifact, so two versions sharing one would each accept the other's jobs.
        """
        groups = self.sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
        if not any(summary["ModelPackageGroupName"] == group for summary in groups):
            self.sagemaker.create_model_package_group(ModelPackageGroupName=group)
        if uri is None and report is not None:
            uri = self.upload(f"evaluations/{group}/{uuid.uuid4().hex[:8]}/evaluation.json", report)
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": XGBOOST_IMAGE,
                        "ModelDataUrl": f"s3://{REPORT_BUCKET}/models/{group}/{uuid.uuid4().hex[:8]}/model.tar.gz",
                        "Framework": "XGBOOST",
                        "FrameworkVersion": "1.7",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
        if uri is not None:
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
            }
        return str(self.sagemaker.create_model_package(**request)["ModelPackageArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_model_package(ModelPackageName=arn)
        described.pop("ResponseMetadata", None)
        return described

    def model_of(self, arn: str) -> str:
        """The version's model artifact: its primary container's ``ModelDataUrl``."""
        return str(self.describe(arn)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])

    def compile(self, name: str, package_arn: str, target: str = "ml_c5") -> dict[str, Any]:
        """A Neo compilation of the version (it ends at once in the emulator); returns DescribeCompilationJob."""
        create_compilation_job(
            self.sagemaker,
            name,
            target,
            f"s3://{REPORT_BUCKET}/compiled/{name}/",
            role=ROLE,
            package_arn=package_arn,
        )
        described: dict[str, Any] = self.sagemaker.describe_compilation_job(CompilationJobName=name)
        return described

    def compile_model(
        self, name: str, *, model: str, tagged: str, output: str | None = None, target: str = "ml_c5"
    ) -> dict[str, Any]:
        """A Neo compilation of the S3 model ``model``, tagged ``registrar:model-package-arn`` = ``tagged``."""
        create_compilation_job(
            self.sagemaker,
            name,
            target,
            output or f"s3://{REPORT_BUCKET}/compiled/{name}/",
            role=ROLE,
            input_config={
                "S3Uri": model,
                "Framework": "XGBOOST",
                "FrameworkVersion": "1.7",
                "DataInputConfig": '{"data": [1, 10]}',
            },
            tagged=tagged,
        )
        described: dict[str, Any] = self.sagemaker.describe_compilation_job(CompilationJobName=name)
        return described

    def processing_job(
        self,
        name: str,
        *,
        linked_to: str,
        model: str | None = None,
        output: str | None = None,
        fail: bool = False,
    ) -> None:
        """A finished processing job tagged with ``registrar:model-package-arn`` = ``linked_to``.

        It evaluates ``model`` (its input ``model``), by default the linked version's own artifact, and
        writes under ``output`` (default ``evaluations/<name>/`` in the report bucket); ``fail`` ends it Failed.
        """
        evaluated = model if model is not None else self.model_of(linked_to)
        tags = [{"Key": PACKAGE_TAG, "Value": linked_to}]
        if fail:
            tags.append({"Key": OUTCOME_TAG, "Value": "Failed"})
        self.sagemaker.create_processing_job(
            ProcessingJobName=name,
            RoleArn=ROLE,
            AppSpecification={"ImageUri": XGBOOST_IMAGE},
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
            },
            ProcessingInputs=[
                {
                    "InputName": "model",
                    "S3Input": {
                        "S3Uri": evaluated,
                        "LocalPath": "/opt/ml/processing/model",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
            ProcessingOutputConfig={
                "Outputs": [
                    {
                        "OutputName": "evaluation",
                        "S3Output": {
                            "S3Uri": output or f"s3://{REPORT_BUCKET}/evaluations/{name}/",
                            "LocalPath": "/opt/ml/processing/evaluation",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            Tags=tags,
        )

    def applied_updates(self) -> int:
        """UpdateModelPackage requests the emulator applied: a ClientToken seen again is not applied again."""
        from moto.sagemaker.models import sagemaker_backends

        backend: Any = sagemaker_backends[ACCOUNT][REGION]  # the emulator's backend class
        return len(backend.update_model_package_tokens)

    # Events -----------------------------------------------------------------------------------------

    def sagemaker_events(self) -> list[dict[str, Any]]:
        """Every ``aws.sagemaker`` event the emulator emitted so far, oldest first."""
        while messages := self.sqs.receive_message(QueueUrl=self.capture_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            self.captured.extend(json.loads(message["Body"]) for message in messages)
            self.sqs.delete_message_batch(
                QueueUrl=self.capture_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return list(self.captured)

    def creation_event(self, arn: str) -> dict[str, Any]:
        """The ``SageMaker Model Package State Change`` the emulator emitted when the version was created."""
        for event in self.sagemaker_events():
            detail = event["detail"]
            if detail.get("ModelPackageArn") == arn and "UpdatedModelPackageFields" not in detail:
                return copy.deepcopy(event)
        raise AssertionError(f"no creation event for {arn}")

    def update_events(self, arn: str) -> list[dict[str, Any]]:
        """The state-change events of every update the emulator applied to the version."""
        return [
            event
            for event in self.sagemaker_events()
            if event["detail"].get("ModelPackageArn") == arn and "UpdatedModelPackageFields" in event["detail"]
        ]

    def processing_event(self, name: str) -> dict[str, Any]:
        for event in self.sagemaker_events():
            if (
                event["detail-type"] == "SageMaker Processing Job State Change"
                and event["detail"].get("ProcessingJobName") == name
            ):
                return copy.deepcopy(event)
        raise AssertionError(f"no processing job event for {name}")


def subject_hash(subject: str) -> str:
    """Powertools' key: md5 of the JSON of the value ``event_key_jmespath`` selects (the subject string)."""
    return hashlib.md5(json.dumps(subject).encode(), usedforsecurity=False).hexdigest()


def with_new_id(event: dict[str, Any]) -> dict[str, Any]:
    """The same event delivered again as EventBridge does for one change: another id, the same detail."""
    again = copy.deepcopy(event)
    again["id"] = str(uuid.uuid4())
    return again


def envelope(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None
) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to SQS."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def compilation_event(job: dict[str, Any]) -> dict[str, Any]:
    """The ``Compilation Job State Change`` the sweeper publishes for a finished job."""
    detail = {
        "CompilationJobName": job["CompilationJobName"],
        "CompilationJobArn": job["CompilationJobArn"],
        "CompilationJobStatus": job["CompilationJobStatus"],
        "LastModifiedTime": job["LastModifiedTime"].isoformat(),
    }
    return envelope("registrar", "Compilation Job State Change", detail, [job["CompilationJobArn"]])


def invoke(
    handler: Callable[[dict[str, Any], Any], Any], *bodies: dict[str, Any] | str, timeout_seconds: int = 60
) -> dict[str, Any]:
    """Call a deployed Lambda handler with one SQS batch of these events (dicts) or raw bodies (str).

    ``timeout_seconds`` is the function's timeout: Powertools holds an in-progress record that long.
    """
    records = [sqs_record(body if isinstance(body, str) else json.dumps(body), queue_arn=QUEUE_ARN) for body in bodies]
    context = LocalLambdaContext(function_name="registrar-reliability", timeout_seconds=timeout_seconds)
    response: dict[str, Any] = handler({"Records": records}, context)
    return response


def failed_records(response: dict[str, Any]) -> int:
    return len(response.get("batchItemFailures", []))


@contextlib.contextmanager
def lambda_environment(emulator: Emulator, **variables: str) -> Iterator[None]:
    """The environment of a deployed function pointed at the emulator; registrar's clients rebuilt on entry and exit."""
    deployed = {
        "REGISTRAR_POLICY_FILE": str(POLICY),
        "REGISTRAR_REPORT_LOCATIONS": f"s3://{REPORT_BUCKET}/evaluations/",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with emulator_environment(emulator.endpoint, emulator.region, **{**deployed, **variables}):
        yield


# The local topology ---------------------------------------------------------------------------------


# Consecutive looks, 0.2 s apart, that must find every queue empty and nothing received before a drain ends.
QUIET_LOOKS = 3


@dataclass
class Drained:
    """What running the local event source mappings until every queue was empty left behind."""

    dead_letters: dict[str, list[dict[str, Any]]]  # flow -> DLQ messages (body and attributes)
    invocations: int
    seconds: float


def mappings(topology: Topology, handlers: dict[str, Callable[[dict[str, Any], Any], Any]]) -> list[Any]:
    sqs = aws.client("sqs")
    return [
        LocalEventSourceMapping(
            queue=Queue(url=topology.flows[flow].queue_url, client=sqs),
            queue_arn=topology.flows[flow].queue_arn,
            handler=handler,
            function_name=f"registrar-{flow}",
            timeout_seconds=topology.function_timeout,
        )
        for flow, handler in handlers.items()
    ]


def drain(
    topology: Topology, handlers: dict[str, Callable[[dict[str, Any], Any], Any]], *, timeout: float = 30.0
) -> Drained:
    """Poll the flows' queues as Lambda would until they are empty and nothing is in flight, then read the DLQs.

    Raises
    ------
    TimeoutError
        A queue still held messages after ``timeout`` seconds (the message says how many, per flow): a test
        reading the dead-letter queues then would see them short, for a reason that is not registrar's.
    """
    sqs = emulator_clients(str(aws.client("sqs").meta.endpoint_url)).sqs
    running = mappings(topology, handlers)
    started = time.monotonic()
    pending: dict[str, int] = {}
    quiet = 0
    while time.monotonic() - started < timeout:
        busy = sum(mapping.poll_once() for mapping in running)
        for flow in handlers:
            attributes = sqs.get_queue_attributes(
                QueueUrl=topology.flows[flow].queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            pending[flow] = sum(int(value) for value in attributes.values())
        # One quiet look is not enough: the two counts are taken a moment apart, and a message whose visibility
        # timeout ends in between is in neither (moto counts it not visible, then visible). Seen once in five
        # `make test` runs under load: the drain stopped with two poison records a receive short of the DLQ.
        quiet = quiet + 1 if busy == 0 and not any(pending.values()) else 0
        if quiet >= QUIET_LOOKS:
            break
        if busy == 0:
            time.sleep(0.2)
    else:
        raise TimeoutError(f"queues not drained after {timeout:.0f} s: messages left per flow {pending}")
    dead: dict[str, list[dict[str, Any]]] = {}
    for flow in handlers:
        url = topology.flows[flow].dead_letter_url
        dead[flow] = []
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", []):
            dead[flow].extend(messages)
    return Drained(
        dead_letters=dead, invocations=sum(m.invocations for m in running), seconds=time.monotonic() - started
    )
