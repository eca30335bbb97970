"""Provenance on the emulator, with the configuration cdk.json deploys (issue #14, "What it must show").

The default configuration: groups ``churn-*``, ``fraud-*`` and ``credit-risk``; reports read only under
``s3://registrar-demo-reports/evaluations/``; compiled models attached only from
``s3://registrar-demo-reports/compiled/``; the demo policy. Versions, reports and jobs are created with
plain SageMaker and S3 calls, as a pipeline (or an attacker with the same permissions) would; SageMaker's
own events (the emulator's) and the sweeper's compilation events go to the deployed handlers, with the
idempotency table configured.

- Evidence counts for a version only when bound to it: an evaluation job that did not evaluate the
  version's model, writing inside the allowed location and tagged with the version's ARN, neither approves
  nor rejects it; the refusal is recorded.
- A compilation job of another model, tagged with a version's ARN, attaches nothing, and 16 such jobs do not
  fill the 15 slots; a job compiled from the version's own model attaches as before.
- A report outside the allowed locations is not evidence: the version is held with the reason, the event
  fails (it is not invalid), and once the locations are fixed the same event decides it.
- A decision records the version of the report it read, and a champion is compared on that version.
"""

from __future__ import annotations

import json
import pathlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from handlers import approval, neo_registration
from registrar.events import MODEL_PACKAGE_STATE_CHANGE, PROCESSING_JOB_STATE_CHANGE
from registrar.outcome import Outcome
from registrar_dev.emulator import Emulator
from registrar_dev.outcomes import listening
from registrar_dev.support import (
    XGBOOST_IMAGE,
    create_compilation_job,
    create_idempotency_table,
    create_processing_job,
    fresh_container,
    sqs_event,
    sqs_record,
)
from tests.integration.scenario import (
    ROLE,
    Clients,
    compilation_event,
    default_configuration,
    lambda_context,
    run_cli,
    specification_name,
)

BUCKET = "registrar-demo-reports"
TABLE = "registrar-provenance-idempotency"
# What an attacker can do with CreateProcessingJob/CreateCompilationJob and AddTags, and nothing of the version's.
SCRATCH = f"s3://{BUCKET}/evaluations/fraud-team/scratch"
OTHER_MODEL = f"s3://{BUCKET}/models/fraud-team/scratch/model.tar.gz"
BACKDOORED = "s3://attacker-bucket/backdoored/model.tar.gz"
ATTACKER_OUTPUT = "s3://attacker-bucket/out/"
HOSTABLE_TARGETS = ("ml_c5", "ml_m5", "ml_c4", "ml_m4", "ml_g4dn", "ml_p3", "ml_inf1", "ml_inf2", "ml_trn1", "ml_c6g")
MAX_SPECIFICATIONS = 15


def report(auc: float, *, precision: float = 0.8, recall: float = 0.7) -> bytes:
    """A model quality report in SageMaker's format, with the metrics the demo policy's rules read."""
    metrics = {name: {"value": value} for name, value in (("auc", auc), ("precision", precision), ("recall", recall))}
    return json.dumps({"binary_classification_metrics": metrics}).encode()


