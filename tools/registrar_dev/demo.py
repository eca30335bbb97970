"""``registrar demo``: the whole automation on the embedded emulator, event by event, as in AWS.

The scenario registers a realistic set of model versions through ordinary SageMaker calls, stores the
approval policy in SSM as the stack does, lets the emulator's events flow through the same rule
patterns, queues and handlers the CDK app deploys, runs the sweeper on a short schedule, and checks
that every version ends where the policy says it must, and that the one poison event (an evaluation
job of a version that does not exist) ends in the approval flow's DLQ after its receives. Then a
scene of several accounts: a workload account registers a version into the registry's group,
evaluates and compiles it at home, and registrar, running as its function roles in the registry
account, decides it and attaches the compiled model from the workload's evidence; an account
nobody listed forwards a forged evaluation, which the registry's bus refuses.
:func:`run_scenario` does the work and returns what happened; :func:`run_demo` tells the story.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
import typing
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registrar.decisions.contract import DecisionDetail
from registrar.outcome import Outcome
from registrar.settings import WorkloadAccount
from registrar_dev.support import (
    ACCOUNT,
    REGION,
    XGBOOST_IMAGE,
    create_compilation_job,
    create_processing_job,
    emulator_clients,
)

if TYPE_CHECKING:
    from registrar_dev.runner import LocalEventSourceMapping
    from registrar_dev.topology import CrossAccount

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
POLICY_FILE = EVENTS / "policy.yaml"
BUCKET = "registrar-demo-reports"
REPORTS = EVENTS / "approval" / "reports"
ROLE_ARN = "arn:aws:iam::123456789012:role/registrar-demo-sagemaker"
CHURN = "churn-model"
FRAUD = "fraud-detector"
MISSING_VERSION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{CHURN}/99"  # never registered
# Seconds: the functions' timeout and the queues' visibility timeout (the stack: 60 and 6 x 60). The
# visibility timeout may not be shorter; it sets how soon a failed record (the poison) comes back.
FUNCTION_TIMEOUT = 2
VISIBILITY_TIMEOUT = 2
# Who hears of every decision in the demo: one e-mail subscriber, and a chat webhook served on loopback.
SUBSCRIBER = "ml-platform@example.com"
# Who decides a held version: the approver e-mailed a personal link to the decision page, served on loopback.
APPROVER = "ml-lead@example.com"
SENDER = "registrar@example.com"
APPROVER_COMMENT = "read the failed job's logs: a flaky data source, the model is fine"
HELD = "fraud v2 (job failed)"
KEPT_HELD = "fraud v3 (held for you)"
# The scene of several accounts: the demo's account is the registry; a workload account trains, evaluates and
# compiles, and forwards its events; an account the deployment does not list tries to get in.
WORKLOAD = "111111111111"
UNLISTED = "999999999999"
CREDIT = "credit-risk"
WORKLOAD_BUCKET = "registrar-demo-workload-evidence"
WORKLOAD_LOCATIONS = WorkloadAccount(
    report_locations=[f"s3://{WORKLOAD_BUCKET}/evaluations/"],
    neo_output_locations=[f"s3://{WORKLOAD_BUCKET}/compiled/"],
)
WORKLOAD_ROLE_ARN = f"arn:aws:iam::{WORKLOAD}:role/registrar-demo-sagemaker"
UNLISTED_BUCKET = "registrar-demo-unlisted-evidence"
SCENE_TIMEOUT = 20.0  # seconds each function of the scene gets to empty its queue


@dataclass(frozen=True)
class Expectation:
    """Where the policy says a version must end."""

    label: str
    group: str
    approval_status: str
    specifications: int = 0
    decided_by_registrar: bool = True
    metadata_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectedDeadLetter:
    """An event that can never succeed: handled on each of its receives, then in its flow's DLQ."""

    label: str
    flow: str
    processing_job: str  # the evaluation job whose state-change event it is
    model_package_arn: str  # the version it names
    receives: int

    def matches(self, body: str) -> bool:
        try:
            event = json.loads(body)
        except json.JSONDecodeError:
            return False
        detail = event.get("detail") if isinstance(event, dict) else None
        return isinstance(detail, dict) and detail.get("ProcessingJobName") == self.processing_job


@dataclass
class HandledEvent:
    flow: str
    outcome: Outcome


