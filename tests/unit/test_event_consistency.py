"""registrar.events: an event must agree with itself, and each flow parses only its own events.

An event whose identifiers disagree (a job's name and its ARN, the ARN's account or region and the
envelope's) names two things; whichever one a handler acted on, the other could hide a real event. Such
an event is refused at parse, with an EventError naming the rule it breaks.
"""

from __future__ import annotations

import copy
import json
import pathlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from registrar.approval import service as approval
from registrar.errors import EventError
from registrar.events import (
    ALL_EVENTS,
    CompilationJobEvent,
    ModelPackageEvent,
    ProcessingJobEvent,
    parse_event,
    utc,
)
from registrar.neo import service as neo

EVENTS = pathlib.Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted([*(EVENTS / "approval").glob("*.json"), *(EVENTS / "neo").glob("*.json")])
OTHER_ACCOUNT = "210987654321"
OTHER_REGION = "eu-west-1"


def sample(relative: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return raw


PACKAGE = "approval/passing.json"
PROCESSING = "approval/processing-completed.json"
COMPILATION = "neo/completed-ml-c5.json"


def changed(relative: str, *, detail: dict[str, Any] | None = None, **envelope: Any) -> dict[str, Any]:
    """A sample event with some detail members and envelope members replaced (``None`` removes a member)."""
    raw = copy.deepcopy(sample(relative))
    for key, value in (detail or {}).items():
        if value is None:
            raw["detail"].pop(key, None)
        else:
            raw["detail"][key] = value
    raw.update(envelope)
    return raw


# --- the samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_sample_event_still_parses(path: pathlib.Path) -> None:
    # GIVEN a sample event under events/ WHEN parsed with the self-consistency rules
    event = parse_event(json.loads(path.read_text()))
    # THEN it is one of the events registrar handles, and its flow's own parser accepts it too
    assert isinstance(event, ALL_EVENTS)
    flow_parse = neo.parse if path.parent.name == "neo" else approval.parse
    assert type(flow_parse(json.loads(path.read_text()))) is type(event)


# --- a job's name is its ARN's -------------------------------------------------------------------


def test_a_processing_job_name_that_is_not_its_arns_name_is_refused() -> None:
    # GIVEN a processing job event whose ProcessingJobName names a decoy, not the job its ARN names
    raw = changed(PROCESSING, detail={"ProcessingJobName": "decoy-job"})
    # WHEN parsed THEN refused, naming the member and the rule
    with pytest.raises(EventError, match=r"ProcessingJobName 'decoy-job' is not the job its ARN names"):
        parse_event(raw)


def test_a_processing_job_name_differing_from_its_arn_only_in_case_is_the_same_job() -> None:
    # GIVEN a ProcessingJobName in capitals (SageMaker writes names into ARNs in lower case)
    raw = changed(PROCESSING, detail={"ProcessingJobName": "Credit-Risk-Evaluation-1"})
    # WHEN parsed THEN accepted, and the job is the one named
    event = parse_event(raw)
    assert isinstance(event, ProcessingJobEvent)
    assert event.detail.job_name == "Credit-Risk-Evaluation-1"


def test_a_processing_job_without_a_name_is_named_by_its_arn() -> None:
    # GIVEN a processing job event without ProcessingJobName WHEN parsed THEN the job is the ARN's
    event = parse_event(changed(PROCESSING, detail={"ProcessingJobName": None}))
    assert isinstance(event, ProcessingJobEvent)
    assert event.detail.job_name == "credit-risk-evaluation-1"


def test_a_processing_job_arn_of_another_resource_type_is_refused() -> None:
    # GIVEN a ProcessingJobArn that is a training job's ARN WHEN parsed THEN refused: it names no processing job
    arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/credit-risk-evaluation-1"
    with pytest.raises(EventError, match="is not a SageMaker processing-job ARN"):
        parse_event(changed(PROCESSING, detail={"ProcessingJobArn": arn}))


def test_a_compilation_job_arn_naming_another_job_is_refused() -> None:
    # GIVEN a compilation event naming one job by CompilationJobName and another by CompilationJobArn
    arn = "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/someone-elses-job"
    raw = changed(COMPILATION, detail={"CompilationJobArn": arn})
    # WHEN parsed THEN refused, naming the member and the rule
    with pytest.raises(EventError, match=r"CompilationJobName 'churn-model-1-ml-c5' is not the job its ARN names"):
        parse_event(raw)


def test_a_compilation_job_name_differing_from_its_arn_only_in_case_is_the_same_job() -> None:
    # GIVEN a CompilationJobName in capitals and the ARN in lower case WHEN parsed THEN accepted
    event = parse_event(changed(COMPILATION, detail={"CompilationJobName": "Churn-Model-1-ML-C5"}))
    assert isinstance(event, CompilationJobEvent)


def test_a_compilation_job_arn_of_another_resource_type_is_refused() -> None:
    # GIVEN a CompilationJobArn that is a processing job's ARN WHEN parsed THEN refused
    arn = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/churn-model-1-ml-c5"
    with pytest.raises(EventError, match="is not a SageMaker compilation-job ARN"):
        parse_event(changed(COMPILATION, detail={"CompilationJobArn": arn}))


def test_a_compilation_event_without_an_arn_is_named_by_its_name() -> None:
    # GIVEN a compilation event without CompilationJobArn (the contract makes it optional) WHEN parsed THEN accepted
    event = parse_event(changed(COMPILATION, detail={"CompilationJobArn": None}))
    assert isinstance(event, CompilationJobEvent)
    assert event.detail.arn is None


# --- the resource is in the envelope's account and region ----------------------------------------


@pytest.mark.parametrize("relative", [PACKAGE, PROCESSING, COMPILATION])
def test_an_arn_in_another_account_than_the_event_is_refused(relative: str) -> None:
    # GIVEN an event sent from another account than the one its detail's ARN lives in
    raw = changed(relative, account=OTHER_ACCOUNT)
    # WHEN parsed THEN refused, naming both accounts
    with pytest.raises(EventError, match=f"is in account 123456789012, the event in {OTHER_ACCOUNT}"):
        parse_event(raw)


@pytest.mark.parametrize("relative", [PACKAGE, PROCESSING, COMPILATION])
def test_an_arn_in_another_region_than_the_event_is_refused(relative: str) -> None:
    # GIVEN an event sent from another region than the one its detail's ARN lives in
    raw = changed(relative, region=OTHER_REGION)
    # WHEN parsed THEN refused, naming both regions
    with pytest.raises(EventError, match=f"is in region us-east-1, the event in {OTHER_REGION}"):
        parse_event(raw)


def test_an_arn_and_an_envelope_both_in_another_account_and_region_agree() -> None:
    # GIVEN a model package event from eu-west-1 in another account about a version there WHEN parsed THEN accepted
    arn = f"arn:aws:sagemaker:{OTHER_REGION}:{OTHER_ACCOUNT}:model-package/churn-model/1"
    raw = changed(PACKAGE, detail={"ModelPackageArn": arn}, account=OTHER_ACCOUNT, region=OTHER_REGION)
    event = parse_event(raw)
    assert isinstance(event, ModelPackageEvent)
    assert event.detail.arn == arn


# --- each flow parses its own events only --------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "accepted"),
    [
        (COMPILATION, (ModelPackageEvent, ProcessingJobEvent)),
        (PACKAGE, (CompilationJobEvent,)),
        (PROCESSING, (CompilationJobEvent,)),
        (PROCESSING, (ModelPackageEvent,)),
    ],
)
def test_parse_event_refuses_an_event_it_was_not_told_to_accept(relative: str, accepted: tuple[Any, ...]) -> None:
    # GIVEN a valid event of one flow WHEN parsed accepting only another flow's events
    # THEN refused, naming the events that are accepted
    with pytest.raises(EventError, match="is not an event this flow handles"):
        parse_event(sample(relative), accepted=accepted)


