"""The bad-input corpus: every file under corpus/ through the entry point it attacks, with its expected outcome.

``expected.yaml`` names, for each file, what must become of it — a clear error naming the problem, a skip,
a rejection on the real evidence — and never an approval, never an unhandled crash that loses the message.

- events/ go through the Lambda's batch handler (``registrar.batch.process_batch``) as SQS records, with the
  flow a deployed rule routes their detail-type to (the approval flow for anything else) and a fake SageMaker
  (one pending churn version whose registered report fails) passed in that flow: a poison record must be
  reported in ``batchItemFailures`` (SQS redelivers it, then dead-letters it), nothing may be written, and
  whatever is decided is decided on the real state.
- reports/ are served by S3 through botocore's Stubber to :class:`registrar.reports.ReportStore`, then
  decided under the churn rule (or the policy their entry names): an unusable report is a clear
  :class:`~registrar.errors.EvidenceError` or an unusable metric, and the version is rejected.
- locations are report URIs registrar may not read: refused before any S3 call. One outside the allowed
  locations is the deployment's mistake (:class:`~registrar.reports.ReportRefusedError`): the version is
  held, never decided on it; a malformed one is the version's own (:class:`~registrar.reports.ReportLocationError`):
  rejected.
- policies/ go through :func:`registrar.approval.policy.parse_policy`; updates/ through
  :meth:`registrar.updates.PackageUpdate.from_request`.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import pathlib
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from registrar import reports as report_module
from registrar.approval import service as approval
from registrar.approval.decide import Decision, decide, precheck
from registrar.approval.evidence import Evidence, read_evidence
from registrar.approval.policy import Policy, load_policy, parse_policy
from registrar.batch import process_batch
from registrar.errors import DeploymentError, EvidenceError, InvalidUpdateError, PolicyError
from registrar.neo import service as neo
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.reports import (
    MAX_VALUES,
    Report,
    ReportLocationError,
    ReportNotJsonError,
    ReportRefusedError,
    ReportStore,
)
from registrar.updates import PackageUpdate
from registrar_cli.flows import flow_name
from registrar_dev.outcomes import listening
from registrar_dev.runner import LocalLambdaContext

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
EXPECTED: dict[str, Any] = yaml.safe_load((HERE / "expected.yaml").read_text())
POLICY = load_policy(HERE.parents[1] / "events" / "policy.yaml")
ALLOWED = "s3://registrar-reports/evaluations/"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/1"
REPORT_URI = f"{ALLOWED}churn-model/1/evaluation.json"
FAILING = json.loads((HERE.parents[1] / "events" / "approval" / "reports" / "failing.json").read_text())


def cases(section: str) -> list[Any]:
    return [pytest.param(name, expected, id=name) for name, expected in EXPECTED[section].items()]


def test_every_corpus_file_has_an_expected_outcome() -> None:
    # GIVEN the corpus on disk WHEN compared with expected.yaml THEN every file is listed, and nothing else
    on_disk = {f"{path.parent.name}/{path.name}" for path in CORPUS.glob("*/*")}
    listed = {
        f"{section}/{name}" for section in ("events", "reports", "policies", "updates") for name in EXPECTED[section]
    }
    assert on_disk == listed


# Events ------------------------------------------------------------------------------------------------


def not_found(operation: str, what: str) -> ClientError:
    """What SageMaker answers for something that does not exist (ValidationException)."""
    return ClientError({"Error": {"Code": "ValidationException", "Message": f"{what} not found"}}, operation)


class FakeSageMaker:
    """One pending churn version whose registered report fails; everything else does not exist.

    ``calls`` names every call made of it, in order.
    """

    def __init__(self) -> None:
        self.updates: list[PackageUpdate] = []
        self.calls: list[str] = []
        self.package = ModelPackage.model_validate(
            {
                "ModelPackageArn": ARN,
                "ModelPackageGroupName": "churn-model",
                "ModelPackageVersion": 1,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": "PendingManualApproval",
                "CreationTime": datetime(2025, 3, 4, tzinfo=UTC),
                "ModelMetrics": {
                    "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": REPORT_URI}}
                },
            }
        )

    def describe(self, model_package_arn: str) -> ModelPackage:
        self.calls.append("DescribeModelPackage")
        if model_package_arn != ARN:
            raise not_found("DescribeModelPackage", f"Model package {model_package_arn}")
        return self.package

    def describe_processing_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        self.calls.append("DescribeProcessingJob")
        raise not_found("DescribeProcessingJob", f"Processing job {name}")

    def describe_compilation_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        self.calls.append("DescribeCompilationJob")
        raise not_found("DescribeCompilationJob", f"Compilation job {name}")

    def tags(self, resource_arn: str) -> dict[str, str]:
        self.calls.append("ListTags")
        return {}

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        self.calls.append("ListModelPackages")
        return None

    def update(self, update: PackageUpdate) -> str:
        self.calls.append("UpdateModelPackage")
        self.updates.append(update)
        return update.ModelPackageArn


class FakeReports:
    """S3 holding the version's registered (failing) report, and nothing else."""

    def __init__(self) -> None:
        self.read_uris: list[str] = []

    def read(self, uri: str, *, version: str | None = None) -> Report:
        self.read_uris.append(uri)
        if uri != REPORT_URI:
            raise report_module.ReportUnreadableError(f"report {uri} cannot be read: NoSuchKey")
        return Report(document=FAILING, version="etag:0123456789abcdef")


