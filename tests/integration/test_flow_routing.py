"""Which flow handles an event: the CLI picks it by detail-type; each function takes its own flow's events only.

- Every sample under events/ through `registrar plan` and `registrar apply`: the sample's flow (the
  directory it is documented in) is the one that reads SageMaker, and the other flow makes none of its calls.
- An event of the other flow in a function's SQS batch is reported failed (it is poison to that
  function) before registrar's clients make a single AWS call; the rest of the batch is handled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from handlers import approval, neo_registration
from registrar_dev.emulator import Emulator
from registrar_dev.support import APPROVAL_SAMPLES, NEO_SAMPLES, CallCounter, fresh_container, sqs_event
from tests.integration.scenario import (
    EVENTS,
    LAMBDA_ENVIRONMENT,
    POLICY,
    Clients,
    build_approval_state,
    build_neo_state,
    create_idempotency_table,
    emulator_environment,
    lambda_context,
    package_arn,
    read_event,
    run_cli,
    specification_name,
)

TABLE = "registrar-routing-idempotency"
POLICY_VARIABLES = ("REGISTRAR_POLICY", "REGISTRAR_POLICY_FILE", "REGISTRAR_POLICY_PARAMETER")
# Every sample of the approval and Neo flows, as (flow, name): the flow is the directory the sample is documented
# in (events/<flow>/README.md). The deployment flow's samples are run in test_deployment_flow.py; the decisions'
# (events/decisions/) are registrar's own output, which no flow consumes.
ROUTED_FLOWS = ("approval", "neo")
SAMPLES = sorted((path.parent.name, path.stem) for path in EVENTS.glob("*/*.json") if path.parent.name in ROUTED_FLOWS)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
HANDLERS: dict[str, tuple[Handler, str]] = {
    "approval": (approval.handler, "registrar-approval"),
    "neo": (neo_registration.handler, "registrar-neo-registration"),
}


def sample_body(flow: str, name: str) -> str:
    return (EVENTS / flow / f"{name}.json").read_text()


def first_read(flow: str, name: str) -> tuple[str, dict[str, str]]:
    """The SageMaker call the sample's flow starts with, on what the sample names (events/<flow>/README.md)."""
    detail = read_event(EVENTS / flow / f"{name}.json")["detail"]
    if flow == "neo":
        return "DescribeCompilationJob", {"CompilationJobName": detail["CompilationJobName"]}
    if "ProcessingJobName" in detail:
        return "DescribeProcessingJob", {"ProcessingJobName": detail["ProcessingJobName"]}
    return "DescribeModelPackage", {"ModelPackageName": detail["ModelPackageArn"]}


def sagemaker_operations(calls: CallCounter) -> list[str]:
    return [operation for service, operation, _ in calls.made if service == "sagemaker"]


@pytest.fixture
def container(aws: Emulator) -> Iterator[None]:
    """A new Lambda container for the test: no settings, flow or client an earlier test cached."""
    fresh_container()
    yield
    fresh_container()


@pytest.fixture
def calls(container: None) -> CallCounter:
    """AWS calls registrar's clients make during the test (started after the clients were rebuilt)."""
    return CallCounter().start()


@pytest.fixture
def clients(aws: Emulator) -> Clients:
    return Clients.of(aws)


# `registrar plan` and `registrar apply`: the flow by detail-type ------------------------------------------


def test_every_sample_is_routed() -> None:
    # GIVEN/WHEN the samples under events/ THEN they are the documented ones, each in its flow's directory
    assert sorted(SAMPLES) == sorted(
        [("approval", name) for name in APPROVAL_SAMPLES] + [("neo", name) for name in NEO_SAMPLES]
    )


@dataclass(frozen=True)
class Routed:
    """One sample through `registrar plan|apply`, alone against its documented state."""

    arn: str | None  # the package the sample is about
    status: int
    printed: list[dict[str, Any]]
    stderr: str
    made: list[tuple[str, str, dict[str, Any]]]  # every AWS call registrar's clients made


@pytest.fixture(scope="module")
def routed(emulator: Emulator) -> dict[tuple[str, str, str], Routed]:
    """Every sample through `registrar plan` and `registrar apply`, each on a fresh documented state.

    A policy is given for an approval event and none at all for a Neo one (the Neo flow must not need one).
    """
    runs: dict[tuple[str, str, str], Routed] = {}
    with emulator_environment(emulator), pytest.MonkeyPatch.context() as monkeypatch:
        for variable in POLICY_VARIABLES:
            monkeypatch.delenv(variable, raising=False)
        clients, calls = Clients.of(emulator), CallCounter().start()
        for command in ("plan", "apply"):
            for flow, name in SAMPLES:
                emulator.reset()
                if flow == "approval":
                    arn: str | None = build_approval_state(clients)[name]
                    policy = ["--policy", str(POLICY)]
                else:
                    build_neo_state(clients)
                    arn = None if name == "unlinked" else package_arn("churn-model", 1)
                    policy = []
                calls.clear()
                status, printed, stderr = run_cli(command, str(EVENTS / flow / f"{name}.json"), *policy)
                runs[command, flow, name] = Routed(arn, status, printed, stderr, list(calls.made))
    return runs


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize(("flow", "name"), SAMPLES, ids=[f"{flow}/{name}" for flow, name in SAMPLES])
def test_cli_hands_each_sample_to_its_flow(
    flow: str, name: str, command: str, routed: dict[tuple[str, str, str], Routed]
) -> None:
    # GIVEN the state the sample's README documents
    # WHEN `registrar plan|apply <sample>` ran
    run = routed[command, flow, name]

    # THEN the sample's flow read what the sample names first, and the other flow made none of its reads
    assert (run.status, len(run.printed)) == (0, 1), run.stderr
    sagemaker = [(operation, params) for service, operation, params in run.made if service == "sagemaker"]
    assert sagemaker[0] == first_read(flow, name)
    operations = {operation for operation, _ in sagemaker}
    if flow == "approval":
        assert "DescribeCompilationJob" not in operations
    else:
        assert "DescribeProcessingJob" not in operations
        # No report read, no policy read; an apply that writes announces the write (a Registrar Decision).
        wrote = any(operation == "UpdateModelPackage" for operation, _ in sagemaker)
        assert {service for service, _, _ in run.made} == {"sagemaker", *(["eventbridge"] if wrote else [])}

    # AND it printed the outcome for the sample's package; only `apply` of an update wrote, once
    [outcome] = run.printed
    assert outcome["model_package_arn"] == run.arn
    writes = 1 if command == "apply" and outcome["outcome"] == "updated" else 0
    assert sum(operation == "UpdateModelPackage" for operation, _ in sagemaker) == writes