def test_the_approval_flow_refuses_a_compilation_event() -> None:
    # GIVEN a compilation event WHEN the approval flow parses it THEN refused
    with pytest.raises(EventError, match="'Compilation Job State Change' is not an event this flow handles"):
        approval.parse(sample(COMPILATION))


@pytest.mark.parametrize("relative", [PACKAGE, PROCESSING])
def test_the_neo_flow_refuses_a_sagemaker_event(relative: str) -> None:
    # GIVEN a SageMaker event WHEN the Neo flow parses it THEN refused
    with pytest.raises(EventError, match="is not an event this flow handles"):
        neo.parse(sample(relative))


def test_a_compilation_event_from_another_source_is_refused() -> None:
    # GIVEN the Neo flow's detail-type from aws.sagemaker rather than registrar WHEN parsed THEN refused
    with pytest.raises(EventError, match=r"source 'aws\.sagemaker' with detail-type 'Compilation Job State Change'"):
        parse_event(changed(COMPILATION, source="aws.sagemaker"))


@pytest.mark.parametrize("raw", [None, [], "event", 3])
def test_an_event_that_is_not_an_object_is_refused(raw: Any) -> None:
    # GIVEN an event that is not a JSON object WHEN parsed THEN refused
    with pytest.raises(EventError, match="must be a JSON object"):
        parse_event(raw)


# --- utc ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        "2025-03-04T17:00:14Z",
        "2025-03-04T18:00:14+01:00",
        datetime(2025, 3, 4, 12, 0, 14, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2025, 3, 4, 17, 0, 14),  # naive: taken as UTC
        1741107614,
        1741107614000,
        "1741107614",
    ],
)
def test_utc_reads_every_form_of_one_instant_as_that_instant_in_utc(moment: Any) -> None:
    # GIVEN one instant written in any form AWS uses WHEN read with utc() THEN that instant, in UTC
    instant = utc(moment)
    assert instant == datetime(2025, 3, 4, 17, 0, 14, tzinfo=UTC)
    assert instant is not None and instant.utcoffset() == timedelta(0)


@pytest.mark.parametrize("moment", [None, ""])
def test_utc_of_no_time_is_none(moment: Any) -> None:
    # GIVEN no timestamp WHEN read with utc() THEN None, not an error
    assert utc(moment) is None