def routed_to(body: bytes) -> str:
    """The flow whose queue a deployed rule routes the body to, by its detail-type; the approval queue otherwise."""
    try:
        return flow_name(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, not an object, a detail-type no rule routes
        return "approval"


class PoisonReasons(logging.Handler):
    """The reasons registrar logs its ``poison event`` lines with, as logged (account ids masked)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("poison event"):
            self.reasons.append(str(getattr(record, "reason", "")))


def handle_body(body: bytes) -> tuple[dict[str, Any], list[Outcome], FakeSageMaker, list[str]]:
    """The batch handler's answer to one record, the outcomes logged, the fake SageMaker and the poison reasons."""
    sagemaker, store = FakeSageMaker(), FakeReports()
    flow = routed_to(body)
    record = {
        "messageId": "bad-input",
        "receiptHandle": "receipt",
        "body": body.decode("utf-8", errors="surrogateescape"),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:registrar-{flow}",
        "awsRegion": "us-east-1",
    }
    batch = {"Records": [record]}
    context: Any = LocalLambdaContext("registrar-bad-input")  # a stand-in for Powertools' LambdaContext
    seen: list[Outcome] = []
    poison = PoisonReasons()
    logger = logging.getLogger("registrar")
    logger.addHandler(poison)
    try:
        with listening(lambda outcome, _subject: seen.append(outcome)):
            if flow == "neo":
                response = process_batch(
                    batch, context, parse=neo.parse, flow=neo.NeoFlow(registry=sagemaker), table_name=None
                )
            else:
                approvals = approval.ApprovalFlow(registry=sagemaker, reports=store, policy=lambda: POLICY)
                response = process_batch(batch, context, parse=approval.parse, flow=approvals, table_name=None)
    finally:
        logger.removeHandler(poison)
    return response, seen, sagemaker, poison.reasons


@pytest.mark.parametrize(("name", "expected"), cases("events"))
def test_bad_event_is_never_an_approval_nor_a_lost_message(name: str, expected: dict[str, str]) -> None:
    # GIVEN an event from the corpus WHEN the batch handler gets it as an SQS record
    response, outcomes, sagemaker, poison = handle_body((CORPUS / "events" / name).read_bytes())
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    # THEN nothing is approved, and the record is either handled or handed back to SQS (never dropped)
    assert all(update.ModelApprovalStatus != "Approved" for update in sagemaker.updates)
    kind = expected["expect"]
    if kind == "poison":  # not an event registrar handles: refused before any AWS call, saying why
        assert (failed, outcomes, sagemaker.calls) == (["bad-input"], [], [])
        assert len(poison) == 1
        if expected.get("at") == "batch":  # it agrees with itself, but is about another account or region
            assert expected["reason"] in poison[0]
    elif kind == "invalid":  # parsed, but names nothing that exists: a clear reason, then the DLQ
        assert failed == ["bad-input"]
        assert [o.outcome for o in outcomes] == ["invalid"] and sagemaker.updates == []
        assert expected["reason"] in " ".join(outcomes[0].reasons)
    elif kind == "skipped":
        assert failed == [] and [o.outcome for o in outcomes] == ["skipped"] and sagemaker.updates == []
        assert expected["reason"] in " ".join(outcomes[0].reasons)
    else:  # decided on the state read from AWS, whatever the event claims
        assert failed == [] and [(o.outcome, o.verdict) for o in outcomes] == [("updated", kind)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [c for c in cases("events") if c.values[1]["expect"] == "poison" and c.values[1].get("at") != "batch"],
)
def test_unparseable_event_is_refused_with_its_reason(name: str, expected: dict[str, str]) -> None:
    # GIVEN a poison event WHEN parsed THEN the error says what is wrong with it
    from registrar.errors import EventError
    from registrar.events import parse_event

    text = (CORPUS / "events" / name).read_text(errors="replace")
    with pytest.raises((EventError, ValueError, RecursionError)) as raised:
        parse_event(json.loads(text))
    assert expected["reason"] in str(raised.value)


# Reports -----------------------------------------------------------------------------------------------


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def s3_client() -> Any:
    """A botocore S3 client that reaches nothing: every response comes from a Stubber."""
    return _session().create_client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def stubbed_store(body: bytes, *, content_length: int | None = None, max_bytes: int | None = None) -> ReportStore:
    client = s3_client()
    stubber = Stubber(client)
    stubber.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentLength": content_length or len(body)},
        {"Bucket": "registrar-reports", "Key": "evaluations/churn-model/1/evaluation.json"},
    )
    stubber.activate()
    kwargs: dict[str, Any] = {} if max_bytes is None else {"max_bytes": max_bytes}
    return ReportStore(client, allowed_locations=[ALLOWED], **kwargs)


