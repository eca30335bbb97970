"""Watermark: a DynamoDB item that only moves forward, written conditionally."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from registrar.watermark import MemoryWatermark, Watermark
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
        "ProjectionExpression": "#t",
        "ExpressionAttributeNames": {"#t": "watermark"},
    }


def _put_request(micros: str, iso: str) -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "Item": {"id": {"S": ITEM_ID}, "watermark": {"N": micros}, "watermark_iso": {"S": iso}},
        "ConditionExpression": "attribute_not_exists(id) OR #t < :new",
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

    assert Watermark(TABLE, client).get() == T0


def test_advancing_is_a_conditional_write_under_a_prefixed_id(dynamodb: tuple[Any, Stubber]) -> None:
    client, stubber = dynamodb
    stubber.add_response("put_item", {}, _put_request(T0_MICROS, "2024-05-01T12:00:00+00:00"))

    Watermark(TABLE, client).advance(T0)


def test_a_watermark_already_ahead_is_left_alone(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN the stored watermark is at or after the new one: the condition fails
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


def test_the_memory_watermark_only_moves_forward() -> None:
    watermark = MemoryWatermark()
    watermark.advance(T0)
    watermark.advance(T0 - timedelta(hours=1))

    assert watermark.get() == T0
    watermark.advance(T0 + timedelta(seconds=1))
    assert watermark.get() == T0 + timedelta(seconds=1)
