"""registrar.events: what an event is about (the idempotency key), and bad values classified as bad events."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from registrar.errors import EventError
from registrar.events import ModelPackageEvent, parse_event

EVENTS = pathlib.Path(__file__).resolve().parents[2] / "events"
PASSING: dict[str, Any] = json.loads((EVENTS / "approval" / "passing.json").read_text())


def with_detail(**members: Any) -> dict[str, Any]:
    event = copy.deepcopy(PASSING)
    event["detail"].update(members)
    return event


def subject(event: dict[str, Any]) -> str:
    parsed = parse_event(event)
    assert isinstance(parsed, ModelPackageEvent)
    return parsed.subject


def test_one_instant_has_one_subject_whatever_its_offset() -> None:
    # GIVEN the same change stamped in UTC and at +01:00
    utc = with_detail(LastModifiedTime="2025-03-04T17:00:14Z")
    offset = with_detail(LastModifiedTime="2025-03-04T18:00:14+01:00")
    # THEN both are about the same thing
    assert subject(utc) == subject(offset)
    assert subject(utc).endswith("|2025-03-04T17:00:14+00:00")


def test_without_a_last_modified_time_each_change_keeps_a_subject_of_its_own() -> None:
    # GIVEN two events about the same version without LastModifiedTime, sent at different times
    first = with_detail(LastModifiedTime=None)
    later = copy.deepcopy(first)
    later["time"] = "2025-03-04T18:30:00Z"
    # THEN they are two subjects (the second is handled, not answered from the first), each from the event's time
    assert subject(first) != subject(later)
    assert subject(later).endswith("|2025-03-04T18:30:00+00:00")
    # AND a redelivery of one of them is the same subject
    assert subject(later) == subject(copy.deepcopy(later))


@pytest.mark.parametrize(
    "stamp",
    [1e300, "Infinity", "NaN", pytest.param(10**400, id="10**400"), pytest.param("1" * 500, id="'1'*500"), -1e20],
)
def test_a_timestamp_out_of_range_is_a_bad_event_not_a_crash(stamp: Any) -> None:
    with pytest.raises(EventError, match="LastModifiedTime"):
        parse_event(with_detail(LastModifiedTime=stamp))


def test_members_the_handler_never_reads_do_not_make_an_event_bad() -> None:
    # GIVEN SageMaker sending UpdatedModelPackageFields as null and a CreationTime in a form registrar does not parse
    event = parse_event(with_detail(UpdatedModelPackageFields=None, CreationTime="Tuesday"))
    # THEN the event is handled like one without updated fields (not registrar's own write)
    assert isinstance(event, ModelPackageEvent)
    assert event.detail.UpdatedModelPackageFields == []
    assert not event.detail.caused_by_own_write


def test_a_compilation_job_created_again_under_its_name_is_another_subject() -> None:
    # GIVEN a job deleted and created again under the same name: same ARN, another LastModifiedTime
    event: dict[str, Any] = json.loads((EVENTS / "neo" / "completed-ml-c5.json").read_text())
    again = copy.deepcopy(event)
    again["detail"]["LastModifiedTime"] = "2025-03-09T10:00:00+01:00"
    first, second = parse_event(event), parse_event(again)
    # THEN the second job's announcement is not answered from the first's record
    assert first.subject != second.subject
    assert second.subject.endswith("|COMPLETED|2025-03-09T09:00:00+00:00")