@dataclass
class Deployment:
    """The emulator as the deployed default configuration sees it, and the handlers' outcomes.

    ``events`` keeps every SageMaker event the emulator published, oldest first; ``handled`` every
    outcome the handlers logged.
    """

    clients: Clients
    drain: Callable[[], list[dict[str, Any]]]
    events: list[dict[str, Any]] = field(default_factory=list)
    handled: list[Outcome] = field(default_factory=list)

    def upload(self, key: str, body: bytes) -> tuple[str, dict[str, Any]]:
        """Put a report in the reports bucket; its URI and PutObject's answer (ETag, VersionId)."""
        put: dict[str, Any] = self.clients.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}", put

    def register(self, group: str, *, report_uri: str | None = None, status: str = "PendingManualApproval") -> str:
        """A version of ``group`` with its own trained model (a ModelDataUrl no other version has)."""
        self.clients.ensure_group(group)
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": XGBOOST_IMAGE,
                        "ModelDataUrl": f"s3://{BUCKET}/models/{group}/{uuid.uuid4().hex[:8]}/model.tar.gz",
                        "Framework": "XGBOOST",
                        "FrameworkVersion": "1.7",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
        if report_uri is not None:
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}
            }
        arn: str = self.clients.sagemaker.create_model_package(**request)["ModelPackageArn"]
        return arn

    def describe(self, arn: str) -> dict[str, Any]:
        return self.clients.describe(arn)

    def model_of(self, arn: str) -> str:
        """The version's model artifact: its primary container's ModelDataUrl."""
        return str(self.describe(arn)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])

    def evaluate(
        self, name: str, package: str, output: str, *, model: str | None = None, fail: bool = False
    ) -> dict[str, Any]:
        """A processing job tagged with ``package``'s ARN (evaluating ``model``, by default the version's own);
        returns the state change the emulator published when it ended."""
        create_processing_job(self.clients.sagemaker, name, package, output, role=ROLE, fail=fail, model_uri=model)
        return self.event(PROCESSING_JOB_STATE_CHANGE, lambda detail: detail["ProcessingJobName"] == name)

    def package_event(self, arn: str) -> dict[str, Any]:
        """The state change the emulator published when the version was registered (not one of registrar's writes)."""
        return self.event(MODEL_PACKAGE_STATE_CHANGE, lambda detail: detail["ModelPackageArn"] == arn, first=True)

    def event(
        self, detail_type: str, about: Callable[[dict[str, Any]], bool], *, first: bool = False
    ) -> dict[str, Any]:
        """The last (or ``first``) event of ``detail_type`` the emulator published whose detail is ``about`` it."""
        self.events.extend(self.drain())
        found = [e for e in self.events if e["detail-type"] == detail_type and about(e["detail"])]
        assert found, f"the emulator published no {detail_type} of that resource"
        return found[0] if first else found[-1]

    def approve_with(self, *events: dict[str, Any]) -> dict[str, Any]:
        """The approval function's answer to one batch of these events."""
        return self.approve_with_records(*sqs_event([json.dumps(e) for e in events])["Records"])

    def approve_with_records(self, *records: dict[str, Any]) -> dict[str, Any]:
        """The approval function's answer to one batch of these SQS records."""
        return self._invoke(approval.handler, "registrar-approval", {"Records": list(records)})

    def register_compiled(self, *names: str) -> dict[str, Any]:
        """The Neo registration function's answer to one batch of the sweeper's events for these jobs."""
        event = sqs_event([json.dumps(compilation_event(name)) for name in names])
        return self._invoke(neo_registration.handler, "registrar-neo-registration", event)

    def _invoke(self, handler: Callable[..., dict[str, Any]], function: str, event: dict[str, Any]) -> dict[str, Any]:
        with listening(lambda outcome, _subject: self.handled.append(outcome)):
            return handler(event, lambda_context(function))

    def compile(
        self,
        name: str,
        target: str,
        *,
        output: str,
        package: str | None = None,
        input_uri: str | None = None,
        tagged: str | None = None,
    ) -> None:
        """A compilation job of ``package`` (ModelPackageVersionArn) or of the model at ``input_uri``."""
        input_config = None
        if input_uri is not None:
            input_config = {"S3Uri": input_uri, "Framework": "XGBOOST", "DataInputConfig": '{"data": [1, 10]}'}
        create_compilation_job(
            self.clients.sagemaker,
            name,
            target,
            output,
            role=ROLE,
            package_arn=package,
            input_config=input_config,
            tagged=tagged,
        )


def registrar_metadata(described: dict[str, Any]) -> dict[str, str]:
    metadata = described.get("CustomerMetadataProperties") or {}
    return {key: value for key, value in metadata.items() if key.startswith("registrar:")}