@dataclass
class PersonStep:
    """The approver of the held version following the link e-mailed to them, as a browser would."""

    link: str
    shown: int  # the HTTP status of opening it (GET)
    evidence_shown: bool  # the page showed the version and its evidence, with an Approve button
    decided: int  # the HTTP status of approving (POST)
    again: int  # the HTTP status of using the same link a second time


@dataclass
class CrossAccountScene:
    """The scene of several accounts: what each account did, and where the workload's version ended.

    Attributes
    ----------
    version_arn
        The version the workload registered into the registry's ``credit-risk`` group.
    report_uri, evaluation_job, compilation_job
        Its evidence, in the workload account: the report and the two jobs' ARNs.
    function_roles
        The registry's function roles the approval and Neo functions ran as, by flow.
    evidence_role
        The workload's evidence role.
    before, after
        The version when registered, and at the end of the scene.
    assumed
        The roles each function assumed (STS AssumeRole), by flow: the evidence role, once per function.
    swept
        The compilation jobs the workload's sweeper announced.
    undelivered
        What the workload's forwarder could not deliver to the registry (its dead-letter queues): nothing may be.
    forged
        What the unlisted account's forwarder could not deliver to the registry (its dead-letter queue).
    forged_received
        How many events of the unlisted account reached a function (none may).
    after_forged
        The version once the forged event was refused.
    problems
        What went wrong running the scene itself (a queue that did not empty).
    """

    version_arn: str = ""
    report_uri: str = ""
    evaluation_job: str = ""
    compilation_job: str = ""
    function_roles: dict[str, str] = field(default_factory=dict)
    evidence_role: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    assumed: dict[str, list[str]] = field(default_factory=dict)
    swept: int = 0
    undelivered: list[Any] = field(default_factory=list)  # registrar_dev.topology.Undelivered
    forged: list[Any] = field(default_factory=list)
    forged_received: int = 0
    after_forged: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def mismatches(self) -> list[str]:
        """Every way the scene did not end where the policy says (empty when all is well)."""
        label = "credit-risk v1 (from the workload)"
        problems = [f"{label}: {problem}" for problem in self.problems]
        after = self.after
        status = after.get("ModelApprovalStatus")
        if status != "Approved":
            problems.append(f"{label}: {status}, expected Approved")
        evidence = after.get("CustomerMetadataProperties", {}).get("registrar:evidence")
        if evidence != self.report_uri:
            problems.append(f"{label}: decided on {evidence}, expected the workload's report {self.report_uri}")
        compiled = [
            container["ModelDataUrl"]
            for spec in after.get("AdditionalInferenceSpecifications", [])
            for container in spec["Containers"]
        ]
        if len(compiled) != 1 or not compiled[0].startswith(WORKLOAD_LOCATIONS.neo_output_locations[0]):
            problems.append(f"{label}: compiled models attached {compiled}, expected the workload's one")
        if self.swept != 1:
            problems.append(f"{label}: the workload's sweeper announced {self.swept} job(s), expected 1")
        problems.extend(
            f"{label}: the registry refused the workload's {u.rule}: {u.error_code} {u.error_message}"
            for u in self.undelivered
        )
        expected = {flow: [self.evidence_role] for flow in ("approval", "neo")}
        if self.assumed != expected:
            problems.append(f"{label}: the functions assumed {self.assumed}, expected the evidence role once each")
        refused = [(u.rule, u.error_code) for u in self.forged]
        if refused != [("SageMakerProcessingJobStateChange", "AccessDenied")]:
            problems.append(f"forged event from {UNLISTED}: {refused or 'not refused'}, expected AccessDenied once")
        if self.forged_received:
            problems.append(f"forged event from {UNLISTED}: {self.forged_received} reached a function")
        if self.after_forged != self.after:
            problems.append(f"forged event from {UNLISTED}: {label} changed")
        return problems


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
    expected_dead_letters: list[ExpectedDeadLetter] = field(default_factory=list)
    leftover: dict[str, list[str]] = field(default_factory=dict)  # flow queue -> message bodies left
    dead_letters: dict[str, list[str]] = field(default_factory=dict)  # flow -> the bodies in its DLQ
    policy_parameter: str | None = None  # the SSM parameter the approval function read the policy from
    sweeps: int = 0
    seconds: float = 0.0
    decisions: list[DecisionDetail] = field(default_factory=list)  # what a subscriber to Registrar Decision got
    emails: list[tuple[str, str]] = field(default_factory=list)  # (to, text) of every e-mail SNS sent
    chat_messages: list[str] = field(default_factory=list)  # the text of every message posted to the chat
    chat_url: str = ""
    page_url: str = ""  # the decision page, served on loopback
    approver_emails: list[dict[str, str]] = field(default_factory=list)  # what SES sent the approvers
    person: PersonStep | None = None  # the approver following their link
    cross_account: CrossAccountScene | None = None  # the scene of several accounts

    def receives(self, expected: ExpectedDeadLetter) -> int:
        """How many times the handler dealt with the poison event (once per receive)."""
        return sum(
            1
            for handled in self.handled
            if handled.flow == expected.flow
            and handled.outcome.outcome == "invalid"
            and handled.outcome.model_package_arn == expected.model_package_arn
        )

    def expected_dead_letter(self, flow: str, body: str) -> ExpectedDeadLetter | None:
        """The expectation a message found in ``flow``'s DLQ meets, if any."""
        return next((e for e in self.expected_dead_letters if e.flow == flow and e.matches(body)), None)

    def mismatches(self) -> list[str]:
        """Every way the final state differs from the expectations (empty when all is well).

        Every version where the policy says, no message left in a flow's queue, each poison event in its
        flow's DLQ after exactly its receives, and nothing else in a DLQ.
        """
        problems = self.version_mismatches()
        problems.extend(f"{queue}: {len(bodies)} message(s) left" for queue, bodies in self.leftover.items() if bodies)
        for expected in self.expected_dead_letters:
            found = sum(expected.matches(body) for body in self.dead_letters.get(expected.flow, []))
            if found != 1:
                problems.append(f"{expected.label}: {found} message(s) in the {expected.flow} DLQ, expected 1")
            receives = self.receives(expected)
            if receives != expected.receives:
                problems.append(f"{expected.label}: handled {receives} time(s), expected {expected.receives} receives")
        problems.extend(
            f"{flow} DLQ: unexpected message {body[:120]}"
            for flow, bodies in self.dead_letters.items()
            for body in bodies
            if self.expected_dead_letter(flow, body) is None
        )
        problems.extend(self.notification_mismatches())
        if self.cross_account is not None:
            problems.extend(self.cross_account.mismatches())
        person = self.person
        if person is None:
            if HELD in self.expectations:
                problems.append(f"{HELD}: its approver was not e-mailed a link, or did not follow it")
        elif (person.shown, person.evidence_shown, person.decided, person.again) != (200, True, 200, 403):
            problems.append(
                f"{HELD}: the link answered {person.shown} (evidence shown: {person.evidence_shown}), "
                f"approving answered {person.decided}, the second use {person.again}; expected 200, True, 200, 403"
            )
        return problems

    def notification_mismatches(self) -> list[str]:
        """Every write without exactly one Registrar Decision, and every decision not e-mailed and posted once."""
        problems = []
        writes = self.calls["sagemaker:UpdateModelPackage"]  # no faults in the demo: each call is one write
        if len(self.decisions) != writes:
            problems.append(f"{len(self.decisions)} Registrar Decision events for {writes} writes")
        published = Counter(decision.summary for decision in self.decisions)
        mailed = Counter(text.strip() for to, text in self.emails if to == SUBSCRIBER)
        posted = Counter(self.chat_messages)
        for summary, times in published.items():
            first = summary.splitlines()[0]
            if mailed[summary] != times:
                problems.append(f"{first}: e-mailed {mailed[summary]} time(s), decided {times}")
            if posted[summary] != times:
                problems.append(f"{first}: posted to chat {posted[summary]} time(s), decided {times}")
        problems.extend(f"an e-mail of no decision: {text[:80]}" for text in mailed if text not in published)
        problems.extend(f"a chat message of no decision: {text[:80]}" for text in posted if text not in published)
        return problems

    def version_mismatches(self) -> list[str]:
        """Every way a version's state (``after``) differs from its expectation."""
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
        return problems


