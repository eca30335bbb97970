"""Several accounts, locally as deployed: registrar in the registry account, a workload account forwarding to it.

The registry's topology (its rules also match the workload's forwarded events), the registry's grants (bus policy,
function roles, the shared group's policy) and the workload's forwarder (evidence role, forwarding rules, sweeper)
are built on the emulator as the stacks deploy them (``registrar_dev.topology.build_cross_account``). A workload
pipeline registers versions into the registry's ``credit-risk`` group and evaluates and compiles them at home;
registrar runs in the registry account as its function roles and reads the evidence where it lies. An account the
deployment does not list tries to get in.

One scenario (module fixture) runs it all once; each test looks at one thing people would notice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import pytest

from registrar.outcome import Outcome
from registrar.settings import WorkloadAccount
from registrar_dev.emulator import Emulator
from registrar_dev.outcomes import listening
from registrar_dev.runner import flow_mappings, run_until_quiet
from registrar_dev.support import (
    ACCOUNT,
    REGION,
    XGBOOST_IMAGE,
    CallCounter,
    create_compilation_job,
    create_processing_job,
    emulator_client,
    emulator_clients,
    emulator_environment,
)
from registrar_dev.topology import (
    MAX_RECEIVE_COUNT,
    CrossAccount,
    Forwarding,
    Topology,
    Undelivered,
    build_cross_account,
    build_forwarding,
    build_topology,
    registry_bus,
)
from tests.integration.scenario import POLICY, REPORTS

REGISTRY = ACCOUNT
WORKLOAD = "111111111111"
UNLISTED = "999999999999"
GROUP = "credit-risk"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package-group/{GROUP}"
REGISTRY_BUS = registry_bus(REGISTRY, REGION)
EVIDENCE_BUCKET = "registrar-workload-evidence"  # the workload's bucket: its report and Neo output locations
SCRATCH_BUCKET = "registrar-workload-scratch"  # the workload's too, but no location of the deployment
UNLISTED_BUCKET = "registrar-unlisted-evidence"
WORKLOAD_LOCATIONS = WorkloadAccount(
    report_locations=[f"s3://{EVIDENCE_BUCKET}/reports/"], neo_output_locations=[f"s3://{EVIDENCE_BUCKET}/compiled/"]
)
PIPELINE_ROLE = f"arn:aws:iam::{WORKLOAD}:role/sagemaker-pipeline"
PASSING_REPORT = (REPORTS / "processing.json").read_bytes()  # auc 0.88, f1 0.7: the credit-risk rule approves it
FUNCTION_TIMEOUT = 2
# Each record failing for good is received MAX_RECEIVE_COUNT times, a visibility timeout apart; then margin.
DRAIN_TIMEOUT = MAX_RECEIVE_COUNT * FUNCTION_TIMEOUT + 30
COMPILATION = "credit-risk-1-ml-c5"


@dataclass
class Scene:
    """What the scenario left behind."""

    cross: CrossAccount
    topology: Topology
    unlisted: Forwarding
    versions: dict[str, str] = field(default_factory=dict)  # label -> ARN
    jobs: dict[str, str] = field(default_factory=dict)  # label -> processing job ARN
    after: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> DescribeModelPackage at the end
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # flow -> each event its function got
    handled: dict[str, list[Outcome]] = field(default_factory=dict)  # flow -> the outcomes its function logged
    assumed: dict[str, list[str]] = field(default_factory=dict)  # flow -> the roles its function assumed
    dead_letters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # flow -> the events in its DLQ
    swept: int = 0  # compilation jobs the workload's sweeper published
    put_directly: dict[str, Any] = field(default_factory=dict)  # the unlisted account's PutEvents on the registry's bus


def _version(sagemaker: Any, group: str, model: str) -> str:
    """Register a version of ``group`` (a name, or another account's group ARN) whose model is ``model``."""
    arn: str = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {"Image": XGBOOST_IMAGE, "ModelDataUrl": model, "Framework": "XGBOOST", "FrameworkVersion": "1.7"}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        },
    )["ModelPackageArn"]
    return arn


