"""The sample events, reports and demo policy under events/: they parse, load, and do what the README says."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

import pytest

from registrar.approval.policy import load_policy, parse_policy
from registrar.approval.service import PACKAGE_TAG, ApprovalFlow, Target
from registrar.events import ModelPackageEvent, ProcessingJobEvent, parse_event
from registrar.package import ModelPackage
from registrar.reports import parse_report

ROOT = pathlib.Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "events" / "approval"
POLICY = ROOT / "events" / "policy.yaml"
NAMES = sorted(path.stem for path in SAMPLES.glob("*.json"))

# What events/approval/README.md promises for each sample run alone against its documented state.
EXPECTED = {
    "passing": ("updated", "Approved"),
    "failing": ("updated", "Rejected"),
    "missing-report": ("updated", "Rejected"),
    "nan-metric": ("updated", "Rejected"),
    "human-decided": ("skipped", None),
    "unmatched-group": ("skipped", None),
    "duplicate": ("updated", "Approved"),
    "processing-completed": ("updated", "Approved"),
    "failed-job": ("updated", "Held"),
}
REPORTS = {  # sample -> report file under events/approval/reports/
    "passing": "passing",
    "duplicate": "passing",
    "failing": "failing",
    "nan-metric": "nan-metric",
    "processing-completed": "processing",
}


def test_every_expected_sample_exists() -> None:
    # GIVEN the cases of the issue WHEN events/approval is listed THEN there is exactly one file per case
    assert sorted(EXPECTED) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_parses(name: str) -> None:
    # GIVEN a sample event WHEN parsed THEN it is a model package or processing job event
    event = parse_event(json.loads((SAMPLES / f"{name}.json").read_text()))
    assert isinstance(event, ModelPackageEvent | ProcessingJobEvent)
    assert event.account == "123456789012"
    assert event.region == "us-east-1"


def test_the_demo_policy_loads() -> None:
    # GIVEN events/policy.yaml WHEN loaded THEN valid, with rules for churn-*, fraud-* and credit-risk
    policy = load_policy(POLICY)
    assert [rule.groups for rule in policy.rules] == [["churn-*"], ["fraud-*"], ["credit-risk"]]


def test_duplicate_is_the_same_change_as_passing_with_another_id(registry: Any, reports: Any) -> None:
    # GIVEN passing.json and duplicate.json, and the package both name as SageMaker describes it
    passing = parse_event(json.loads((SAMPLES / "passing.json").read_text()))
    duplicate = parse_event(json.loads((SAMPLES / "duplicate.json").read_text()))
    assert isinstance(passing, ModelPackageEvent) and isinstance(duplicate, ModelPackageEvent)
    registry.add_package(_state_for(passing)[0])
    flow = ApprovalFlow(registry=registry, reports=reports, policy=lambda: load_policy(POLICY))
    # WHEN each is resolved
    first, second = flow.resolve(passing), flow.resolve(duplicate)
    # THEN different ids, one subject: the package as read back (the subject is no longer the event's own)
    assert isinstance(first, Target) and isinstance(second, Target)
    assert passing.id != duplicate.id
    assert first.subject == second.subject


def test_the_nan_report_holds_a_nan_auc() -> None:
    # GIVEN reports/nan-metric.json WHEN parsed as registrar parses reports THEN auc is NaN
    report = parse_report((SAMPLES / "reports" / "nan-metric.json").read_bytes())
    assert math.isnan(report["binary_classification_metrics"]["auc"]["value"])


def _state_for(event: Any) -> tuple[ModelPackage, dict[str, Any] | None, str | None]:
    """The package (and job) the README says each sample expects, and where its report lives."""
    if isinstance(event, ModelPackageEvent):
        fields = {k: v for k, v in event.detail.model_dump().items() if k != "UpdatedModelPackageFields"}
        package = ModelPackage.model_validate(fields)
        return package, None, package.quality_report_uri
    job = event.detail.model_dump()
    version = job["ProcessingJobName"].rsplit("-", 1)[-1]
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-risk/{version}"
    package = ModelPackage.model_validate(
        {
            "ModelPackageArn": arn,
            "ModelPackageGroupName": "credit-risk",
            "ModelPackageVersion": int(version),
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "PendingManualApproval",
            # The model the sample job evaluated (its input "model"): the version's own, so the job is bound to it.
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                        "ModelDataUrl": f"s3://registrar-demo-models/credit-risk/{version}/output/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
    )
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    return package, job, f"{output}/evaluation.json"


@pytest.mark.parametrize("name", NAMES)
def test_each_sample_does_what_the_readme_says(name: str, registry: Any, reports: Any) -> None:
    # GIVEN the state events/approval/README.md documents for the sample WHEN handled with the demo policy
    # THEN the outcome and verdict are the documented ones
    event = parse_event(json.loads((SAMPLES / f"{name}.json").read_text()))
    assert isinstance(event, ModelPackageEvent | ProcessingJobEvent)
    package, job, uri = _state_for(event)
    registry.add_package(package)
    if job is not None:
        registry.add_job(job, {PACKAGE_TAG: package.ModelPackageArn})
    if name in REPORTS and uri is not None:
        reports.put(uri, parse_report((SAMPLES / "reports" / f"{REPORTS[name]}.json").read_bytes()))
    policy = load_policy(POLICY)
    outcome = ApprovalFlow(registry=registry, reports=reports, policy=lambda: policy).handle(event, apply=True)
    assert (outcome.outcome, outcome.verdict) == EXPECTED[name]
    assert registry.calls["update"] == (1 if outcome.outcome == "updated" else 0)


def test_the_documented_example_policy_is_valid() -> None:
    # GIVEN the complete example in docs/policy.md WHEN parsed THEN it is a valid policy
    text = (ROOT / "docs" / "policy.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert len(parse_policy(example, source="docs/policy.md").rules) == 3