def decided(evidence: Evidence, policy: Policy = POLICY) -> Decision:
    """The pending churn version decided under the churn rule (of ``policy``) on ``evidence`` (no champion)."""
    package = FakeSageMaker().package
    matched = precheck(package, policy)
    assert not isinstance(matched, Decision), matched.reasons
    return decide(package, evidence, policy, matched, None)


def decide_on(store: ReportStore, policy: Policy = POLICY) -> tuple[Any, str]:
    decision = decided(read_evidence(store, REPORT_URI, subject=ARN), policy)
    return decision.verdict, " ".join(decision.reasons)


@pytest.mark.parametrize(("name", "expected"), cases("reports"))
def test_bad_report_is_a_clear_error_and_never_an_approval(name: str, expected: dict[str, str]) -> None:
    # GIVEN a report from the corpus in S3
    body = (CORPUS / "reports" / name).read_bytes()
    policy = load_policy(HERE / expected["policy"]) if "policy" in expected else POLICY
    # WHEN it is read, then decided under the churn rule
    if expected["expect"] == "Rejected":
        verdict, reasons = decide_on(stubbed_store(body), policy)
    else:
        error_class = getattr(report_module, expected["expect"])
        with pytest.raises(error_class) as raised:
            stubbed_store(body).read(REPORT_URI)
        assert expected["reason"] in str(raised.value)
        verdict, reasons = decide_on(stubbed_store(body), policy)
    # THEN the version is rejected, saying why
    assert verdict == "Rejected"
    assert expected["reason"] in reasons


@pytest.mark.parametrize(
    ("body", "content_length", "reason"),
    [
        pytest.param(b"{" + b" " * (64 * 1024) + b"}", None, "more than the 65536 allowed", id="huge"),
        pytest.param(b"[" + b"0," * 40_000 + b"0]", 10, "larger than the 65536 bytes allowed", id="huge-lying-length"),
    ],
)
def test_huge_report_is_refused_unread(body: bytes, content_length: int | None, reason: str) -> None:
    # GIVEN a report larger than the store's bound (64 KiB here; 5 MiB deployed), its length told or not
    store = stubbed_store(body, content_length=content_length, max_bytes=64 * 1024)
    # WHEN it is read THEN it is refused as too large, and the version would be rejected
    with pytest.raises(report_module.ReportTooLargeError) as raised:
        store.read(REPORT_URI)
    assert reason in str(raised.value)


def hostile_report(size: int) -> bytes:
    """``[{},{},...]`` of exactly ``size`` bytes (padded with spaces): the most values per byte JSON allows."""
    count = (size - 2 + 1) // 3
    body = b"[" + b",".join([b"{}"] * count) + b"]"
    return body + b" " * (size - len(body))


def test_hostile_report_of_empty_objects_is_refused_before_it_is_parsed() -> None:
    # GIVEN the report of issue #14: 5,241,073 bytes of empty objects, within the 5 MiB a report may have
    body = hostile_report(5_241_073)
    assert len(body) <= report_module.DEFAULT_MAX_BYTES
    # WHEN it is read THEN it is refused by its count of values, before anything is parsed
    with pytest.raises(ReportNotJsonError) as raised:
        stubbed_store(body).read(REPORT_URI)
    assert f"holds more than {MAX_VALUES} values" in str(raised.value)
    # AND a decision on it rejects the version, saying why
    verdict, reasons = decide_on(stubbed_store(body))
    assert verdict == "Rejected"
    assert "holds more than" in reasons