def _evaluate(clients: Any, name: str, version: str, model: str, output: str) -> str:
    """An evaluation job tagged with ``version`` and reading ``model``, whose (passing) report is in ``output``.

    The model is named, not read from the version: the group's policy lets the workload register versions and
    nothing more, so it cannot describe one.
    """
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    clients.s3.put_object(Bucket=bucket, Key=f"{prefix}evaluation.json", Body=PASSING_REPORT)
    create_processing_job(clients.sagemaker, name, version, output, role=PIPELINE_ROLE, model_uri=model)
    arn: str = clients.sagemaker.describe_processing_job(ProcessingJobName=name)["ProcessingJobArn"]
    return arn


def _register_and_evaluate(scene: Scene) -> None:
    """What the workload's pipeline, and an account nobody listed, do."""
    workload = emulator_clients(scene.cross.endpoint_url, account=WORKLOAD)
    for bucket in (EVIDENCE_BUCKET, SCRATCH_BUCKET):
        workload.s3.create_bucket(Bucket=bucket)
    # A version registered into the registry's group from the workload, evaluated there, its report where allowed.
    model = f"s3://{EVIDENCE_BUCKET}/models/{GROUP}/1/model.tar.gz"
    scene.versions["passing"] = _version(workload.sagemaker, GROUP_ARN, model)
    scene.jobs["passing"] = _evaluate(
        workload, "credit-risk-eval-1", scene.versions["passing"], model, f"s3://{EVIDENCE_BUCKET}/reports/{GROUP}/1/"
    )
    # Another, whose job wrote its report in a bucket the deployment does not list.
    model = f"s3://{EVIDENCE_BUCKET}/models/{GROUP}/2/model.tar.gz"
    scene.versions["elsewhere"] = _version(workload.sagemaker, GROUP_ARN, model)
    scene.jobs["elsewhere"] = _evaluate(
        workload, "credit-risk-eval-2", scene.versions["elsewhere"], model, f"s3://{SCRATCH_BUCKET}/{GROUP}/2/"
    )
    # A version of an account nobody listed, which a job of the workload is tagged with.
    unlisted = emulator_clients(scene.cross.endpoint_url, account=UNLISTED)
    unlisted.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    model = f"s3://{EVIDENCE_BUCKET}/models/{GROUP}/unlisted/model.tar.gz"
    scene.versions["unlisted"] = _version(unlisted.sagemaker, GROUP, model)
    scene.jobs["unlisted"] = _evaluate(
        workload, "credit-risk-eval-unlisted", scene.versions["unlisted"], model, f"s3://{EVIDENCE_BUCKET}/reports/x/"
    )
    # The unlisted account forwards, with a copy of the forwarder stack: an evaluation of its own tagged with the
    # held version, and a Compilation Job State Change under registrar's source naming the workload's compilation.
    unlisted.s3.create_bucket(Bucket=UNLISTED_BUCKET)
    scene.jobs["forged"] = _evaluate(
        unlisted, "credit-risk-eval-2", scene.versions["elsewhere"], model, f"s3://{UNLISTED_BUCKET}/{GROUP}/2/"
    )
    detail = {"CompilationJobName": COMPILATION, "CompilationJobStatus": "COMPLETED"}
    unlisted.events.put_events(
        Entries=[{"Source": "registrar", "DetailType": "Compilation Job State Change", "Detail": json.dumps(detail)}]
    )
    # And it puts the same two kinds of event on the registry's bus directly, naming the bus by its ARN.
    processing = {"ProcessingJobName": "credit-risk-eval-2", "ProcessingJobStatus": "Completed"}
    answer = unlisted.events.put_events(
        Entries=[
            {
                "Source": "aws.sagemaker",
                "DetailType": "SageMaker Processing Job State Change",
                "Resources": [scene.jobs["forged"]],
                "Detail": json.dumps(processing),
                "EventBusName": REGISTRY_BUS,
            },
            {
                "Source": "registrar",
                "DetailType": "Compilation Job State Change",
                "Detail": json.dumps(detail),
                "EventBusName": REGISTRY_BUS,
            },
        ]
    )
    scene.put_directly = {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def _run(scene: Scene, flow: str, emulator: Emulator) -> None:
    """Run ``flow``'s function, as its function role in the registry account, until its queue is quiet."""
    handled = scene.handled.setdefault(flow, [])
    received = scene.received.setdefault(flow, [])
    environment = {
        "REGISTRAR_TABLE_NAME": scene.topology.table_name,
        "REGISTRAR_POLICY_PARAMETER": str(scene.topology.policy_parameter),
        "REGISTRAR_MANAGED_GROUPS": f"{GROUP},churn-*",
        "REGISTRAR_REPORT_LOCATIONS": "s3://registrar-registry-reports/evaluations/",
        "REGISTRAR_NEO_OUTPUT_LOCATIONS": "s3://registrar-registry-reports/compiled/",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        **scene.cross.environment(flow),
    }
    with (
        emulator_environment(emulator.endpoint, emulator.region, **environment),
        listening(lambda outcome, _: handled.append(outcome)),
    ):
        calls = CallCounter().start()
        sqs = emulator_client("sqs", emulator.endpoint)  # not registrar's: the drain's calls are not counted
        mapping = flow_mappings(scene.topology, sqs)[flow]
        function = mapping.handler

        def invoke(event: dict[str, Any], context: Any) -> Any:
            received.extend(json.loads(record["body"]) for record in event["Records"])
            return function(event, context)

        mapping.handler = invoke
        run_until_quiet({flow: mapping}, timeout=DRAIN_TIMEOUT)
        scene.assumed[flow] = [params["RoleArn"] for params in calls.of("AssumeRole")]


@pytest.fixture(scope="module")
def scene(emulator: Emulator) -> Iterator[Scene]:
    emulator.reset()
    emulator.emit_events = True
    with emulator_environment(emulator.endpoint, emulator.region):
        # GIVEN the registry stack and the workload's forwarder stack, as deployed, and a copy of the forwarder
        # stack in an account the deployment does not list
        topology = build_topology(
            endpoint_url=emulator.endpoint,
            visibility_timeout=FUNCTION_TIMEOUT,
            function_timeout=FUNCTION_TIMEOUT,
            policy_file=POLICY,
            workloads=[WORKLOAD],
        )
        emulator_client("sagemaker", emulator.endpoint).create_model_package_group(ModelPackageGroupName=GROUP)
        cross = build_cross_account(emulator.endpoint, workloads={WORKLOAD: WORKLOAD_LOCATIONS}, groups=[GROUP])
        scene = Scene(cross=cross, topology=topology, unlisted=build_forwarding(emulator.endpoint, account=UNLISTED))
        # WHEN the pipelines register and evaluate
        _register_and_evaluate(scene)
    # AND registrar's approval function handles what reached its queue
    _run(scene, "approval", emulator)
    with emulator_environment(emulator.endpoint, emulator.region):
        # AND the workload compiles the approved version, and its sweeper announces the job on its own bus
        create_compilation_job(
            emulator_client("sagemaker", emulator.endpoint, account=WORKLOAD),
            COMPILATION,
            "ml_c5",
            f"s3://{EVIDENCE_BUCKET}/compiled/{COMPILATION}/",
            role=PIPELINE_ROLE,
            package_arn=scene.versions["passing"],
        )
        scene.swept = cross.sweep(WORKLOAD).published
    # AND registrar's Neo function handles what reached its queue
    _run(scene, "neo", emulator)
    with emulator_environment(emulator.endpoint, emulator.region):
        registry = emulator_client("sagemaker", emulator.endpoint)
        unlisted = emulator_client("sagemaker", emulator.endpoint, account=UNLISTED)
        for label, arn in scene.versions.items():
            described = (unlisted if label == "unlisted" else registry).describe_model_package(ModelPackageName=arn)
            described.pop("ResponseMetadata", None)
            scene.after[label] = described
        sqs = emulator_client("sqs", emulator.endpoint)
        for flow in ("approval", "neo"):
            messages = sqs.receive_message(
                QueueUrl=topology.flows[flow].dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            scene.dead_letters[flow] = [json.loads(message["Body"]) for message in messages]
    yield scene
    emulator.reset()


def _outcomes_about(scene: Scene, flow: str, version: str) -> list[Outcome]:
    """The outcomes ``flow``'s function logged about ``version``."""
    return [outcome for outcome in scene.handled[flow] if outcome.model_package_arn == version]


def _received_about(scene: Scene, flow: str, resource: str) -> list[dict[str, Any]]:
    """The events ``flow``'s function was invoked with that name ``resource`` (a job's ARN), once per receive."""
    return [event for event in scene.received[flow] if resource in event.get("resources", [])]


# (a) A version registered from the workload, decided in the registry from the workload's evidence ---------------


def test_a_version_registered_from_the_workload_belongs_to_the_registry(scene: Scene) -> None:
    # THEN the versions the workload registered by the group's ARN are the registry's own
    registered = {label: scene.versions[label] for label in ("passing", "elsewhere")}
    versions = f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package/{GROUP}"
    assert registered == {"passing": f"{versions}/1", "elsewhere": f"{versions}/2"}


def test_the_registry_approves_it_from_the_report_in_the_workloads_bucket(scene: Scene) -> None:
    # THEN the workload's evaluation job, forwarded, decided the version as the credit-risk rule says: Approved,
    # with the numbers of the report that lies in the workload's bucket
    package = scene.after["passing"]
    metadata = package["CustomerMetadataProperties"]
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"].startswith("registrar: Approved — auc 0.88 ≥ min 0.8")
    assert metadata["registrar:evidence"] == f"s3://{EVIDENCE_BUCKET}/reports/{GROUP}/1/evaluation.json"
    assert (metadata["registrar:metric:auc"], metadata["registrar:metric:f1"]) == ("0.88", "0.7")
    decided = [(o.outcome, o.verdict) for o in _outcomes_about(scene, "approval", scene.versions["passing"])]
    assert decided == [("skipped", None), ("updated", "Approved")]  # its registration, then its job


def test_the_workloads_evidence_is_read_through_its_evidence_role_assumed_once_per_function(
    scene: Scene, emulator: Emulator
) -> None:
    # THEN each function assumed the workload's evidence role once, however many of the workload's events it handled
    evidence_role = scene.cross.evidence_roles[WORKLOAD]
    assert evidence_role == f"arn:aws:iam::{WORKLOAD}:role/registrar-evidence-reader"
    assert scene.assumed == {"approval": [evidence_role], "neo": [evidence_role]}
    from_workload = [event for event in scene.received["approval"] if event["account"] == WORKLOAD]
    assert len(from_workload) == 1 + 2 * MAX_RECEIVE_COUNT  # the passing job, and two jobs on each of their receives
    assert [event["account"] for event in scene.received["neo"]] == [WORKLOAD]
    # AND the jobs exist in the workload alone: the registry's own credentials cannot describe them
    registry = emulator_client("sagemaker", emulator.endpoint)
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationException"):
        registry.describe_processing_job(ProcessingJobName="credit-risk-eval-1")


# (b) The workload's compilation, swept in the workload and forwarded, attached in the registry -------------------


def test_the_workloads_compilation_is_attached_to_the_version(scene: Scene) -> None:
    # THEN the workload's sweeper published the job, and the Neo function attached the compiled model, which lies
    # in the workload's Neo output location
    assert scene.swept == 1
    package = scene.after["passing"]
    [specification] = package["AdditionalInferenceSpecifications"]
    assert specification["Containers"][0]["ModelDataUrl"].startswith(f"s3://{EVIDENCE_BUCKET}/compiled/{COMPILATION}/")
    assert package["CustomerMetadataProperties"]["registrar:neo:ml_c5"].startswith(f"attached {COMPILATION} ")
    assert [(o.outcome, o.verdict) for o in scene.handled["neo"]] == [("updated", "Attached")]


# (c) What an account nobody listed, or a deployment's mistake, cannot do ----------------------------------------


def test_forged_events_from_an_unlisted_account_are_refused_by_the_bus_policy(scene: Scene) -> None:
    # THEN both events the unlisted account forwarded (an evaluation of its own, a Compilation Job State Change under
    # registrar's source) were refused by the registry's bus policy, into its own dead-letter queues
    refused = scene.unlisted.undelivered()
    assert sorted((u.rule, u.error_code) for u in refused) == [
        ("CompilationJobStateChange", "AccessDenied"),
        ("SageMakerProcessingJobStateChange", "AccessDenied"),
    ]
    assert all(_refusal_names_the_bus(u) for u in refused)
    assert {u.event["account"] for u in refused} == {UNLISTED}
    # AND no function was ever invoked with an event of the unlisted account
    assert [event for events in scene.received.values() for event in events if event["account"] == UNLISTED] == []
    # AND the version its evaluation named was not approved (it is held, for the reason of the next test)
    assert scene.after["elsewhere"]["ModelApprovalStatus"] == "PendingManualApproval"


def _refusal_names_the_bus(undelivered: Undelivered) -> bool:
    return f"events:PutEvents on resource: arn:aws:events:{REGION}:{REGISTRY}:event-bus/default" in (
        undelivered.error_message
    )


def test_events_an_unlisted_account_puts_on_the_registrys_bus_directly_are_refused_and_change_nothing(
    scene: Scene,
) -> None:
    # THEN both entries the unlisted account put on the registry's bus by its ARN failed, as PutEvents reports a
    # refused entry: the SageMaker event for its source (only SageMaker publishes aws.sagemaker), registrar's
    # Compilation Job State Change because the registry's bus policy does not list the account
    assert scene.put_directly["FailedEntryCount"] == 2
    sagemaker, compilation = scene.put_directly["Entries"]
    assert (sagemaker["ErrorCode"], sagemaker["ErrorMessage"]) == (
        "NotAuthorizedForSourceException",
        "Not authorized for the source.",
    )
    assert "EventId" not in sagemaker
    assert compilation["ErrorCode"] == "AccessDeniedException" and "EventId" not in compilation
    assert compilation["ErrorMessage"].startswith(
        f"User: arn:aws:iam::{UNLISTED}:root is not authorized to perform: events:PutEvents on resource: {REGISTRY_BUS}"
    )
    # AND neither reached a function, nor the unlisted account's own bus (its forwarders refused only what they
    # forwarded), and the Neo function attached the workload's compilation once, from the workload's event
    assert [event for events in scene.received.values() for event in events if event["account"] == UNLISTED] == []
    assert len(scene.unlisted.undelivered()) == 2
    assert [event["account"] for event in scene.received["neo"]] == [WORKLOAD]
    assert [(o.outcome, o.verdict) for o in scene.handled["neo"]] == [("updated", "Attached")]
    assert scene.after["elsewhere"]["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_workload_job_tagged_with_an_unlisted_accounts_version_is_invalid_and_changes_nothing(
    scene: Scene,
) -> None:
    # THEN the job's event was invalid on each of its receives, then dead-lettered, and the version is untouched
    assert len(_received_about(scene, "approval", scene.jobs["unlisted"])) == MAX_RECEIVE_COUNT
    outcomes = _outcomes_about(scene, "approval", scene.versions["unlisted"])
    assert [o.outcome for o in outcomes] == ["invalid"] * MAX_RECEIVE_COUNT
    assert (
        f"is in account {UNLISTED}: registrar manages the model package groups of account {REGISTRY} alone"
        in (outcomes[0].reasons[0])
    )
    assert scene.jobs["unlisted"] in _dead_lettered_jobs(scene)
    package = scene.after["unlisted"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ApprovalDescription" not in package and "CustomerMetadataProperties" not in package


def test_a_report_outside_the_configured_locations_holds_the_version_with_its_reason(scene: Scene) -> None:
    # THEN the version whose report lies in a bucket the deployment does not list is held, never approved, says why,
    # and its event is dead-lettered for an operator to fix the configuration and redrive
    package = scene.after["elsewhere"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"]["registrar:verdict"] == "Held"
    assert (
        f"s3://{SCRATCH_BUCKET}/{GROUP}/2/evaluation.json is outside the allowed report locations"
        in (package["ApprovalDescription"])
    )
    assert len(_received_about(scene, "approval", scene.jobs["elsewhere"])) == MAX_RECEIVE_COUNT
    assert scene.jobs["elsewhere"] in _dead_lettered_jobs(scene)


def _dead_lettered_jobs(scene: Scene) -> list[str]:
    return [event["resources"][0] for event in scene.dead_letters["approval"]]


def test_only_those_two_are_dead_lettered_and_the_workload_forwarded_everything(scene: Scene) -> None:
    # THEN the approval DLQ holds the two jobs' events, forwarded from the workload; the Neo DLQ nothing; and the
    # workload's forwarding rules delivered every event to the registry
    assert sorted(_dead_lettered_jobs(scene)) == sorted([scene.jobs["elsewhere"], scene.jobs["unlisted"]])
    assert {event["account"] for event in scene.dead_letters["approval"]} == {WORKLOAD}
    assert scene.dead_letters["neo"] == []
    assert scene.cross.forwarders[WORKLOAD].undelivered() == []
