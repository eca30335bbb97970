"""registrar.events: bad values classified as bad events, members never read tolerated.

What an event is about (the idempotency key) is no longer the event's: it is the target read back from AWS
(``Target.subject`` of each flow), tested in test_subjects.py.
"""

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
