"""``registrar demo``: the whole automation on the embedded emulator, event by event, as in AWS.

The scenario registers a realistic set of model versions through ordinary SageMaker calls, lets the
emulator's events flow through the same rule patterns, queues and handlers the CDK app deploys, runs
the sweeper on a short schedule, and checks that every version ends where the policy says it must.
:func:`run_scenario` does the work and returns what happened; :func:`run_demo` tells the story.
"""

from __future__ import annotations

import os
import pathlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from registrar.local.support import XGBOOST_IMAGE, create_compilation_job, create_processing_job, emulator_clients
from registrar.outcome import Outcome

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
POLICY_FILE = EVENTS / "policy.yaml"
BUCKET = "registrar-demo-reports"
REPORTS = EVENTS / "approval" / "reports"
ROLE_ARN = "arn:aws:iam::123456789012:role/registrar-demo-sagemaker"
CHURN = "churn-model"
FRAUD = "fraud-detector"


@dataclass(frozen=True)
class Expectation:
    """Where the policy says a version must end."""

    label: str
    group: str
    approval_status: str
    specifications: int = 0
    decided_by_registrar: bool = True
    metadata_keys: tuple[str, ...] = ()


@dataclass
class HandledEvent:
    flow: str
    outcome: Outcome


@dataclass
class ScenarioResult:
    """Everything the scenario observed, for the printed story and for the e2e test."""

    versions: dict[str, str] = field(default_factory=dict)  # label -> ARN
    expectations: dict[str, Expectation] = field(default_factory=dict)
    before: dict[str, dict[str, Any]] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)
    handled: list[HandledEvent] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    updates_per_package: Counter[str] = field(default_factory=Counter)
    leftover: dict[str, list[str]] = field(default_factory=dict)  # queue -> message bodies left
    sweeps: int = 0
    seconds: float = 0.0

    def mismatches(self) -> list[str]:
        """Every way a version's final state differs from its expectation (empty when all is well)."""
        problems = []
        for label, expected in self.expectations.items():
            package = self.after.get(label, {})
            status = package.get("ModelApprovalStatus")
            if status != expected.approval_status:
                problems.append(f"{label}: {status}, expected {expected.approval_status}")
            specs = len(package.get("AdditionalInferenceSpecifications", []))
            if specs != expected.specifications:
                problems.append(f"{label}: {specs} specifications, expected {expected.specifications}")
            described = str(package.get("ApprovalDescription", "")).startswith("registrar:")
            if described != expected.decided_by_registrar:
                problems.append(f"{label}: description {'is' if described else 'is not'} registrar's")
            metadata = package.get("CustomerMetadataProperties", {})
            problems.extend(
                f"{label}: metadata {key!r} missing" for key in expected.metadata_keys if key not in metadata
            )
        problems.extend(f"{queue}: {len(bodies)} message(s) left" for queue, bodies in self.leftover.items() if bodies)
        return problems


def _configure_environment(endpoint: str, table_name: str) -> None:
    # Handlers read these when they handle their first event, exactly as in Lambda.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "demo"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "demo"),
            "REGISTRAR_POLICY_FILE": str(POLICY_FILE),
            "REGISTRAR_TABLE_NAME": table_name,
            "REGISTRAR_EVENT_BUS_NAME": "default",
            "REGISTRAR_REPORT_LOCATIONS": f"s3://{BUCKET}/",
            "REGISTRAR_SWEEP_LOOKBACK_MINUTES": "60",
            "POWERTOOLS_SERVICE_NAME": "registrar",
            "POWERTOOLS_METRICS_NAMESPACE": "registrar",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "CRITICAL"),
            "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
        }
    )


class _Setup:
    """The ordinary SageMaker/S3 calls a data scientist's pipeline makes (not counted as registrar's)."""

    sagemaker: Any
    s3: Any

    def __init__(self, endpoint: str) -> None:
        clients = emulator_clients(endpoint)
        self.sagemaker = clients.sagemaker
        self.s3 = clients.s3

    def upload(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")
        return f"s3://{BUCKET}/{key}"

    def register(self, group: str, *, report_uri: str | None, approval: str = "PendingManualApproval") -> str:
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": approval,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": XGBOOST_IMAGE,
                        "ModelDataUrl": f"s3://{BUCKET}/models/{group}/model.tar.gz",
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "MODEL_SERVER_WORKERS": "2"},
                        "Framework": "XGBOOST",
                        "FrameworkVersion": "1.7",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
                "SupportedTransformInstanceTypes": ["ml.m5.large"],
            },
        }
        if report_uri:
            kwargs["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}
            }
        return str(self.sagemaker.create_model_package(**kwargs)["ModelPackageArn"])

    def evaluate_with_processing_job(
        self, package_arn: str, name: str, output_prefix: str, *, fail: bool = False
    ) -> None:
        create_processing_job(self.sagemaker, name, package_arn, output_prefix, role=ROLE_ARN, fail=fail)

    def compile(self, name: str, package_arn: str, target: str, *, fail: bool = False) -> None:
        output = f"s3://{BUCKET}/compiled/{name}/"
        if fail:
            # An InputConfig job linked by tag, which the emulator fails as asked.
            input_config = {
                "S3Uri": f"s3://{BUCKET}/models/{CHURN}/model.tar.gz",
                "Framework": "XGBOOST",
                "DataInputConfig": '{"data": [1, 10]}',
            }
            create_compilation_job(
                self.sagemaker,
                name,
                target,
                output,
                role=ROLE_ARN,
                input_config=input_config,
                tagged=package_arn,
                fail=True,
            )
        else:
            create_compilation_job(self.sagemaker, name, target, output, role=ROLE_ARN, package_arn=package_arn)

    def describe(self, arn: str) -> dict[str, Any]:
        response: dict[str, Any] = self.sagemaker.describe_model_package(ModelPackageName=arn)
        response.pop("ResponseMetadata", None)
        return response