# A function given the other flow's event -----------------------------------------------------------------


@pytest.fixture
def deployed(container: None, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> str:
    """The functions' environment, the idempotency table included (created, and configured)."""
    for variable, value in LAMBDA_ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    create_idempotency_table(clients, TABLE)
    monkeypatch.setenv("REGISTRAR_TABLE_NAME", TABLE)
    return TABLE


WRONG_FLOW = [("approval", ("neo", name)) for name in NEO_SAMPLES] + [
    ("neo", ("approval", name)) for name in APPROVAL_SAMPLES
]


@dataclass(frozen=True)
class Misrouted:
    """A function invoked with one record: a sample of the other flow."""

    message_id: str
    response: dict[str, Any]
    made: list[tuple[str, str, dict[str, Any]]]  # every AWS call registrar's clients made during the invocation


@pytest.fixture(scope="module")
def misrouted(emulator: Emulator) -> dict[tuple[str, tuple[str, str]], Misrouted]:
    """Each function, with its idempotency table, invoked with each sample of the other flow."""
    runs: dict[tuple[str, tuple[str, str]], Misrouted] = {}
    with emulator_environment(emulator, REGISTRAR_TABLE_NAME=TABLE, **LAMBDA_ENVIRONMENT):
        emulator.reset()
        create_idempotency_table(Clients.of(emulator), TABLE)
        calls = CallCounter().start()
        for function, sample in WRONG_FLOW:
            handler, function_name = HANDLERS[function]
            event = sqs_event([sample_body(*sample)])
            calls.clear()
            response = handler(event, lambda_context(function_name))
            runs[function, sample] = Misrouted(event["Records"][0]["messageId"], response, list(calls.made))
    return runs


@pytest.mark.parametrize(
    ("function", "sample"), WRONG_FLOW, ids=[f"{function}-gets-{flow}/{name}" for function, (flow, name) in WRONG_FLOW]
)
def test_a_function_reports_the_other_flows_event_failed_without_an_aws_call(
    function: str, sample: tuple[str, str], misrouted: dict[tuple[str, tuple[str, str]], Misrouted]
) -> None:
    # GIVEN a function with its idempotency table
    # WHEN a sample of the other flow came in its SQS batch
    run = misrouted[function, sample]

    # THEN the record is reported failed (poison to this function), and registrar's clients made no AWS call:
    # not SageMaker, not the idempotency table
    assert run.response == {"batchItemFailures": [{"itemIdentifier": run.message_id}]}
    assert run.made == []


def test_the_approval_function_handles_its_own_event_beside_a_compilation_event(
    deployed: str, clients: Clients, calls: CallCounter
) -> None:
    # GIVEN churn-model/1 pending with a passing report, and a batch of a compilation event and passing.json
    arns = build_approval_state(clients)
    event = sqs_event([sample_body("neo", "completed-ml-c5"), sample_body("approval", "passing")])

    # WHEN the approval function is invoked
    response = approval.handler(event, lambda_context("registrar-approval"))

    # THEN only the compilation event is reported failed; passing.json approved its version, in one write
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert clients.describe(arns["passing"])["ModelApprovalStatus"] == "Approved"
    assert calls.count("UpdateModelPackage") == 1
    assert "DescribeCompilationJob" not in sagemaker_operations(calls)


def test_the_neo_function_handles_its_own_event_beside_a_model_package_event(
    deployed: str, clients: Clients, calls: CallCounter
) -> None:
    # GIVEN churn-model/1 and its ml_c5 job, and a batch of passing.json and the job's event
    build_neo_state(clients)
    event = sqs_event([sample_body("approval", "passing"), sample_body("neo", "completed-ml-c5")])

    # WHEN the Neo registration function is invoked
    response = neo_registration.handler(event, lambda_context("registrar-neo-registration"))

    # THEN only the model package event is reported failed; the job's specification was attached, in one write
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    described = clients.describe(package_arn("churn-model", 1))
    attached = [spec["Name"] for spec in described["AdditionalInferenceSpecifications"]]
    assert attached == [specification_name("churn-model-1-ml-c5", "ml_c5")]
    assert calls.count("UpdateModelPackage") == 1
