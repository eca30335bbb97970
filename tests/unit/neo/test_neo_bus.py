"""EventBus: PutEvents in batches of 10, failed entries sent again, persistent failures raised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from registrar.bus import EventBus, PublishError, entry
from registrar.events import CompilationJobStateChange
from tests.unit.neo.fakes import T0, job_arn


@pytest.fixture
def events_client() -> Iterator[tuple[Any, Stubber]]:
    client = botocore.session.get_session().create_client("events", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _details(count: int) -> list[CompilationJobStateChange]:
    return [
        CompilationJobStateChange(
            CompilationJobName=f"job-{index:02d}",
            CompilationJobArn=job_arn(f"job-{index:02d}"),
            CompilationJobStatus="COMPLETED",
            LastModifiedTime=T0 + timedelta(minutes=index),
        )
        for index in range(count)
    ]


def _accepted(count: int) -> dict[str, Any]:
    return {"FailedEntryCount": 0, "Entries": [{"EventId": f"id-{index}"} for index in range(count)]}


def _expected(details: list[CompilationJobStateChange], bus: str = "registrar-bus") -> dict[str, Any]:
    return {"Entries": [entry(detail, bus) for detail in details]}


def test_25_events_go_out_in_calls_of_10_10_and_5(events_client: tuple[Any, Stubber]) -> None:
    client, stubber = events_client
    details = _details(25)
    for batch in (details[:10], details[10:20], details[20:]):
        stubber.add_response("put_events", _accepted(len(batch)), _expected(batch))

    published = EventBus("registrar-bus", client, sleep=lambda _: None).publish(details)

    assert published == 25


def test_an_entry_is_the_documented_contract() -> None:
    (detail,) = _details(1)

    result = entry(detail, "default")

    assert result["Source"] == "registrar"
    assert result["DetailType"] == "Compilation Job State Change"
    assert result["Resources"] == [job_arn("job-00")]
    assert json.loads(result["Detail"]) == {
        "CompilationJobName": "job-00",
        "CompilationJobArn": job_arn("job-00"),
        "CompilationJobStatus": "COMPLETED",
        "LastModifiedTime": "2024-05-01T12:00:00Z",
    }


def test_only_the_failed_entries_are_sent_again(events_client: tuple[Any, Stubber]) -> None:
    # GIVEN PutEvents accepts 2 of 3 entries, then the third on the retry
    client, stubber = events_client
    details = _details(3)
    stubber.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [
                {"EventId": "a"},
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
                {"EventId": "c"},
            ],
        },
        _expected(details),
    )
    stubber.add_response("put_events", _accepted(1), _expected([details[1]]))
    waits: list[float] = []

    published = EventBus("registrar-bus", client, sleep=waits.append).publish(details)

    assert published == 3
    assert len(waits) == 1


def test_an_entry_that_keeps_failing_is_raised(events_client: tuple[Any, Stubber]) -> None:
    client, stubber = events_client
    (detail,) = _details(1)
    failure = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]}
    for _ in range(3):
        stubber.add_response("put_events", failure, {"Entries": ANY})

    with pytest.raises(PublishError, match="job-00: ThrottlingException slow down") as raised:
        EventBus("registrar-bus", client, max_attempts=3, sleep=lambda _: None).publish([detail])

    assert raised.value.failures == [("job-00", "ThrottlingException", "slow down")]


def test_a_refused_source_is_not_retried(events_client: tuple[Any, Stubber]) -> None:
    client, stubber = events_client
    stubber.add_response(
        "put_events",
        {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "no"}]},
        {"Entries": ANY},
    )

    with pytest.raises(PublishError, match="NotAuthorizedForSourceException"):
        EventBus("registrar-bus", client, sleep=lambda _: None).publish(_details(1))


def test_nothing_to_publish_makes_no_call(events_client: tuple[Any, Stubber]) -> None:
    client, _ = events_client

    assert EventBus("registrar-bus", client).publish([]) == 0