@pytest.mark.parametrize(
    ("element", "values"),
    [
        pytest.param("0", 1, id="numbers"),
        pytest.param("{}", 1, id="empty-objects"),
        pytest.param("[]", 1, id="empty-arrays"),
        pytest.param('{"k": 0}', 2, id="one-key-objects"),
        pytest.param("[0]", 2, id="one-number-arrays"),
    ],
)
def test_a_report_of_as_many_values_as_allowed_is_parsed_and_one_element_more_is_refused(
    element: str, values: int
) -> None:
    # GIVEN a list of elements of ``values`` values each, as many as a report of at most MAX_VALUES may hold (the
    # list is one value), and the same list with one element more
    count = (MAX_VALUES - 1) // values

    def listing(n: int) -> bytes:
        return ("[" + ",".join([element] * n) + "]").encode()

    # WHEN each is parsed THEN the first is a report, the second is not: the limit counts values, whatever they are
    assert len(report_module.parse_report(listing(count))) == count
    with pytest.raises(ReportNotJsonError, match=f"holds more than {MAX_VALUES} values"):
        report_module.parse_report(listing(count + 1))


# Locations ---------------------------------------------------------------------------------------------


def untouchable_store() -> ReportStore:
    """A store of the allowed locations whose S3 client fails the test on any call."""
    client = s3_client()
    stubber = Stubber(client)
    stubber.activate()
    return ReportStore(client, allowed_locations=[ALLOWED])


@pytest.mark.parametrize("uri", EXPECTED["locations"]["outside"])
def test_report_outside_the_allowed_locations_is_refused_without_a_call_and_holds_the_version(uri: str) -> None:
    # GIVEN a store whose S3 client fails the test on any call
    store = untouchable_store()
    # WHEN the URI is read THEN it is refused as the deployment's mistake, not the report's, and S3 was never asked
    with pytest.raises(ReportRefusedError) as raised:
        store.read(uri)
    assert "is outside the allowed report locations" in str(raised.value)
    # AND a decision on it holds the version, under a reject rule too: a deployment's mistake earns no verdict
    decision = decided(read_evidence(store, uri, subject=ARN))
    assert decision.verdict == "Held"
    assert "registrar may not read its evidence" in " ".join(decision.reasons)


@pytest.mark.parametrize("uri", EXPECTED["locations"]["malformed"])
def test_malformed_report_uri_is_refused_without_a_call_and_rejects_the_version(uri: str) -> None:
    store = untouchable_store()
    # WHEN the URI is read THEN it is refused as the version's own bad data, and S3 was never asked
    with pytest.raises(ReportLocationError):
        store.read(uri)
    # AND a decision on it rejects the version
    assert decided(read_evidence(store, uri, subject=ARN)).verdict == "Rejected"


# Policies and updates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "reason"), [pytest.param(n, r, id=n) for n, r in EXPECTED["policies"].items()])
def test_bad_policy_is_refused_naming_the_problem(name: str, reason: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy((CORPUS / "policies" / name).read_text(), source=name)
    assert reason in str(raised.value)


@pytest.mark.parametrize(("name", "field"), [pytest.param(n, f, id=n) for n, f in EXPECTED["updates"].items()])
def test_bad_update_request_is_refused_naming_the_field(name: str, field: str) -> None:
    with pytest.raises(InvalidUpdateError) as raised:
        PackageUpdate.from_request(json.loads((CORPUS / "updates" / name).read_text()))
    assert any(violation.field == field for violation in raised.value.violations)


def test_evidence_errors_are_the_ones_the_decision_turns_into_reasons() -> None:
    # GIVEN every report error class WHEN checked THEN each is an EvidenceError (read_evidence's contract)
    for name in ("ReportLocationError", "ReportUnreadableError", "ReportTooLargeError", "ReportNotJsonError"):
        assert issubclass(getattr(report_module, name), EvidenceError)
    # AND a refusal is the deployment's, never evidence: no verdict is earned on it
    assert issubclass(ReportRefusedError, DeploymentError)
    assert not issubclass(ReportRefusedError, EvidenceError)