def _configure_environment(endpoint: str, table_name: str, policy_parameter: str) -> None:
    # Handlers read these when they handle their first event, exactly as in Lambda. The function's
    # environment is the stack's, not the caller's: a REGISTRAR_* variable of the shell (a policy file,
    # which would win over the SSM parameter, other groups, a typo Settings refuses) is left out.
    from registrar.settings import PREFIX, READ_ELSEWHERE
    from registrar_dev.topology import registry_settings

    for variable in [name for name in os.environ if name.startswith(PREFIX) and name not in READ_ELSEWHERE]:
        del os.environ[variable]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "demo"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "demo"),
            "REGISTRAR_POLICY_PARAMETER": policy_parameter,
            "REGISTRAR_TABLE_NAME": table_name,
            "REGISTRAR_EVENT_BUS_NAME": "default",
            "REGISTRAR_REPORT_LOCATIONS": f"s3://{BUCKET}/",
            "REGISTRAR_NEO_OUTPUT_LOCATIONS": f"s3://{BUCKET}/compiled/",
            "REGISTRAR_SWEEP_LOOKBACK_MINUTES": "60",
            "POWERTOOLS_SERVICE_NAME": "registrar",
            "POWERTOOLS_METRICS_NAMESPACE": "registrar",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "CRITICAL"),
            "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
            # A deployment of several accounts: the demo's account is the registry, WORKLOAD forwards to it.
            **registry_settings(ACCOUNT, {WORKLOAD: WORKLOAD_LOCATIONS}),
        }
    )


