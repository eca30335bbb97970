"""Poison and permanently failing events, through the deployed topology run locally: classified, logged, counted,
and in the dead-letter queue after their receives — never retried forever, never dropped, nothing written.

One scenario (module fixture) runs the approval and Neo queues until they are empty, with a version whose
UpdateModelPackage is always refused (AccessDenied), and poison of every kind beside one healthy event.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from handlers import approval, neo_registration
from registrar import observability
from registrar_dev.emulator import Emulator
from registrar_dev.faults import FaultInjector
from registrar_dev.support import ACCOUNT, REGION, CallCounter
from registrar_dev.topology import IDEMPOTENCY_TABLE, MAX_RECEIVE_COUNT, build_topology
from tests.reliability.world import ROLE, World, compilation_event, drain, envelope, lambda_environment

FUNCTION_TIMEOUT = 6
# Each poison record is received MAX_RECEIVE_COUNT times, a visibility timeout apart; then the handling itself.
DRAIN_TIMEOUT = MAX_RECEIVE_COUNT * FUNCTION_TIMEOUT + 60
MISSING_VERSION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/99"

# Poison of each kind: label -> (flow, why it can never succeed).
POISON = {
    "not json": "approval",
    "unknown detail-type": "approval",
    "forged source": "approval",
    "job tagged with a missing version": "approval",
    "compilation of a missing version": "neo",
    "compilation job that does not exist": "neo",
}


@dataclass
class Scenario:
    keys: dict[str, str]  # label -> the key each delivery is counted under
    receives: Counter[str]
    dead: dict[str, set[str]]  # flow -> keys in its DLQ
    update_calls: int
    logs: list[dict[str, Any]]
    metrics: Counter[str]


def _key(body: str) -> str:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return body
    return str(event.get("id")) if isinstance(event, dict) else body


def _counting(handler: Callable[..., Any], receives: Counter[str]) -> Callable[..., Any]:
    def counted(event: dict[str, Any], context: Any) -> Any:
        for record in event["Records"]:
            receives[_key(record["body"])] += 1
        return handler(event, context)

    return counted


@pytest.fixture(scope="module")
def scenario(emulator: Emulator) -> Iterator[Scenario]:
    emulator.reset()
    emulator.emit_events = True
    logger = observability.logger
    buffer, stdout = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    with lambda_environment(emulator, REGISTRAR_TABLE_NAME=IDEMPOTENCY_TABLE), contextlib.redirect_stdout(stdout):
        world = World.create(emulator, table="registrar-dead-letters-unused")
        # A batch that outlives the function's timeout fails whole, and the healthy event must be handled once:
        # the timeout bounds a batch of a dozen records that take 0.1 s each, and a full collection can stop the
        # process for over a second on a loaded 2-core machine; 6 s, and records come back after as long.
        topology = build_topology(
            endpoint_url=emulator.endpoint, visibility_timeout=FUNCTION_TIMEOUT, function_timeout=FUNCTION_TIMEOUT
        )
        calls = CallCounter().start()
        injector = FaultInjector().install().always_fail("access_denied", operation="UpdateModelPackage")
        keys = _publish(world, topology)
        receives: Counter[str] = Counter()
        drained = drain(
            topology,
            {"approval": _counting(approval.handler, receives), "neo": _counting(neo_registration.handler, receives)},
            timeout=DRAIN_TIMEOUT,
        )
        injector.uninstall()
    logging.getLogger(logger.name).removeHandler(handler)
    metrics: Counter[str] = Counter()
    for line in stdout.getvalue().splitlines():
        if line.startswith('{"_aws"'):
            emf = json.loads(line)
            for metric in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                metrics[metric["Name"]] += int(sum(emf[metric["Name"]]))
    yield Scenario(
        keys=keys,
        receives=receives,
        dead={flow: {_key(m["Body"]) for m in messages} for flow, messages in drained.dead_letters.items()},
        update_calls=calls.count("UpdateModelPackage"),
        logs=[json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()],
        metrics=metrics,
    )


def _publish(world: World, topology: Any) -> dict[str, str]:
    """Put every case on its way; returns label -> key (the event id, or the raw body)."""
    sqs = boto3.client("sqs", endpoint_url=world.emulator.endpoint, region_name=REGION)
    approval_url = topology.flows["approval"].queue_url
    neo_url = topology.flows["neo"].queue_url
    keys: dict[str, str] = {}

    def send(label: str, url: str, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        sqs.send_message(QueueUrl=url, MessageBody=text)
        keys[label] = _key(text)

    send("not json", approval_url, '{"source": "aws.sagemaker", "detail-type": ')
    send("unknown detail-type", approval_url, envelope("aws.sagemaker", "SageMaker Training Job State Change", {}))
    forged = envelope(
        "registrar",
        "SageMaker Model Package State Change",
        {"ModelPackageArn": MISSING_VERSION, "ModelApprovalStatus": "Approved"},
    )
    send("forged source", approval_url, forged)
    # Events that reach the approval queue through the deployed rules, as SageMaker emits them:
    denied = world.package()  # passing report; its update is always refused
    sandbox = world.package("sandbox-model")  # no rule matches: skipped, handled, not poison
    world.processing_job(
        "eval-of-a-missing-version",
        linked_to=MISSING_VERSION,
        model="s3://registrar-reliability-reports/models/99.tar.gz",
    )
    keys["denied"] = world.creation_event(denied)["id"]
    keys["healthy"] = world.creation_event(sandbox)["id"]
    keys["job tagged with a missing version"] = world.processing_event("eval-of-a-missing-version")["id"]
    world.sagemaker.create_compilation_job(
        CompilationJobName="compiled-for-a-missing-version",
        RoleArn=ROLE,
        InputConfig={
            "S3Uri": "s3://registrar-reliability-reports/models/model.tar.gz",
            "Framework": "PYTORCH",
            "FrameworkVersion": "1.13",
            "DataInputConfig": '{"input0": [1, 3, 224, 224]}',
        },
        OutputConfig={"S3OutputLocation": "s3://registrar-reliability-reports/compiled/", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
        Tags=[{"Key": "registrar:model-package-arn", "Value": MISSING_VERSION}],
    )
    job = world.sagemaker.describe_compilation_job(CompilationJobName="compiled-for-a-missing-version")
    send("compilation of a missing version", neo_url, compilation_event(job))
    # A job that agrees with itself (its name is its ARN's) but was never created.
    ghost_arn = job["CompilationJobArn"].rsplit("/", 1)[0] + "/never-created"
    ghost = dict(job, CompilationJobName="never-created", CompilationJobArn=ghost_arn)
    send("compilation job that does not exist", neo_url, compilation_event(ghost))
    return keys


@pytest.mark.parametrize("label", sorted(POISON))
def test_poison_ends_in_its_flows_dead_letter_queue(label: str, scenario: Scenario) -> None:
    # THEN the poison is in the DLQ of the queue it came in on
    assert scenario.keys[label] in scenario.dead[POISON[label]]


@pytest.mark.parametrize("label", [*sorted(POISON), "denied"])
def test_failing_event_is_received_exactly_max_receive_count_times(label: str, scenario: Scenario) -> None:
    # THEN it was handed to the function once per receive, and not once more
    assert scenario.receives[scenario.keys[label]] == MAX_RECEIVE_COUNT


def test_permanently_failing_event_ends_in_the_dead_letter_queue(scenario: Scenario) -> None:
    assert scenario.keys["denied"] in scenario.dead["approval"]


def test_healthy_event_beside_the_poison_is_handled_once(scenario: Scenario) -> None:
    # THEN the event of the version no rule matches was handled on its first receive, and is in no DLQ
    assert scenario.receives[scenario.keys["healthy"]] == 1
    assert all(scenario.keys["healthy"] not in dead for dead in scenario.dead.values())


def test_nothing_but_the_refused_update_is_attempted(scenario: Scenario) -> None:
    # THEN the only UpdateModelPackage calls are the denied version's, one per receive: poison writes nothing
    assert scenario.update_calls == MAX_RECEIVE_COUNT


def test_unparseable_events_are_logged_as_poison_with_their_reason(scenario: Scenario) -> None:
    # THEN each receive of the three unparseable events logged "poison event" with why
    reasons = [
        line["reason"] for line in scenario.logs if line["message"] == "poison event: not an event this flow handles"
    ]
    assert len(reasons) == 3 * MAX_RECEIVE_COUNT
    assert sum("is not an event this flow handles" in reason for reason in reasons) == 2 * MAX_RECEIVE_COUNT


def test_unlinkable_events_are_logged_as_poison_with_their_reason(scenario: Scenario) -> None:
    # THEN each receive of the three events naming nothing that exists logged "poison event" saying what is missing
    poison = [
        line for line in scenario.logs if line["message"] == "poison event: it names nothing registrar can act on"
    ]
    assert len(poison) == 3 * MAX_RECEIVE_COUNT
    assert all("not found" in line["reason"] for line in poison)


def test_permanent_failure_is_logged_with_its_error_on_every_receive(scenario: Scenario) -> None:
    failures = [line for line in scenario.logs if line["message"] == "event failed"]
    assert [line["error"] for line in failures] == ["AccessDeniedException"] * MAX_RECEIVE_COUNT
    assert sorted(line["receives"] for line in failures) == [str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)]


def test_poison_and_failures_are_counted(scenario: Scenario) -> None:
    # THEN the metrics the dashboard reads count every receive: six poison events, one refused update
    assert scenario.metrics["EventInvalid"] == 6 * MAX_RECEIVE_COUNT
    assert scenario.metrics["EventFailed"] == MAX_RECEIVE_COUNT
