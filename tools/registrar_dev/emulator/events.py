"""SageMaker's EventBridge events, published in-process on the emulator's default event bus.

Departures corrected (docs/sagemaker.md#departures-corrected):

6. moto emits no EventBridge event when a model package or a job changes state. :func:`publish`
   hands an ``aws.sagemaker`` entry to moto's own ``EventsBackend.put_events`` of the same account and
   region, so the emulator's rules and targets (SQS queues, log groups, other buses) route it exactly
   as they route a ``PutEvents`` call. It is not sent over HTTP: the emulator is SageMaker here, and
   real EventBridge refuses ``aws.*`` sources from customers.
7. moto delivers an event to a target without its ``account`` member (its default input template
   leaves it out); EventBridge delivers the whole event. :func:`install` puts it back (see 10).
8. Server mode answers ``TestEventPattern`` with an empty body (moto's handler is ``pass``).
   :class:`EmulatorEventsHandler` answers it with moto's own in-process matcher
   (``moto.events.models.EventPattern``), the one that routes events to rule targets.
10. moto builds what a target receives by text substitution: it replaces ``<detail>`` in a template
    with the event's detail, then ``<detail-type>``, ``<source>``, ``<id>``, ``<region>``,
    ``<resources>`` and ``<time>`` in the result, inside the detail already inserted. A detail holding
    such text (an ``ApprovalDescription`` of ``"<resources>"``) was corrupted, or made invalid JSON
    and failed ``PutEvents`` (HTTP 500 for UpdateModelPackage, after the update was stored: its event
    was lost). :func:`install` replaces moto's ``EventTemplateParser.parse``: a target without an
    ``InputTransformer`` receives the event verbatim (every member but moto's internal
    ``ingestion-time``); with one, each placeholder of the template is replaced once, from moto's
    own values, and inserted values are never scanned again.

(20, event buses of other accounts, is in :mod:`registrar_dev.emulator.targets`; PutPermission's ``Principal: "*"``
is kept as ``"*"`` here, as EventBridge keeps it, where moto wrote ``arn:aws:iam::*:root``.)

Emission is process-wide, like moto's state: :func:`set_emission` turns it off for tests that do not
want events.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from moto.core.utils import unix_time
from moto.events import urls as moto_events_urls
from moto.events.exceptions import ValidationException
from moto.events.models import EventBus, EventPattern, EventsBackend, events_backends
from moto.events.responses import EventsHandler

SOURCE = "aws.sagemaker"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PROCESSING_JOB_STATE_CHANGE = "SageMaker Processing Job State Change"

# TestEventPattern's documented mandatory members of the event.
_MANDATORY_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")

_emission = threading.Event()
_emission.set()


def set_emission(enabled: bool) -> None:
    """Turn the publication of SageMaker events on or off, for the whole process.

    Parameters
    ----------
    enabled
        ``True`` to publish (the default), ``False`` to drop every event.
    """
    if enabled:
        _emission.set()
    else:
        _emission.clear()


def emission_enabled() -> bool:
    """Tell whether SageMaker events are being published.

    Returns
    -------
    bool
        The value last given to :func:`set_emission`.
    """
    return _emission.is_set()


def publish(
    account_id: str, region: str, detail_type: str, resources: list[str], detail: dict[str, Any], at: datetime
) -> None:
    """Put one ``aws.sagemaker`` event on the default event bus of ``account_id``/``region``.

    Parameters
    ----------
    account_id, region
        Where the SageMaker resource lives; its events go to that account's default bus there.
    detail_type
        The event's ``detail-type``, e.g. :data:`MODEL_PACKAGE_STATE_CHANGE`.
    resources
        The ARNs the event is about.
    detail
        The event's ``detail``: JSON-serialisable.
    at
        The event's ``time`` (naive UTC, as moto keeps time).
    """
    if not emission_enabled():
        return
    entry = {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Resources": resources,
        "Detail": json.dumps(detail),
        # moto keeps an entry's Time as epoch seconds and renders it as ISO-8601 for the targets.
        "Time": unix_time(at),
    }
    events_backends[account_id][region].put_events([entry])


class EmulatorEventsHandler(EventsHandler):
    """moto's EventBridge handler, with ``TestEventPattern`` answered."""

    def test_event_pattern(self) -> str:  # type: ignore[override]
        """Match ``Event`` against ``EventPattern`` with moto's rule matcher.

        Returns
        -------
        str
            ``{"Result": true|false}``, as EventBridge answers.
        """
        pattern = EventPattern.load(self._get_param("EventPattern"))
        try:
            event = json.loads(self._get_param("Event") or "")
        except json.JSONDecodeError as error:
            raise ValidationException("Parameter Event is not valid: it is not JSON.") from error
        if not isinstance(event, dict):
            raise ValidationException("Parameter Event is not valid: it is not a JSON object.")
        missing = [field for field in _MANDATORY_EVENT_FIELDS if field not in event]
        if missing:
            raise ValidationException(f"Parameter Event is not valid: missing {', '.join(missing)}.")
        return json.dumps({"Result": pattern.matches_event(cast(Any, event))})