class _Setup:
    """The ordinary SageMaker/S3 calls a data scientist's pipeline makes (not counted as registrar's)."""

    sagemaker: Any
    s3: Any

    def __init__(self, endpoint: str, account: str | None = None) -> None:
        clients = emulator_clients(endpoint, account=account)
        self.sagemaker = clients.sagemaker
        self.s3 = clients.s3

    def upload(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")
        return f"s3://{BUCKET}/{key}"

    def register(
        self,
        group: str,
        *,
        report_uri: str | None,
        approval: str = "PendingManualApproval",
        model_data_url: str | None = None,
    ) -> str:
        """Register a version of ``group`` (its name, or another account's group ARN) of its own trained model."""
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": approval,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": XGBOOST_IMAGE,
                        # Each version its own trained model, as a pipeline's training step writes it.
                        "ModelDataUrl": model_data_url
                        or f"s3://{BUCKET}/models/{group}/{uuid.uuid4().hex[:8]}/model.tar.gz",
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
        self, package_arn: str, name: str, output_prefix: str, *, fail: bool = False, model_uri: str | None = None
    ) -> None:
        create_processing_job(
            self.sagemaker, name, package_arn, output_prefix, role=ROLE_ARN, fail=fail, model_uri=model_uri
        )

    def compile(self, name: str, package_arn: str, target: str, *, fail: bool = False) -> None:
        output = f"s3://{BUCKET}/compiled/{name}/"
        if fail:
            # An InputConfig job of the version's own model, linked by tag, which the emulator fails as asked.
            input_config = {
                "S3Uri": self.describe(package_arn)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"],
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
    from registrar_dev.topology import MAX_RECEIVE_COUNT

    setup.s3.create_bucket(Bucket=BUCKET)
    # Poison first, so that its receives overlap the rest: an evaluation job tagged with a version that does
    # not exist (deleted, or a typo in the pipeline). Its event can never succeed: it is handled on each
    # receive, then the queue's redrive policy moves it to the approval flow's DLQ.
    poison_job = f"{CHURN}-eval-of-a-missing-version"
    setup.evaluate_with_processing_job(
        MISSING_VERSION,
        poison_job,
        f"s3://{BUCKET}/evaluations/{CHURN}/99/",
        model_uri=f"s3://{BUCKET}/models/{CHURN}/99/model.tar.gz",
    )
    result.expected_dead_letters.append(
        ExpectedDeadLetter(
            "poison: evaluation of churn-model/99, which does not exist",
            "approval",
            poison_job,
            MISSING_VERSION,
            receives=MAX_RECEIVE_COUNT,
        )
    )
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
        KEPT_HELD: setup.register(FRAUD, report_uri=None),
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

    # A version whose evaluation falls short is held too, and stays held: its approver is e-mailed a link nobody
    # follows here, so that with --keep there is a held version to decide yourself (registrar link, the page).
    short = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.74}, "precision": {"value": 0.62}}})
    setup.upload(f"evaluations/{FRAUD}/3/evaluation.json", short.encode())
    setup.evaluate_with_processing_job(
        versions[KEPT_HELD], "fraud-detector-eval-3", f"s3://{BUCKET}/evaluations/{FRAUD}/3/"
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
                # Held by registrar, then approved by its approver through the link e-mailed to them.
                "fraud v2 (job failed)",
                FRAUD,
                "Approved",
                decided_by_registrar=False,
                metadata_keys=("registrar:verdict", "registrar:decided-by", "registrar:decided-at"),
            ),
            KEPT_HELD: Expectation(KEPT_HELD, FRAUD, "PendingManualApproval", metadata_keys=("registrar:verdict",)),
        }
    )


