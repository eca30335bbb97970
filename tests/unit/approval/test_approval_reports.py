"""ReportStore against a real botocore S3 client under a Stubber (no network), and evidence reading."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from registrar.approval.evidence import (
    Evidence,
    champion_evidence,
    evaluation_uri,
    job_evidence,
    metric_value,
    package_evidence,
)
from registrar.approval.policy import Evaluation
from registrar.errors import DeploymentError, EvidenceError
from registrar.package import ModelPackage
from registrar.reports import (
    Report,
    ReportLocationError,
    ReportNotJsonError,
    ReportRefusedError,
    ReportStore,
    ReportTooLargeError,
    ReportUnreadableError,
    parse_report,
)

URI = "s3://reports/churn-model/1/evaluation.json"
ETAG = "9b2cf535f27731c974343645a3985328"


def respond(
    stubber: Stubber,
    data: bytes,
    *,
    length: int | None = None,
    key: str = "churn-model/1/evaluation.json",
    expected: dict[str, Any] | None = None,
    **members: Any,
) -> None:
    """GetObject answering ``data`` (with ``members`` such as ETag, VersionId), expecting ``expected`` extra params."""
    response: dict[str, Any] = {"Body": StreamingBody(io.BytesIO(data), len(data)), **members}
    response["ContentLength"] = len(data) if length is None else length
    stubber.add_response("get_object", response, {"Bucket": "reports", "Key": key, **(expected or {})})


def test_a_json_report_is_read_with_one_get_object(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a JSON object WHEN read THEN one GetObject returns the parsed document, and the ETag it was read at
    client, stubber = s3
    respond(stubber, b'{"binary_classification_metrics": {"auc": {"value": 0.91}}}', ETag=f'"{ETAG}"')
    assert ReportStore(client).read(URI) == Report(
        document={"binary_classification_metrics": {"auc": {"value": 0.91}}}, version=f"etag:{ETAG}"
    )


def test_a_report_in_a_versioned_bucket_is_read_at_its_version_id(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a versioned bucket (S3 answers a VersionId as well as the ETag) WHEN read THEN the version is the VersionId
    client, stubber = s3
    respond(stubber, b"{}", ETag=f'"{ETAG}"', VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert ReportStore(client).read(URI).version == "version:3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"


def test_an_unversioned_bucket_s_null_version_id_is_not_a_version(s3: tuple[Any, Stubber]) -> None:
    # GIVEN an object written before versioning was turned on (VersionId "null") WHEN read THEN its ETag is used
    client, stubber = s3
    respond(stubber, b"{}", ETag=f'"{ETAG}"', VersionId="null")
    assert ReportStore(client).read(URI).version == f"etag:{ETAG}"


def test_a_recorded_version_id_is_read_at_that_version(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a version recorded as version:<id> WHEN read at it THEN GetObject asks for that VersionId
    client, stubber = s3
    respond(stubber, b'{"auc": 0.9}', expected={"VersionId": "v1"}, VersionId="v1")
    assert ReportStore(client).read(URI, version="version:v1") == Report(document={"auc": 0.9}, version="version:v1")


def test_a_recorded_etag_is_read_only_if_the_object_still_has_it(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a version recorded as etag:<hex> WHEN read at it THEN GetObject sends IfMatch with the quoted ETag
    client, stubber = s3
    respond(stubber, b'{"auc": 0.9}', expected={"IfMatch": f'"{ETAG}"'}, ETag=f'"{ETAG}"')
    assert ReportStore(client).read(URI, version=f"etag:{ETAG}").document == {"auc": 0.9}


def test_an_object_changed_since_its_etag_was_recorded_cannot_be_read(s3: tuple[Any, Stubber]) -> None:
    # GIVEN an object overwritten since its ETag was recorded (S3 answers 412 PreconditionFailed)
    client, stubber = s3
    stubber.add_client_error(
        "get_object",
        service_error_code="PreconditionFailed",
        http_status_code=412,
        expected_params={"Bucket": "reports", "Key": "churn-model/1/evaluation.json", "IfMatch": f'"{ETAG}"'},
    )
    # WHEN read at the recorded ETag THEN unreadable evidence saying it changed, not the object as it is now
    with pytest.raises(ReportUnreadableError, match=f"changed since etag:{ETAG} was recorded"):
        ReportStore(client).read(URI, version=f"etag:{ETAG}")


def test_a_recorded_version_that_is_gone_cannot_be_read(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a recorded VersionId that was deleted WHEN read at it THEN unreadable evidence naming the version
    client, stubber = s3
    stubber.add_client_error("get_object", service_error_code="NoSuchVersion", http_status_code=404)
    with pytest.raises(ReportUnreadableError, match="at version:v1 cannot be read: NoSuchVersion"):
        ReportStore(client).read(URI, version="version:v1")


def test_nan_and_infinity_literals_parse_as_non_finite_floats(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a report with NaN and Infinity WHEN read THEN the report parses; those values are non-finite floats
    client, stubber = s3
    respond(stubber, b'{"auc": {"value": NaN}, "recall": {"value": Infinity}, "f1": -Infinity}')
    report = ReportStore(client).read(URI).document
    assert math.isnan(report["auc"]["value"])
    assert report["recall"]["value"] == math.inf
    assert report["f1"] == -math.inf


def test_an_object_larger_than_allowed_by_content_length_is_refused(s3: tuple[Any, Stubber]) -> None:
    # GIVEN ContentLength above max_bytes WHEN read THEN ReportTooLargeError, the body is not parsed
    client, stubber = s3
    respond(stubber, b"{}", length=6 * 1024 * 1024)
    with pytest.raises(ReportTooLargeError, match="6291456 bytes, more than the 5242880 allowed"):
        ReportStore(client).read(URI)


def test_an_object_whose_stream_exceeds_the_limit_is_refused(s3: tuple[Any, Stubber]) -> None:
    # GIVEN a ContentLength that understates the body WHEN read THEN at most max_bytes+1 are read, and refused
    client, stubber = s3
    respond(stubber, b'{"a": "' + b"x" * 100 + b'"}', length=5)
    with pytest.raises(ReportTooLargeError):
        ReportStore(client, max_bytes=50).read(URI)


def test_an_object_at_the_limit_is_read(s3: tuple[Any, Stubber]) -> None:
    # GIVEN an object of exactly max_bytes WHEN read THEN accepted
    client, stubber = s3
    data = b'{"a": "' + b"x" * 40 + b'"}'
    respond(stubber, data)
    assert ReportStore(client, max_bytes=len(data)).read(URI).document == {"a": "x" * 40}


@pytest.mark.parametrize("body", [b"not json", b'{"auc": 0.9', b"\xff\xfe\x00", b'{"auc": 0.9, "auc": 0.1}'])
def test_a_body_that_is_not_json_is_refused(s3: tuple[Any, Stubber], body: bytes) -> None:
    # GIVEN text that is not JSON, truncated JSON, non-UTF-8 bytes or a repeated key WHEN read THEN ReportNotJsonError
    client, stubber = s3
    respond(stubber, body)
    with pytest.raises(ReportNotJsonError, match=URI):
        ReportStore(client).read(URI)


def test_deep_nesting_is_refused(s3: tuple[Any, Stubber]) -> None:
    # GIVEN JSON nested 65 levels deep WHEN read THEN refused
    client, stubber = s3
    respond(stubber, b"[" * 65 + b"]" * 65)
    with pytest.raises(ReportNotJsonError, match="nests deeper than 64"):
        ReportStore(client).read(URI)


def test_absurd_nesting_is_refused_without_crashing(s3: tuple[Any, Stubber]) -> None:
    # GIVEN JSON nested 100,000 levels deep WHEN read THEN refused (no RecursionError escapes)
    client, stubber = s3
    respond(stubber, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ReportNotJsonError):
        ReportStore(client).read(URI)


def test_a_report_outside_the_allowed_locations_is_refused_before_any_call(s3: tuple[Any, Stubber]) -> None:
    # GIVEN allowed locations that do not cover the URI WHEN read THEN refused, and no GetObject was made:
    # the deployment's configuration to fix (a DeploymentError), not the report's problem (no EvidenceError)
    client, _ = s3
    store = ReportStore(client, allowed_locations=["s3://reports/fraud-model", "s3://other-bucket"])
    with pytest.raises(ReportRefusedError, match="outside the allowed report locations") as refused:
        store.read(URI)
    assert isinstance(refused.value, DeploymentError)
    assert not isinstance(refused.value, EvidenceError)


def test_a_prefix_location_matches_whole_path_segments(s3: tuple[Any, Stubber]) -> None:
    # GIVEN s3://reports/churn WHEN the URI is under churn-model/ THEN refused (churn/ is not churn-model/)
    client, _ = s3
    with pytest.raises(ReportRefusedError):
        ReportStore(client, allowed_locations=["s3://reports/churn"]).read(URI)


def test_a_report_inside_an_allowed_location_is_read(s3: tuple[Any, Stubber]) -> None:
    # GIVEN s3://reports/churn-model/ allowed WHEN a report under it is read THEN the call is made
    client, stubber = s3
    respond(stubber, b"{}")
    assert ReportStore(client, allowed_locations=["s3://reports/churn-model/"]).read(URI).document == {}


@pytest.mark.parametrize(
    "uri", ["https://reports/x.json", "reports/x.json", "s3://reports", "s3://reports/", "s3://reports/a/../x.json"]
)
def test_a_uri_that_is_not_an_s3_object_is_refused_before_any_call(s3: tuple[Any, Stubber], uri: str) -> None:
    # GIVEN a URI that is not s3://bucket/key (or that walks with '..') WHEN read THEN refused without a call:
    # the package's or the job's own data is wrong, which is evidence (of failure), not the deployment's mistake
    client, _ = s3
    with pytest.raises(ReportLocationError) as refused:
        ReportStore(client).read(uri)
    assert isinstance(refused.value, EvidenceError)


@pytest.mark.parametrize(("code", "status"), [("NoSuchKey", 404), ("NoSuchBucket", 404), ("InvalidObjectState", 403)])
def test_an_unreadable_object_is_an_evidence_error(s3: tuple[Any, Stubber], code: str, status: int) -> None:
    # GIVEN S3 answering NoSuchKey, NoSuchBucket or InvalidObjectState WHEN read THEN ReportUnreadableError naming it
    client, stubber = s3
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    with pytest.raises(ReportUnreadableError, match=f"cannot be read: {code}"):
        ReportStore(client).read(URI)


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDenied", 403), ("KMS.AccessDeniedException", 403), ("KMS.DisabledException", 400)]
)
def test_a_refusal_is_the_deployments_to_fix_not_evidence(s3: tuple[Any, Stubber], code: str, status: int) -> None:
    # GIVEN S3 refusing the function (no permission on the object, a KMS key the role may not use)
    client, stubber = s3
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    # WHEN read THEN ReportRefusedError naming the code: a DeploymentError (the version is held, the event
    # dead-lettered for a redrive after the fix), never evidence a version is decided on
    with pytest.raises(ReportRefusedError, match=f"S3 refused to read report {URI}: {code}") as caught:
        ReportStore(client).read(URI)
    assert isinstance(caught.value, DeploymentError)
    assert not isinstance(caught.value, EvidenceError)


def test_an_integer_too_long_to_convert_is_not_json_evidence() -> None:
    # GIVEN a report holding an integer of 5,000 digits WHEN parsed THEN ReportNotJsonError, not a bare ValueError
    with pytest.raises(ReportNotJsonError, match="not usable JSON"):
        parse_report(b'{"auc": {"value": ' + b"9" * 5000 + b"}}", URI)


@pytest.mark.parametrize("uri", ["s3://my bucket/r.json", "s3://b%2Fc/r.json", "s3://" + "b" * 256 + "/r.json"])
def test_a_uri_whose_bucket_is_no_bucket_name_is_refused_before_any_call(s3: tuple[Any, Stubber], uri: str) -> None:
    client, _ = s3
    with pytest.raises(ReportLocationError, match="is not a bucket name"):
        ReportStore(client).read(uri)


def test_a_transient_error_is_not_evidence(s3: tuple[Any, Stubber]) -> None:
    # GIVEN S3 answering InternalError WHEN read THEN the client error propagates (retry), not an EvidenceError
    client, stubber = s3
    stubber.add_client_error("get_object", service_error_code="InternalError", http_status_code=500)
    with pytest.raises(client.exceptions.ClientError) as caught:
        ReportStore(client).read(URI)
    assert not isinstance(caught.value, (EvidenceError, DeploymentError))


def test_the_default_client_is_created_on_first_use_only() -> None:
    # GIVEN a store without a client WHEN a URI is refused by location THEN no client was ever created
    store = ReportStore(allowed_locations=["s3://elsewhere"])
    with pytest.raises(ReportRefusedError):
        store.read(URI)
    assert store._client is None


# --- evidence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.91, (0.91, None)),
        (3, (3.0, None)),
        (None, (None, "absent")),
        (math.nan, (None, "NaN")),
        (math.inf, (None, "infinite")),
        (False, (None, "a boolean")),
        ("0.91", (None, "a string ('0.91')")),
        ([1], (None, "a list")),
        ({"a": 1}, (None, "an object")),
    ],
)
def test_metric_value_accepts_finite_numbers_only(value: Any, expected: tuple[float | None, str | None]) -> None:
    # GIVEN a report value WHEN read as a metric THEN a finite number, or the reason it is not one
    assert metric_value({"m": value}, "m") == expected


def test_evaluation_uri_joins_the_output_and_the_file() -> None:
    # GIVEN an output named evaluation (with or without a trailing slash) WHEN resolved THEN prefix + "/" + file
    job = {"ProcessingOutputConfig": {"Outputs": [{"OutputName": "evaluation", "S3Output": {"S3Uri": "s3://b/p/"}}]}}
    assert evaluation_uri(job, Evaluation()) == "s3://b/p/evaluation.json"
    assert evaluation_uri(job, Evaluation(output_name="metrics")) is None


def test_a_failed_job_is_failure_evidence_without_reading(processing_job: Any, new_package: Any) -> None:
    # GIVEN a Failed job that evaluated the version's model WHEN evidence is gathered
    # THEN it carries the failure reason and no report is read
    package = new_package("credit-risk", 1)
    job = processing_job("eval-1", "Failed", model=package, FailureReason="AlgorithmError: boom")
    evidence = job_evidence(job, Evaluation(), _NoReads(), package=package)
    assert isinstance(evidence, Evidence)
    assert evidence.job_status == "Failed"
    assert evidence.problem == "evaluation job eval-1 Failed: AlgorithmError: boom"
    assert not evidence.usable


def test_a_completed_job_without_the_named_output_is_failure_evidence(processing_job: Any, new_package: Any) -> None:
    # GIVEN a Completed job whose outputs lack the policy's output name WHEN gathered THEN a problem, not a crash
    package = new_package("credit-risk", 1)
    job = processing_job("eval-1", "Completed", output="metrics", model=package)
    evidence = job_evidence(job, Evaluation(), _NoReads(), package=package)
    assert isinstance(evidence, Evidence)
    assert evidence.problem == "evaluation job eval-1 has no S3 output named 'evaluation'"


def test_a_package_without_a_report_location_is_failure_evidence(new_package: Any) -> None:
    # GIVEN no ModelMetrics.ModelQuality.Statistics.S3Uri WHEN gathered THEN a problem saying so, nothing read
    evidence = package_evidence(new_package(report=None), _NoReads())
    assert evidence.problem is not None
    assert "ModelMetrics.ModelQuality.Statistics.S3Uri" in evidence.problem


def test_a_json_null_report_is_failure_evidence(new_package: Any, reports: Any) -> None:
    # GIVEN a report that is JSON null WHEN gathered THEN not usable
    package = new_package()
    reports.put(package.quality_report_uri, None)
    assert not package_evidence(package, reports).usable


def test_the_champions_report_falls_back_to_what_registrar_recorded(new_package: Any, reports: Any) -> None:
    # GIVEN a champion without ModelQuality statistics but with registrar:evidence (and no version recorded, as
    # before versions were recorded) WHEN read THEN that report is used, as it is now
    champion: ModelPackage = new_package(
        "fraud-model", 3, approval="Approved", report=None, metadata={"registrar:evidence": "s3://r/fraud/3.json"}
    )
    version = reports.put("s3://r/fraud/3.json", {"auc": 0.9})
    evidence = champion_evidence(champion, reports)
    assert evidence == Evidence(
        uri="s3://r/fraud/3.json", report={"auc": 0.9}, subject=champion.ModelPackageArn, version=version
    )
    assert reports.versions_read == [None]


class _NoReads:
    def read(self, uri: str, *, version: str | None = None) -> Report:
        raise AssertionError(f"no report should be read, got {uri}")
