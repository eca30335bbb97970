"""Watermark: a DynamoDB item that only moves forward, written conditionally, with the jobs announced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from registrar.watermark import MAX_ANNOUNCED, MemoryWatermark, Watermark, WatermarkState, to_micros
from tests.unit.neo.fakes import T0

TABLE = "registrar-state"
ITEM_ID = "watermark#sweeper#compilation-jobs"
T0_MICROS = str(int(T0.timestamp()) * 1_000_000)


@pytest.fixture
def dynamodb() -> Iterator[tuple[Any, Stubber]]:
    client = botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _get_request() -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "Key": {"id": {"S": ITEM_ID}},
        "ConsistentRead": True,
        "ProjectionExpression": "#t, #a",
        "ExpressionAttributeNames": {"#t": "watermark", "#a": "announced"},
    }


def _put_request(micros: str, iso: str, announced: dict[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": {"S": ITEM_ID}, "watermark": {"N": micros}, "watermark_iso": {"S": iso}}
    if announced is not None:
        item["announced"] = announced
    return {
        "TableName": TABLE,
        "Item": item,
        "ConditionExpression": "attribute_not_exists(id) OR #t <= :new",
        "ExpressionAttributeNames": {"#t": "watermark"},
        "ExpressionAttributeValues": {":new": {"N": micros}},
    }


def test_no_item_means_no_watermark_yet(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_response("get_item", {}, _get_request())

    assert Watermark(TABLE, client).get() is None


def test_the_stored_watermark_is_read_back_in_utc(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_response("get_item", {"Item": {"watermark": {"N": T0_MICROS}}}, _get_request())

    assert Watermark(TABLE, client).get() == WatermarkState(time=T0, announced={})


def test_advancing_is_a_conditional_write_under_a_prefixed_id(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_response("put_item", {}, _put_request(T0_MICROS, "2024-05-01T12:00:00+00:00"))

    Watermark(TABLE, client).advance(T0)


def test_a_watermark_already_ahead_is_left_alone(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN the stored watermark is after the new one: the condition fails
    client, stubber = dynamodb
    stubber.add_client_error(
        "put_item",
        service_error_code="ConditionalCheckFailedException",
        expected_params=_put_request(T0_MICROS, "2024-05-01T12:00:00+00:00"),
    )

    Watermark(TABLE, client).advance(T0)  # THEN nothing is raised


def test_other_errors_are_raised(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_client_error("put_item", service_error_code="ResourceNotFoundException")

    with pytest.raises(Exception, match="ResourceNotFoundException"):
        Watermark(TABLE, client).advance(T0)


def test_a_naive_time_is_taken_as_utc(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_response("put_item", {}, _put_request(T0_MICROS, "2024-05-01T12:00:00+00:00"))

    Watermark(TABLE, client).advance(T0.replace(tzinfo=None))


def test_each_sweeper_has_its_own_item(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    request = _get_request() | {"Key": {"id": {"S": "watermark#other"}}}
    stubber.add_response("get_item", {}, request)

    assert Watermark(TABLE, client, key="other").get() is None


def test_the_jobs_announced_round_trip(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN two jobs announced, written as a map of job name -> epoch microseconds
    client, stubber = dynamodb
    announced = {"churn-1-ml-c5": to_micros(T0), "churn-1-ml-m5": to_micros(T0 - timedelta(seconds=1)) + 7}
    stored = {"M": {name: {"N": str(micros)} for name, micros in announced.items()}}
    stubber.add_response("put_item", {}, _put_request(T0_MICROS, "2024-05-01T12:00:00+00:00", stored))
    stubber.add_response("get_item", {"Item": {"watermark": {"N": T0_MICROS}, "announced": stored}}, _get_request())
    watermark = Watermark(TABLE, client)

    watermark.advance(T0, announced)

    # THEN it reads back the same
    assert watermark.get() == WatermarkState(time=T0, announced=announced)


def test_an_entry_that_is_not_a_number_is_ignored(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stored = {"M": {"good": {"N": "12"}, "odd": {"S": "12"}}}
    stubber.add_response("get_item", {"Item": {"watermark": {"N": T0_MICROS}, "announced": stored}}, _get_request())

    assert Watermark(TABLE, client).get() == WatermarkState(time=T0, announced={"good": 12})


def test_the_item_keeps_at_most_the_newest_jobs_announced(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN one job more than the bound
    client, stubber = dynamodb
    announced = {f"job-{index:04d}": to_micros(T0) - index for index in range(MAX_ANNOUNCED + 1)}
    kept = {name: {"N": str(micros)} for name, micros in announced.items() if name != f"job-{MAX_ANNOUNCED:04d}"}
    stubber.add_response("put_item", {}, _put_request(T0_MICROS, "2024-05-01T12:00:00+00:00", {"M": kept}))

    Watermark(TABLE, client).advance(T0, announced)  # THEN the oldest is left out


def test_the_memory_watermark_only_moves_forward() -> None:
    watermark = MemoryWatermark()
    watermark.advance(T0)
    watermark.advance(T0 - timedelta(hours=1), {"late": 1})

    assert watermark.get() == WatermarkState(time=T0, announced={})
    watermark.advance(T0 + timedelta(seconds=1))
    assert watermark.get() == WatermarkState(time=T0 + timedelta(seconds=1), announced={})


def test_an_equal_time_still_replaces_the_jobs_announced() -> None:
    watermark = MemoryWatermark(T0, {"first": 1})

    watermark.advance(T0, {"first": 1, "second": 2})

    assert watermark.get() == WatermarkState(time=T0, announced={"first": 1, "second": 2})


def test_the_memory_watermark_hands_out_copies() -> None:
    watermark = MemoryWatermark(T0, {"first": 1})
    state = watermark.get()
    assert state is not None

    state.announced["second"] = 2  # type: ignore[index]

    assert watermark.get() == WatermarkState(time=T0, announced={"first": 1})