def _new_container(variables: dict[str, str], observe: Callable[[str, str, dict[str, Any]], None]) -> None:
    """Give this process's functions ``variables`` (their credentials), as a new Lambda container gets them.

    Registrar's clients read credentials once: the clients, and the flows holding them, are rebuilt, and the calls
    are observed again on the new clients.
    """
    from registrar import aws
    from registrar_dev.support import fresh_container

    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(variables)
    fresh_container()
    aws.observe_calls(observe)


def _cross_account_scene(
    cross: CrossAccount,
    setup: _Setup,
    mappings: dict[str, LocalEventSourceMapping],
    current_flow: threading.local,
    observe: Callable[[str, str, dict[str, Any]], None],
) -> CrossAccountScene:
    """A version of the workload's, decided and compiled from its evidence in the registry; a forgery refused.

    ``cross`` is what :func:`registrar_dev.topology.build_cross_account` made. Each function runs as its
    function role (the workload's evidence role trusts those alone), in a container of its own.
    """
    from registrar import aws
    from registrar_dev.runner import run_until_quiet
    from registrar_dev.topology import build_forwarding

    scene = CrossAccountScene(function_roles=dict(cross.function_roles), evidence_role=cross.evidence_roles[WORKLOAD])
    workload = _Setup(cross.endpoint_url, account=WORKLOAD)
    workload.s3.create_bucket(Bucket=WORKLOAD_BUCKET)
    # The workload's pipeline registers a version into the registry's group by the group's ARN (the group's policy
    # lets it, and nothing more: it names the model it evaluates rather than describing the version).
    group_arn = f"arn:aws:sagemaker:{REGION}:{cross.registry}:model-package-group/{CREDIT}"
    model = f"s3://{WORKLOAD_BUCKET}/models/{CREDIT}/{uuid.uuid4().hex[:8]}/model.tar.gz"
    scene.version_arn = workload.register(group_arn, report_uri=None, model_data_url=model)
    scene.before = setup.describe(scene.version_arn)
    output = f"{WORKLOAD_LOCATIONS.report_locations[0]}{CREDIT}/1/"
    scene.report_uri = f"{output}evaluation.json"
    workload.s3.put_object(
        Bucket=WORKLOAD_BUCKET, Key=scene.report_uri.split("/", 3)[3], Body=(REPORTS / "processing.json").read_bytes()
    )
    create_processing_job(
        workload.sagemaker, "credit-risk-eval-1", scene.version_arn, output, role=WORKLOAD_ROLE_ARN, model_uri=model
    )
    scene.evaluation_job = workload.sagemaker.describe_processing_job(ProcessingJobName="credit-risk-eval-1")[
        "ProcessingJobArn"
    ]

    def run(flow: str) -> None:
        assumed = scene.assumed.setdefault(flow, [])

        def observe_assumed(service: str, operation: str, params: dict[str, Any]) -> None:
            if operation == "AssumeRole":
                assumed.append(str(params.get("RoleArn")))

        _new_container(cross.environment(flow), observe)
        aws.observe_calls(observe_assumed)
        current_flow.name = flow
        try:
            run_until_quiet({flow: mappings[flow]}, timeout=SCENE_TIMEOUT)
        except TimeoutError as error:
            scene.problems.append(str(error))

    # Its evaluation job's event is forwarded to the registry's bus: the approval function decides the version.
    run("approval")
    # The workload compiles it; its sweeper, where the compilations run, announces the job on its own bus.
    name = "credit-risk-1-ml-c5"
    compiled = f"{WORKLOAD_LOCATIONS.neo_output_locations[0]}{name}/"
    create_compilation_job(
        workload.sagemaker, name, "ml_c5", compiled, role=WORKLOAD_ROLE_ARN, package_arn=scene.version_arn
    )
    scene.compilation_job = workload.sagemaker.describe_compilation_job(CompilationJobName=name)["CompilationJobArn"]
    scene.swept = cross.sweep(WORKLOAD).published
    run("neo")
    scene.after = setup.describe(scene.version_arn)
    scene.undelivered = cross.forwarders[WORKLOAD].undelivered()

    # An account nobody listed copies the forwarder stack and forwards an evaluation of its own, failing, tagged
    # with the version: the registry's bus policy refuses it, into that account's own dead-letter queue.
    forger = build_forwarding(cross.endpoint_url, account=UNLISTED, registry=cross.registry, region=cross.region)
    unlisted = emulator_clients(cross.endpoint_url, account=UNLISTED)
    unlisted.s3.create_bucket(Bucket=UNLISTED_BUCKET)
    unlisted.s3.put_object(
        Bucket=UNLISTED_BUCKET, Key=f"{CREDIT}/1/evaluation.json", Body=(REPORTS / "failing.json").read_bytes()
    )
    create_processing_job(
        unlisted.sagemaker,
        "credit-risk-eval-1",
        scene.version_arn,
        f"s3://{UNLISTED_BUCKET}/{CREDIT}/1/",
        role=f"arn:aws:iam::{UNLISTED}:role/sagemaker",
        model_uri=model,
    )
    scene.forged = forger.undelivered()
    # EventBridge delivers to the bus at once here: whatever got through would be in a flow's queue now.
    scene.forged_received = sum(sum(mapping.queue.depth()) for mapping in mappings.values())
    scene.after_forged = setup.describe(scene.version_arn)
    return scene