def register_scenario(setup: _Setup, result: ScenarioResult) -> None:
    """The versions and jobs of the story, created through the normal SageMaker API."""
    setup.s3.create_bucket(Bucket=BUCKET)
    passing = setup.upload(f"evaluations/{CHURN}/1/evaluation.json", (REPORTS / "passing.json").read_bytes())
    failing = setup.upload(f"evaluations/{CHURN}/2/evaluation.json", (REPORTS / "failing.json").read_bytes())
    missing = f"s3://{BUCKET}/evaluations/{CHURN}/3/evaluation.json"  # never uploaded
    human = setup.upload(f"evaluations/{CHURN}/4/evaluation.json", (REPORTS / "failing.json").read_bytes())
    setup.sagemaker.create_model_package_group(ModelPackageGroupName=CHURN)
    setup.sagemaker.create_model_package_group(ModelPackageGroupName=FRAUD)

    versions = {
        "churn v1 (passes)": setup.register(CHURN, report_uri=passing),
        "churn v2 (fails)": setup.register(CHURN, report_uri=failing),
        "churn v3 (no report)": setup.register(CHURN, report_uri=missing),
        "churn v4 (human approved)": setup.register(CHURN, report_uri=human, approval="Approved"),
        "fraud v1 (processing job)": setup.register(FRAUD, report_uri=None),
        "fraud v2 (job failed)": setup.register(FRAUD, report_uri=None),
    }
    result.versions.update(versions)
    fraud_output = f"s3://{BUCKET}/evaluations/{FRAUD}/1/"
    setup.upload(f"evaluations/{FRAUD}/1/evaluation.json", (REPORTS / "processing.json").read_bytes())
    setup.evaluate_with_processing_job(versions["fraud v1 (processing job)"], "fraud-detector-eval-1", fraud_output)
    # A failed evaluation is held for a human (the fraud rule says on_failure: hold); the event of
    # registrar's own explanation on the still-pending version is then ignored by the loop guard.
    setup.evaluate_with_processing_job(
        versions["fraud v2 (job failed)"], "fraud-detector-eval-2", f"s3://{BUCKET}/evaluations/{FRAUD}/2/", fail=True
    )

    champion = versions["churn v1 (passes)"]
    setup.compile("churn-1-ml-c5", champion, "ml_c5")
    setup.compile("churn-1-ml-inf2", champion, "ml_inf2")
    setup.compile("churn-1-jetson-nano", champion, "jetson_nano")
    setup.compile("churn-1-ml-m5-broken", champion, "ml_m5", fail=True)

    result.expectations.update(
        {
            "churn v1 (passes)": Expectation(
                "churn v1 (passes)",
                CHURN,
                "Approved",
                specifications=2,
                metadata_keys=("registrar:verdict", "registrar:neo:jetson_nano", "registrar:neo:ml_m5"),
            ),
            "churn v2 (fails)": Expectation("churn v2 (fails)", CHURN, "Rejected"),
            "churn v3 (no report)": Expectation("churn v3 (no report)", CHURN, "Rejected"),
            "churn v4 (human approved)": Expectation(
                "churn v4 (human approved)", CHURN, "Approved", decided_by_registrar=False
            ),
            "fraud v1 (processing job)": Expectation("fraud v1 (processing job)", FRAUD, "Approved"),
            "fraud v2 (job failed)": Expectation(
                "fraud v2 (job failed)", FRAUD, "PendingManualApproval", metadata_keys=("registrar:verdict",)
            ),
        }
    )