class EmulatorEventsBackend(EventsBackend):
    """moto's EventBridge backend, routing its HTTP requests to :class:`EmulatorEventsHandler`."""

    def _put_permission_from_params(
        self, event_bus: EventBus, action: str | None, principal: str, statement_id: str, condition: dict[str, str]
    ) -> None:
        """PutPermission with ``Principal``: as moto, but ``"*"`` kept as ``"*"`` (fix 20).

        moto writes ``Principal: "*"`` as ``{"AWS": "arn:aws:iam::*:root"}``, which names no account; EventBridge
        keeps ``"*"``, any principal, limited by the statement's ``Condition`` (EventBridge's PutPermission reference).
        """
        super()._put_permission_from_params(event_bus, action, principal, statement_id, condition)
        if principal == "*" and statement_id in event_bus._statements:
            event_bus._statements[statement_id].principal = "*"  # type: ignore[assignment]

    @property
    def _url_module(self) -> Any:
        # BaseBackend derives the URL module from the class's module; ours lives outside moto.
        return SimpleNamespace(
            url_bases=moto_events_urls.url_bases,
            url_paths=dict.fromkeys(moto_events_urls.url_paths, EmulatorEventsHandler.dispatch),
        )


# moto keeps the time it received an event in the event itself; EventBridge delivers no such member.
_INTERNAL_MEMBERS = frozenset({"ingestion-time"})
_PLACEHOLDER = re.compile(r"<([^<>]+)>")


def target_input(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What a rule's target receives for ``event``: moto's ``EventTemplateParser.parse``, never rescanning values.

    Parameters
    ----------
    input_template
        The target's ``InputTransformer.InputTemplate``; ``None`` or empty without a transformer.
    input_paths_map
        The target's ``InputTransformer.InputPathsMap`` (JSONPath by placeholder name).
    event
        The event as moto routes it (``version``, ``id``, ..., ``detail``, ``ingestion-time``).

    Returns
    -------
    dict
        Without a template, the event itself (a shallow copy: moto rewrites ``time`` on delivery);
        otherwise the template with each placeholder replaced, once, by its value.
    """
    if not input_template:
        return {member: value for member, value in event.items() if member not in _INTERNAL_MEMBERS}

    from jsonpath_ng.ext import parse
    from moto.events.utils import EventTemplateParser

    # As moto: its default paths when the target names none, and the whole event and its ingestion time.
    values = {
        "aws.events.event.json": EventTemplateParser._stringify(event),
        "aws.events.event.ingestion-time": EventTemplateParser._stringify(event["ingestion-time"]),
    }
    for name, path in (input_paths_map or EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP).items():
        matches = parse(path).find(event)
        value = EventTemplateParser._stringify(matches[0].value) if matches else None
        if value:
            values[name] = str(value)
    rendered = _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), input_template)
    return cast(dict[str, Any], json.loads(rendered))


def install() -> None:
    """Deliver events to targets as EventBridge does: whole, ``account`` included, and unaltered."""
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.parse = staticmethod(target_input)  # type: ignore[method-assign,assignment]