def run_scenario(
    endpoint: str,
    *,
    on_event: Callable[[HandledEvent], None] | None = None,
    on_tick: Callable[[str], None] | None = None,
    sweep_interval: float = 2.0,
    timeout: float = 90.0,
    keep_serving: bool = False,
) -> ScenarioResult:
    """Run the story against the emulator at ``endpoint`` and return what happened.

    Parameters
    ----------
    endpoint
        A running emulator (``registrar_dev.emulator.start()``), with event emission on.
    on_event
        Told of each handled event as it happens.
    on_tick
        Told what the runner is waiting for (progress display).
    sweep_interval
        Seconds between sweeps (the deployed schedule is minutes).
    timeout
        Give up waiting after this many seconds; the result then says what is missing.
    keep_serving
        Leave the decision page serving (at ``ScenarioResult.page_url``) after the scenario, for ``--keep``.
    """
    from registrar.decisions.contract import DecisionVerdict
    from registrar_cli import serve as page_server
    from registrar_dev.chat import ChatReceiver
    from registrar_dev.topology import (
        IDEMPOTENCY_TABLE,
        POLICY_PARAMETER,
        build_cross_account,
        build_decision_page,
        build_notifications,
        build_topology,
    )

    started = time.monotonic()
    _configure_environment(endpoint, IDEMPOTENCY_TABLE, POLICY_PARAMETER)  # before Powertools reads it on import
    from registrar import aws
    from registrar_cli.queues import Queue
    from registrar_dev.outcomes import listening
    from registrar_dev.runner import approver_mail_mapping, flow_mappings

    aws.reset_clients()
    # The stack's resources, the policy parameter included (the policy file as the stack deploys it).
    topology = build_topology(
        endpoint_url=endpoint,
        visibility_timeout=VISIBILITY_TIMEOUT,
        function_timeout=FUNCTION_TIMEOUT,
        policy_file=POLICY_FILE,
        workloads=[WORKLOAD],
    )
    # With several accounts, the registry's grants and the workload's forwarder stack; the registry's credit-risk
    # group, created by its operator, is shared with the workload.
    emulator_clients(endpoint).sagemaker.create_model_package_group(ModelPackageGroupName=CREDIT)
    cross = build_cross_account(endpoint, workloads={WORKLOAD: WORKLOAD_LOCATIONS}, groups=[CREDIT])
    result = ScenarioResult(policy_parameter=topology.policy_parameter)
    # As the stack's notify block would deploy it, telling of every verdict: the demo checks each decision's mail.
    chat = ChatReceiver().start()
    result.chat_url = chat.url
    notifications = build_notifications(
        endpoint, email=[SUBSCRIBER], chat_url=chat.url, verdicts=typing.get_args(DecisionVerdict)
    )
    decisions_queue = _subscribe_to_decisions(endpoint)
    # The decision page as the stack deploys it (its function URL here a server on loopback), and the approver
    # e-mails: the mail rule and queue, the signing secret, the SES sender.
    page = page_server.make_server()
    result.page_url = page_server.url_of(page)
    threading.Thread(target=page.serve_forever, name="decision-page", daemon=True).start()
    decision_page = build_decision_page(
        endpoint,
        approvers={f"{FRAUD}*": [APPROVER], f"{CHURN}*": [APPROVER]},
        sender=SENDER,
        page_url=result.page_url,
        managed_groups=(f"{CHURN}*", f"{FRAUD}*"),
        visibility_timeout=VISIBILITY_TIMEOUT,
    )
    os.environ.update(decision_page.environment(IDEMPOTENCY_TABLE))

    def count_call(service: str, operation: str, params: dict[str, Any]) -> None:
        result.calls[f"{service}:{operation}"] += 1
        if operation == "UpdateModelPackage":
            result.updates_per_package[str(params.get("ModelPackageArn"))] += 1

    aws.observe_calls(count_call)
    current_flow = threading.local()

    def listen(outcome: Outcome, subject: str | None) -> None:
        handled = HandledEvent(flow=getattr(current_flow, "name", "?"), outcome=outcome)
        result.handled.append(handled)
        if on_event:
            on_event(handled)

    with listening(listen):
        from handlers import sweeper

        setup = _Setup(endpoint)
        register_scenario(setup, result)
        result.before = {label: setup.describe(arn) for label, arn in result.versions.items()}
        sqs = aws.client("sqs")
        mappings = flow_mappings(topology, sqs)  # every flow's queue into its handler, as the stack maps them
        mappings["approver-mail"] = approver_mail_mapping(
            decision_page.queue_url, decision_page.queue_arn, sqs, timeout_seconds=topology.function_timeout
        )
        from registrar_dev.runner import LocalLambdaContext

        last_sweep = 0.0
        quiet_since: float | None = None
        empty_looks = 0
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
            # A message whose visibility timeout ends between the two counts of one look is in neither: only
            # consecutive empty looks say the queues are empty.
            empty_looks = empty_looks + 1 if in_queues == 0 and busy == 0 else 0
            # The poison goes round its receives while the rest is done: until it reaches its DLQ, it may be all
            # that is left in the queues.
            awaited = 0
            if busy == 0 and in_queues:
                dead_lettered = sum(
                    Queue(url=f.dead_letter_url, client=sqs).depth()[0] for f in topology.flows.values()
                )
                awaited = max(0, len(result.expected_dead_letters) - dead_lettered)
            in_queues += sum(Queue(url=decision_page.queue_url, client=sqs).depth())
            settled = busy == 0 and in_queues <= awaited and result.sweeps >= 2
            if settled and result.person is None:
                # The approver reads the e-mail about the held version and follows its link, as in a browser.
                result.person = _follow_link(decision_page.sent_emails(), result.versions[HELD])
                if result.person is not None:
                    settled = False
            if not settled:
                quiet_since = None
            elif quiet_since is None:
                result.after = {label: setup.describe(arn) for label, arn in result.versions.items()}
                if not result.version_mismatches():
                    quiet_since = now
            # Quiet for a whole sweep interval (a late compilation event would have shown up by now), and the
            # queues empty: the poison too has left for its DLQ (the final check looks for it there).
            if quiet_since is not None and empty_looks >= 3 and now - quiet_since >= sweep_interval:
                break
            if busy == 0:
                if on_tick:
                    on_tick(f"waiting for events ({in_queues} in flight, {result.sweeps} sweeps)")
                time.sleep(0.2)
        demo_credentials = {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        result.cross_account = _cross_account_scene(cross, setup, mappings, current_flow, count_call)
        # Back to the functions' own credentials: the decision page keeps serving with them (--keep).
        _new_container(demo_credentials, count_call)
        result.after = {label: setup.describe(arn) for label, arn in result.versions.items()}
        for flow in topology.flows.values():
            queue = Queue(url=flow.queue_url, client=sqs)
            visible, in_flight = queue.depth()
            bodies = [message["Body"] for message in queue.receive()] if visible else []
            if visible or in_flight:
                result.leftover[f"{flow.name} queue"] = bodies or ["(in flight)"] * in_flight
            # The rule DLQs are not read: the emulator never delivers to them (see registrar_dev.topology).
            dead_letter_queue = Queue(url=flow.dead_letter_url, client=sqs)
            dead: list[dict[str, Any]] = []
            while messages := dead_letter_queue.receive():  # each stays hidden for the DLQ's 30 s once received
                dead.extend(messages)
            for message in dead:  # visible again, for whoever explores the emulator afterwards (--keep)
                dead_letter_queue.release(message["ReceiptHandle"])
            result.dead_letters[flow.name] = [message["Body"] for message in dead]
    result.decisions = _received_decisions(decisions_queue)
    try:
        # The API destination posts in the background: wait for one message per decision, at most a few seconds.
        received = chat.wait_for(len(result.decisions), timeout=10.0) if result.decisions else []
    finally:
        chat.stop()
    result.chat_messages = [str(body.get("text")) if isinstance(body, dict) else str(body) for body in received]
    result.emails = [(email.to, email.body) for email in notifications.sent_emails()]
    result.approver_emails = decision_page.sent_emails()
    if not keep_serving:
        page.shutdown()
    result.seconds = time.monotonic() - started
    return result


def _follow_link(emails: list[dict[str, str]], held_arn: str) -> PersonStep | None:
    """Open the link e-mailed about ``held_arn`` (GET), approve with a comment (POST), then try the link again."""
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    version = held_arn.rsplit("/", 1)[-1]
    group = held_arn.rsplit("/", 2)[-2]
    mail = next((m for m in emails if m["to"] == APPROVER and f"{group} version {version}" in m["body"]), None)
    found = re.search(r"https?://\S+/decide\?token=[A-Za-z0-9._~%-]+", mail["body"]) if mail else None
    if found is None:
        return None
    link = found.group(0)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
    form = urllib.parse.urlencode({"token": token, "action": "approve", "comment": APPROVER_COMMENT}).encode()
    decide = urllib.parse.urljoin(link, "/decide")

    def call(request: urllib.request.Request | str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    shown, page = call(link)
    decided, _ = call(urllib.request.Request(decide, data=form, method="POST"))
    again, _ = call(urllib.request.Request(decide, data=form, method="POST"))
    evidence = f"{group} · version {version}" in page and "Approve" in page and "Evidence" in page
    return PersonStep(link=link, shown=shown, evidence_shown=evidence, decided=decided, again=again)


def _subscribe_to_decisions(endpoint: str) -> Any:
    """A rule for every Registrar Decision of the account into a queue of its own, as any subscriber would."""
    from registrar.decisions.contract import DECISION_PATTERN
    from registrar.patterns import for_account
    from registrar_cli.queues import Queue

    clients = emulator_clients(endpoint, region=REGION)
    url = clients.sqs.create_queue(QueueName="registrar-demo-decisions")["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients.events.put_rule(
        Name="registrar-demo-decisions", EventPattern=json.dumps(for_account(DECISION_PATTERN, ACCOUNT))
    )
    clients.events.put_targets(Rule="registrar-demo-decisions", Targets=[{"Id": "subscriber", "Arn": arn}])
    return Queue(url=url, client=clients.sqs)


def _received_decisions(queue: Any) -> list[DecisionDetail]:
    """Every decision the subscriber's queue holds, in the order they were published (left in the queue)."""
    messages: list[dict[str, Any]] = []
    while batch := queue.receive():
        messages.extend(batch)
    for message in messages:  # visible again, for whoever explores the emulator afterwards (--keep)
        queue.release(message["ReceiptHandle"])
    details = [DecisionDetail.model_validate(json.loads(message["Body"])["detail"]) for message in messages]
    return sorted(details, key=lambda detail: detail.decided_at)


def run_demo(*, keep: bool = False) -> int:
    """Start the emulator, run the scenario, and tell the story; 0 when every version ended as the policy says."""
    from registrar_dev.demo_output import Story
    from registrar_dev.emulator import start

    story = Story()
    emulator = start()
    story.started(emulator.endpoint)
    try:
        with story.progress() as tick:
            result = run_scenario(emulator.endpoint, on_event=story.event, on_tick=tick, keep_serving=keep)
        story.summary(result)
        if keep:
            story.kept(emulator.endpoint, result.page_url, result.versions[KEPT_HELD])
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