def run_scenario(
    endpoint: str,
    *,
    on_event: Callable[[HandledEvent], None] | None = None,
    on_tick: Callable[[str], None] | None = None,
    sweep_interval: float = 2.0,
    timeout: float = 90.0,
) -> ScenarioResult:
    """Run the story against the emulator at ``endpoint`` and return what happened.

    Parameters
    ----------
    endpoint
        A running emulator (``registrar.emulator.start()``), with event emission on.
    on_event
        Told of each handled event as it happens.
    on_tick
        Told what the runner is waiting for (progress display).
    sweep_interval
        Seconds between sweeps (the deployed schedule is minutes).
    timeout
        Give up waiting after this many seconds; the result then says what is missing.
    """
    from registrar.local.topology import IDEMPOTENCY_TABLE, build_topology

    started = time.monotonic()
    _configure_environment(endpoint, IDEMPOTENCY_TABLE)  # before Powertools reads it on import
    from registrar import aws, observability
    from registrar.local.runner import LocalEventSourceMapping
    from registrar.queues import Queue

    aws.reset_clients()
    topology = build_topology(endpoint_url=endpoint, visibility_timeout=2)
    result = ScenarioResult()

    def count_call(service: str, operation: str, params: dict[str, Any]) -> None:
        result.calls[f"{service}:{operation}"] += 1
        if operation == "UpdateModelPackage":
            result.updates_per_package[str(params.get("ModelPackageArn"))] += 1

    aws.observe_calls(count_call)
    current_flow = threading.local()

    def listen(outcome: Outcome) -> None:
        handled = HandledEvent(flow=getattr(current_flow, "name", "?"), outcome=outcome)
        result.handled.append(handled)
        if on_event:
            on_event(handled)

    observability.listeners.append(listen)
    try:
        from handlers import approval, neo_registration, sweeper

        setup = _Setup(endpoint)
        register_scenario(setup, result)
        result.before = {label: setup.describe(arn) for label, arn in result.versions.items()}
        sqs = aws.client("sqs")
        mappings = {
            name: LocalEventSourceMapping(
                queue=Queue(url=flow.queue_url, client=sqs),
                queue_arn=flow.queue_arn,
                handler=handler,
                function_name=f"registrar-{name}",
            )
            for name, flow, handler in (
                ("approval", topology.flows["approval"], approval.handler),
                ("neo", topology.flows["neo"], neo_registration.handler),
            )
        }
        from registrar.local.runner import LocalLambdaContext

        last_sweep = 0.0
        quiet_since: float | None = None
        while time.monotonic() - started < timeout:
            now = time.monotonic()
            if now - last_sweep >= sweep_interval:
                current_flow.name = "sweep"
                sweeper.handler(
                    {"source": "aws.events", "detail-type": "Scheduled Event"}, LocalLambdaContext("registrar-sweeper")
                )
                result.sweeps += 1
                last_sweep = now
            busy = 0
            for name, mapping in mappings.items():
                current_flow.name = name
                busy += mapping.poll_once()
            in_queues = sum(sum(Queue(url=f.queue_url, client=sqs).depth()) for f in topology.flows.values())
            quiet = busy == 0 and in_queues == 0 and result.sweeps >= 2
            if quiet:
                result.after = {label: setup.describe(arn) for label, arn in result.versions.items()}
            if quiet and not result.mismatches():
                # Quiet for a whole sweep interval: a late compilation event would have shown up by now.
                quiet_since = quiet_since or now
                if now - quiet_since >= sweep_interval:
                    break
            else:
                quiet_since = None
            if busy == 0:
                if on_tick:
                    on_tick(f"waiting for events ({in_queues} in flight, {result.sweeps} sweeps)")
                time.sleep(0.2)
        result.after = {label: setup.describe(arn) for label, arn in result.versions.items()}
        for flow in topology.flows.values():
            for name, url in (
                ("queue", flow.queue_url),
                ("dlq", flow.dead_letter_url),
                ("rule-dlq", flow.rule_dead_letter_url),
            ):
                queue = Queue(url=url, client=sqs)
                visible, in_flight = queue.depth()
                bodies = [message["Body"] for message in queue.receive()] if visible else []
                if visible or in_flight:
                    result.leftover[f"{flow.name} {name}"] = bodies or ["(in flight)"] * in_flight
    finally:
        observability.listeners.remove(listen)
    result.seconds = time.monotonic() - started
    return result


def run_demo(*, keep: bool = False) -> int:
    """Start the emulator, run the scenario, and tell the story; 0 when every version ended as the policy says."""
    from registrar.demo_output import Story
    from registrar.emulator import start

    story = Story()
    emulator = start()
    story.started(emulator.endpoint)
    try:
        with story.progress() as tick:
            result = run_scenario(emulator.endpoint, on_event=story.event, on_tick=tick)
        story.summary(result)
        if keep:
            story.kept(emulator.endpoint)
            _wait_for_interrupt()
    finally:
        emulator.stop()
    return 0 if not result.mismatches() else 1


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
