"""Evidence bound to its version, purely: unbound_reason(), job_evidence()'s Refusal, refusal_update(), and
decide() on evidence registrar may not read. No AWS; the flow around them is in test_approval_provenance.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from registrar.approval.decide import REFUSED_KEY, refusal_update
from registrar.approval.evidence import Evidence, Refusal, job_evidence, unbound_reason
from registrar.approval.policy import Evaluation, Policy
from registrar.package import ModelPackage
from registrar.reports import Report
from tests.unit.approval.conftest import model_uri
from tests.unit.approval.deciding import decided

Builder = Callable[..., ModelPackage]
JobBuilder = Callable[..., dict[str, Any]]
QualityReport = Callable[..., dict[str, Any]]


class _NoReads:
    """A report store that must not be read: refused evidence is never looked at."""

    def read(self, uri: str, *, version: str | None = None) -> Report:
        raise AssertionError(f"no report should be read, got {uri}")


# --- unbound_reason: what the job was given --------------------------------------------------------


def test_a_job_given_the_versions_model_artifact_is_bound(new_package: Builder, processing_job: JobBuilder) -> None:
    # GIVEN credit-risk/1 and a job whose input "model" is /1's ModelDataUrl WHEN checked THEN bound
    package = new_package("credit-risk", 1)
    job = processing_job("credit-eval-1", model=package.model_data_url)
    assert package.model_data_url == model_uri("credit-risk", 1)
    assert unbound_reason(job, package) is None


@pytest.mark.parametrize("where", ["environment", "arguments", "inputs"])
def test_a_job_given_the_versions_arn_is_bound(new_package: Builder, processing_job: JobBuilder, where: str) -> None:
    # GIVEN a job that was given the version's ARN (an environment value, a container argument or an input),
    # and none of the version's model artifact WHEN checked THEN bound: it evaluated what the ARN names
    package = new_package("credit-risk", 1)
    arn = package.ModelPackageArn
    choices: dict[str, dict[str, Any]] = {
        "environment": {"Environment": {"MODEL_PACKAGE_ARN": arn, "THRESHOLD": "0.5"}},
        "arguments": {"AppSpecification": {"ImageUri": "image", "ContainerArguments": ["--model-package", arn]}},
        "inputs": {"ProcessingInputs": [{"InputName": "package", "S3Input": {"S3Uri": arn}}]},
    }
    job = processing_job("credit-eval-1", **choices[where])
    assert unbound_reason(job, package) is None


def test_a_job_given_another_versions_artifact_is_unbound(new_package: Builder, processing_job: JobBuilder) -> None:
    # GIVEN credit-risk/1, and a job that evaluated credit-risk/2's model (its own ModelDataUrl) WHEN checked for /1
    one, two = new_package("credit-risk", 1), new_package("credit-risk", 2)
    job = processing_job("credit-eval-2", model=two)
    # THEN unbound, naming the job, the version and the artifact that was looked for
    reason = unbound_reason(job, one)
    assert reason is not None
    assert reason.startswith(f"evaluation job credit-eval-2 did not evaluate {one.ModelPackageArn}: ")
    assert f"its model artifact {one.model_data_url}" in reason
    assert unbound_reason(job, two) is None


def test_a_job_without_inputs_is_unbound(new_package: Builder, processing_job: JobBuilder) -> None:
    # GIVEN a job given nothing at all (no inputs, no environment, no arguments) WHEN checked THEN unbound
    package = new_package("credit-risk", 1)
    job = processing_job("credit-eval-1")
    assert "ProcessingInputs" not in job
    assert unbound_reason(job, package) is not None


@pytest.mark.parametrize(
    "uri",
    [
        "s3://registrar-test-models/credit-risk/1/output/",  # the folder the artifact is in
        "s3://registrar-test-models/credit-risk/1/output/model.tar.gz.bak",
        "S3://REGISTRAR-TEST-MODELS/credit-risk/1/output/model.tar.gz",
    ],
)
def test_only_the_artifact_itself_binds(new_package: Builder, processing_job: JobBuilder, uri: str) -> None:
    # GIVEN a job given a URI that resembles the version's artifact but is not it WHEN checked THEN unbound
    package = new_package("credit-risk", 1)
    assert unbound_reason(processing_job("credit-eval-1", model=uri), package) is not None


def test_a_version_without_a_model_artifact_is_bound_by_its_arn_only(
    new_package: Builder, processing_job: JobBuilder
) -> None:
    # GIVEN a version with no ModelDataUrl WHEN a job given some model is checked THEN unbound, saying it has none
    package = new_package("credit-risk", 1, model=None)
    reason = unbound_reason(processing_job("credit-eval-1", model=model_uri("credit-risk", 1)), package)
    assert reason is not None and "a model artifact (it has none)" in reason
    # AND a job given its ARN is bound
    bound = processing_job("credit-eval-1", Environment={"MODEL_PACKAGE_ARN": package.ModelPackageArn})
    assert unbound_reason(bound, package) is None


# --- job_evidence: a Refusal, never evidence -------------------------------------------------------


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_an_unbound_job_is_a_refusal_whatever_its_status(
    new_package: Builder, processing_job: JobBuilder, status: str
) -> None:
    # GIVEN a job that evaluated another model, Completed, Failed or Stopped WHEN its evidence is gathered
    # THEN a Refusal with the reason: not failure evidence (a Failed job would reject), and nothing is read
    package = new_package("credit-risk", 1)
    job = processing_job("other-eval", status, model="s3://other-team/model.tar.gz", FailureReason="boom")
    evidence = job_evidence(job, Evaluation(), _NoReads(), package=package)
    assert isinstance(evidence, Refusal)
    assert evidence.reason == unbound_reason(job, package)


def test_a_bound_failed_job_is_still_failure_evidence(new_package: Builder, processing_job: JobBuilder) -> None:
    # GIVEN a Failed job that evaluated the version's model WHEN gathered THEN failure evidence, as before
    package = new_package("credit-risk", 1)
    job = processing_job("credit-eval-1", "Failed", model=package, FailureReason="AlgorithmError: boom")
    evidence = job_evidence(job, Evaluation(), _NoReads(), package=package)
    assert isinstance(evidence, Evidence)
    assert (evidence.job_status, evidence.usable) == ("Failed", False)


# --- refusal_update: registrar:refused, and nothing else -------------------------------------------


def test_a_refusal_is_a_metadata_only_request(new_package: Builder) -> None:
    # GIVEN a pending version WHEN a refusal is to be recorded THEN one metadata entry, registrar:refused, with a token
    package = new_package("credit-risk", 1)
    update = refusal_update(package, "evaluation job x did not evaluate it")
    assert update is not None
    request = update.to_request()
    assert set(request) == {"ModelPackageArn", "CustomerMetadataProperties", "ClientToken"}
    assert request["CustomerMetadataProperties"] == {REFUSED_KEY: "evaluation job x did not evaluate it"}
    assert REFUSED_KEY == "registrar:refused"


def test_a_refusal_already_recorded_is_not_written_again(new_package: Builder) -> None:
    # GIVEN a version that records this very refusal WHEN recorded again THEN nothing to write
    package = new_package("credit-risk", 1, metadata={REFUSED_KEY: "evaluation job x did not evaluate it"})
    assert refusal_update(package, "evaluation job x did not evaluate it") is None


def test_a_refusal_without_room_is_not_written(new_package: Builder) -> None:
    # GIVEN a version whose 50 metadata entries are other tools' WHEN a refusal is to be recorded THEN nothing
    package = new_package("credit-risk", 1, metadata={f"team:key-{i}": "v" for i in range(50)})
    assert refusal_update(package, "evaluation job x did not evaluate it") is None


def test_a_refusal_reason_is_fitted_to_a_metadata_value(new_package: Builder) -> None:
    # GIVEN a reason with characters metadata refuses and longer than 256 WHEN recorded THEN it fits the rules
    package = new_package("credit-risk", 1)
    update = refusal_update(package, "job 'x' (other team's) did not evaluate " + "y" * 400)
    assert update is not None
    value = (update.CustomerMetadataProperties or {})[REFUSED_KEY]
    assert len(value) == 256 and "'" not in value and "(" not in value


def test_a_decision_keeps_the_record_of_a_refusal(
    new_package: Builder, policy: Policy, quality_report: QualityReport
) -> None:
    # GIVEN a version that records an earlier refusal WHEN it is decided on its own evidence
    # THEN the refusal's record is history, not the decision: neither rewritten nor removed
    package = new_package(metadata={REFUSED_KEY: "evaluation job x did not evaluate it"})
    evidence = Evidence(uri=package.quality_report_uri, report=quality_report(auc=0.91, recall=0.72), version="etag:1")
    decision = decided(package, evidence, policy, None)
    assert decision.verdict == "Approved"
    assert REFUSED_KEY not in decision.metadata
    assert REFUSED_KEY not in decision.metadata_to_remove


# --- decide: evidence registrar may not read -------------------------------------------------------

BLOCKED = "report s3://elsewhere/r.json is outside the allowed report locations (s3://registrar-test-reports)"


@pytest.mark.parametrize(("group", "rule"), [("churn-model", "reject"), ("fraud-model", "hold")])
def test_blocked_evidence_holds_whatever_the_rule(new_package: Builder, policy: Policy, group: str, rule: str) -> None:
    # GIVEN evidence registrar may not read (outside the allowed locations), under a reject rule and a hold rule
    package = new_package(group, 1)
    evidence = Evidence(uri="s3://elsewhere/r.json", blocked=BLOCKED, subject=package.ModelPackageArn)
    # WHEN decided THEN Held with the reason: the deployment's mistake is no verdict on the model
    decision = decided(package, evidence, policy, None)
    assert decision.verdict == "Held"
    assert decision.description is not None
    assert decision.description.startswith(f"registrar: Held — registrar may not read its evidence: {BLOCKED}")
    assert not evidence.usable


def test_a_blocked_champion_holds_the_candidate(
    new_package: Builder, policy: Policy, quality_report: QualityReport
) -> None:
    # GIVEN a candidate that passes, and a champion whose report registrar may not read WHEN decided THEN Held
    package = new_package("fraud-model", 4)
    evidence = Evidence(uri=package.quality_report_uri, report=quality_report(auc=0.99), version="etag:1")
    champion = Evidence(uri="s3://elsewhere/3.json", blocked=BLOCKED, subject=package.ModelPackageArn[:-1] + "3")
    decision = decided(package, evidence, policy, champion)
    assert decision.verdict == "Held"
    assert decision.description is not None and "registrar may not read its evidence" in decision.description