def specifications(described: dict[str, Any]) -> list[str]:
    return [spec["Name"] for spec in described.get("AdditionalInferenceSpecifications", [])]


@pytest.fixture
def deployment(
    aws: Emulator, sagemaker_events: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """The reports bucket, the idempotency table and the functions' environment of the default configuration."""
    clients = Clients.of(aws)
    clients.s3.create_bucket(Bucket=BUCKET)
    create_idempotency_table(clients.dynamodb, TABLE)
    for variable, value in {
        **default_configuration(),
        "REGISTRAR_TABLE_NAME": TABLE,
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(variable, value)
    fresh_container()
    yield Deployment(clients=clients, drain=sagemaker_events)
    fresh_container()


# Evaluation jobs: a tag is a pointer, not proof ------------------------------------------------------


def test_a_job_that_did_not_evaluate_the_version_neither_approves_nor_decides_it(deployment: Deployment) -> None:
    # GIVEN fraud-detector/1 waiting for its evaluation, and another team's job inside the allowed location
    # (evaluations/fraud-team/scratch/) that evaluated another model, with a passing report, tagged with its ARN
    version = deployment.register("fraud-detector")
    deployment.upload("evaluations/fraud-team/scratch/evaluation.json", report(0.97, precision=0.95))
    forged = deployment.evaluate("fraud-team-scratch-eval", version, SCRATCH, model=OTHER_MODEL)

    # WHEN the approval function receives that job's state change
    response = deployment.approve_with(forged)

    # THEN the event is handled, and the version is neither approved nor decided: registrar:refused says why
    assert response == {"batchItemFailures": []}
    described = deployment.describe(version)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ApprovalDescription" not in described
    metadata = registrar_metadata(described)
    assert "registrar:verdict" not in metadata
    assert "fraud-team-scratch-eval did not evaluate" in metadata["registrar:refused"]
    [outcome] = deployment.handled
    assert (outcome.outcome, outcome.verdict, outcome.request is not None) == ("skipped", "Refused", True)


def test_a_job_that_did_not_evaluate_a_held_version_leaves_it_held(deployment: Deployment) -> None:
    # GIVEN fraud-detector/1 held on its own evaluation (auc 0.51 < min 0.8)
    version = deployment.register("fraud-detector")
    own_output = f"s3://{BUCKET}/evaluations/fraud-detector/1"
    deployment.upload("evaluations/fraud-detector/1/evaluation.json", report(0.51))
    assert deployment.approve_with(deployment.evaluate("fraud-detector-1-eval", version, own_output)) == {
        "batchItemFailures": []
    }
    held = deployment.describe(version)
    assert registrar_metadata(held)["registrar:verdict"] == "Held"

    # WHEN another team's job of another model, with a passing report and tagged with the version's ARN, ends
    deployment.upload("evaluations/fraud-team/scratch/evaluation.json", report(0.97, precision=0.95))
    response = deployment.approve_with(
        deployment.evaluate("fraud-team-scratch-eval", version, SCRATCH, model=OTHER_MODEL)
    )

    # THEN the version stays held on its own evaluation, and the refusal is recorded beside that decision
    assert response == {"batchItemFailures": []}
    described = deployment.describe(version)
    assert (described["ModelApprovalStatus"], described["ApprovalDescription"]) == (
        "PendingManualApproval",
        held["ApprovalDescription"],
    )
    metadata = registrar_metadata(described)
    assert metadata["registrar:verdict"] == "Held"
    assert "auc 0.51" in described["ApprovalDescription"]
    assert "fraud-team-scratch-eval did not evaluate" in metadata["registrar:refused"]


def test_a_failed_job_that_did_not_evaluate_a_passing_version_does_not_reject_it(deployment: Deployment) -> None:
    # GIVEN churn-model/1 with a passing report (its rule rejects on failure), its own event still queued,
    # and a Failed job of another model tagged with its ARN
    uri, _ = deployment.upload("evaluations/churn-model/1/evaluation.json", report(0.91, recall=0.72))
    version = deployment.register("churn-model", report_uri=uri)
    failed = deployment.evaluate("churn-sabotage", version, SCRATCH, model=OTHER_MODEL, fail=True)
    assert failed["detail"]["ProcessingJobStatus"] == "Failed"

    # WHEN the approval function receives the failed job's state change first
    response = deployment.approve_with(failed)

    # THEN the version is not rejected: nothing is decided on it, the refusal is recorded
    assert response == {"batchItemFailures": []}
    described = deployment.describe(version)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert "registrar:verdict" not in registrar_metadata(described)
    assert "churn-sabotage did not evaluate" in registrar_metadata(described)["registrar:refused"]

    # AND WHEN its own event follows THEN its own report decides it
    assert deployment.approve_with(deployment.package_event(version)) == {"batchItemFailures": []}
    assert deployment.describe(version)["ModelApprovalStatus"] == "Approved"


def test_a_job_that_evaluated_the_versions_own_model_still_decides_it(deployment: Deployment) -> None:
    # GIVEN fraud-detector/1 and its own evaluation job (its model among the job's inputs), passing
    version = deployment.register("fraud-detector")
    deployment.upload("evaluations/fraud-detector/1/evaluation.json", report(0.9))
    evaluated = deployment.evaluate("fraud-detector-1-eval", version, f"s3://{BUCKET}/evaluations/fraud-detector/1")
    assert deployment.model_of(version) in json.dumps(evaluated["detail"]["ProcessingInputs"])

    # WHEN its state change is handled THEN the version is approved on that report, nothing refused
    assert deployment.approve_with(evaluated) == {"batchItemFailures": []}
    described = deployment.describe(version)
    assert described["ModelApprovalStatus"] == "Approved"
    metadata = registrar_metadata(described)
    assert metadata["registrar:evidence"] == f"s3://{BUCKET}/evaluations/fraud-detector/1/evaluation.json"
    assert "registrar:refused" not in metadata


# Compilation jobs: attached only when compiled from the version's own model ----------------------------


def test_a_compilation_of_another_model_tagged_with_an_approved_version_attaches_nothing(
    deployment: Deployment,
) -> None:
    # GIVEN churn-model/1 Approved, and a job compiling a backdoored model into the attacker's bucket, tagged
    # with the version's ARN
    version = deployment.register("churn-model", status="Approved")
    deployment.compile("backdoor-ml-c5", "ml_c5", output=ATTACKER_OUTPUT, input_uri=BACKDOORED, tagged=version)

    # WHEN the Neo registration function receives the sweeper's event for it
    response = deployment.register_compiled("backdoor-ml-c5")

    # THEN nothing is attached nor recorded for the target; registrar:neo:refused says why
    assert response == {"batchItemFailures": []}
    described = deployment.describe(version)
    assert specifications(described) == []
    metadata = registrar_metadata(described)
    assert "registrar:neo:ml_c5" not in metadata
    assert metadata["registrar:neo:refused"].startswith("refused backdoor-ml-c5: ")
    assert BACKDOORED in metadata["registrar:neo:refused"]
    [outcome] = deployment.handled
    assert (outcome.outcome, outcome.verdict) == ("skipped", "Refused")


def test_sixteen_compilations_of_another_model_do_not_fill_the_fifteen_slots(deployment: Deployment) -> None:
    # GIVEN churn-model/1 Approved, and 16 jobs of the backdoored model tagged with its ARN, over 10 instance families
    version = deployment.register("churn-model", status="Approved")
    names = [f"backdoor-{index:02d}" for index in range(MAX_SPECIFICATIONS + 1)]
    for index, name in enumerate(names):
        target = HOSTABLE_TARGETS[index % len(HOSTABLE_TARGETS)]
        deployment.compile(name, target, output=ATTACKER_OUTPUT, input_uri=BACKDOORED, tagged=version)

    # WHEN their events are handled (two batches), then a job compiling the version itself
    responses = [deployment.register_compiled(*names[:10]), deployment.register_compiled(*names[10:])]
    deployment.compile("churn-model-1-ml-c5", "ml_c5", output=f"s3://{BUCKET}/compiled/", package=version)
    responses.append(deployment.register_compiled("churn-model-1-ml-c5"))

    # THEN none of the 16 was attached, and the version's own compilation takes a slot
    assert responses == [{"batchItemFailures": []}] * 3
    assert [outcome.verdict for outcome in deployment.handled] == ["Refused"] * 16 + ["Attached"]
    assert specifications(deployment.describe(version)) == [specification_name("churn-model-1-ml-c5", "ml_c5")]


@pytest.mark.parametrize("linked_by", ["ModelPackageVersionArn", "tag and InputConfig.S3Uri"])
def test_a_job_compiled_from_the_versions_own_model_attaches(deployment: Deployment, linked_by: str) -> None:
    # GIVEN churn-model/1 Approved and a job compiling its own model into the configured Neo output location:
    # by naming the version, or from its ModelDataUrl and tagged with its ARN
    version = deployment.register("churn-model", status="Approved")
    name = "churn-model-1-ml-inf2"
    if linked_by == "ModelPackageVersionArn":
        deployment.compile(name, "ml_inf2", output=f"s3://{BUCKET}/compiled/", package=version)
    else:
        own = deployment.model_of(version)
        deployment.compile(name, "ml_inf2", output=f"s3://{BUCKET}/compiled/", input_uri=own, tagged=version)

    # WHEN the Neo registration function receives the sweeper's event for it
    response = deployment.register_compiled(name)

    # THEN its specification is attached and recorded, as before; nothing refused
    assert response == {"batchItemFailures": []}
    described = deployment.describe(version)
    spec = specification_name(name, "ml_inf2")
    assert specifications(described) == [spec]
    metadata = registrar_metadata(described)
    assert metadata["registrar:neo:ml_inf2"] == f"attached {name} {spec}"
    assert "registrar:neo:refused" not in metadata
    [container] = described["AdditionalInferenceSpecifications"][0]["Containers"]
    assert container["ModelDataUrl"].startswith(f"s3://{BUCKET}/compiled/")


# A report outside the allowed locations: held, the event fails, decided once the locations are fixed ------


@dataclass(frozen=True)
class Misplaced:
    """churn-model/1, whose registered report (failing: auc 0.81) lies outside evaluations/, and its event."""

    version: str
    event: dict[str, Any]


FIXED_LOCATIONS = f"s3://{BUCKET}/evaluations/,s3://{BUCKET}/churn-model/"


@pytest.fixture
def misplaced(deployment: Deployment) -> Misplaced:
    uri, _ = deployment.upload("churn-model/1/evaluation.json", report(0.81, recall=0.71))
    version = deployment.register("churn-model", report_uri=uri)
    return Misplaced(version=version, event=deployment.package_event(version))


def assert_held_for_its_location(described: dict[str, Any]) -> None:
    """Held (status unchanged), the description saying registrar may not read the report, and where it is."""
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert registrar_metadata(described)["registrar:verdict"] == "Held"
    description = described["ApprovalDescription"]
    assert "registrar may not read its evidence" in description
    assert "outside the allowed report locations" in description


def test_apply_holds_a_version_whose_report_is_outside_the_locations_then_decides_it_once_fixed(
    deployment: Deployment, misplaced: Misplaced, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(misplaced.event))
    monkeypatch.delenv("REGISTRAR_TABLE_NAME")

    # WHEN `registrar apply` handles the version's event with the default locations
    status, _, stderr = run_cli("apply", str(path))

    # THEN it fails as an AWS refusal does (1), not as an invalid event (2), saying why; the version is held
    assert status == 1, stderr
    assert "outside the allowed report locations" in stderr
    assert_held_for_its_location(deployment.describe(misplaced.version))

    # WHEN the locations are fixed and the same event is applied again
    monkeypatch.setenv("REGISTRAR_REPORT_LOCATIONS", FIXED_LOCATIONS)
    status, [printed], _ = run_cli("apply", str(path))

    # THEN the report decides it (rejected: auc 0.81 < min 0.85), not "already decided"
    assert (status, printed["outcome"], printed["request"]["ModelApprovalStatus"]) == (0, "updated", "Rejected")
    described = deployment.describe(misplaced.version)
    assert (described["ModelApprovalStatus"], registrar_metadata(described)["registrar:verdict"]) == (
        "Rejected",
        "Rejected",
    )
    assert "auc 0.81 < min 0.85" in described["ApprovalDescription"]


def test_the_function_fails_such_an_event_and_decides_it_when_redriven_after_the_fix(
    deployment: Deployment, misplaced: Misplaced, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the version's event in an SQS record
    record = sqs_record(json.dumps(misplaced.event))

    # WHEN the approval function receives it with the default locations
    response = deployment.approve_with_records(record)

    # THEN the record fails (to be retried, then dead-lettered) and the version is held with the reason
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert_held_for_its_location(deployment.describe(misplaced.version))
    assert "invalid" not in [outcome.outcome for outcome in deployment.handled]

    # WHEN the locations are fixed (a new deployment: new containers) and the record is redriven
    monkeypatch.setenv("REGISTRAR_REPORT_LOCATIONS", FIXED_LOCATIONS)
    fresh_container()
    response = deployment.approve_with_records(record)

    # THEN it succeeds, and the report decides the version
    assert response == {"batchItemFailures": []}
    assert deployment.describe(misplaced.version)["ModelApprovalStatus"] == "Rejected"


# The champion is compared on the report version recorded when it was approved -----------------------------


@pytest.mark.parametrize("versioning", [True, False], ids=["versioned bucket", "unversioned bucket"])
def test_a_champion_is_compared_on_the_report_it_was_approved_on(deployment: Deployment, versioning: bool) -> None:
    # GIVEN fraud-detector/1 approved on its evaluation (auc 0.9), in a bucket with or without versioning
    if versioning:
        deployment.clients.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    champion = deployment.register("fraud-detector")
    _, put = deployment.upload("evaluations/fraud-detector/1/evaluation.json", report(0.9))
    deployment.approve_with(
        deployment.evaluate("fraud-1-eval", champion, f"s3://{BUCKET}/evaluations/fraud-detector/1")
    )
    recorded = registrar_metadata(deployment.describe(champion))
    assert deployment.describe(champion)["ModelApprovalStatus"] == "Approved"

    # THEN the decision recorded the report's VersionId (versioned) or its ETag
    expected = f"version:{put['VersionId']}" if versioning else f"etag:{put['ETag'].strip(chr(34))}"
    assert recorded["registrar:evidence-version"] == expected

    # WHEN its report is overwritten after the approval (auc 0.99), then fraud-detector/2 is evaluated (auc 0.95)
    deployment.upload("evaluations/fraud-detector/1/evaluation.json", report(0.99))
    candidate = deployment.register("fraud-detector")
    deployment.upload("evaluations/fraud-detector/2/evaluation.json", report(0.95))
    response = deployment.approve_with(
        deployment.evaluate("fraud-2-eval", candidate, f"s3://{BUCKET}/evaluations/fraud-detector/2")
    )
    assert response == {"batchItemFailures": []}
    described = deployment.describe(candidate)

    if versioning:
        # THEN the candidate is compared with the champion's auc as approved (0.9), not the overwritten 0.99
        assert described["ModelApprovalStatus"] == "Approved", described["ApprovalDescription"]
        assert "champion fraud-detector/1 0.9 " in described["ApprovalDescription"]
    else:
        # THEN the overwritten report can no longer be compared: the candidate waits for a person
        assert described["ModelApprovalStatus"] == "PendingManualApproval"
        assert registrar_metadata(described)["registrar:verdict"] == "Held"
        assert "changed since" in described["ApprovalDescription"]
