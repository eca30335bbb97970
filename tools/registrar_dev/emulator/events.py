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

22. PutEvents whose entry names another account's bus by ARN (``EventBusName`` =
    ``arn:aws:events:us-east-1:123456789012:event-bus/default`` from account 111111111111). moto keeps the name
    after the last ``/`` and puts the event on the **caller's own** bus of that name: ``FailedEntryCount`` 0, the
    other account's rules never see it, whatever that bus's policy says. EventBridge authorizes such a call with
    the receiving bus's resource policy ([eb-bus-perms], [eb-cross-account]) and reports what it refuses per entry
    ([eb-result-entry]). :meth:`EmulatorEventsBackend.put_events_as` (called by :class:`EmulatorEventsHandler`
    with the caller, :func:`registrar_dev.emulator.accounts.caller`) does, for each such entry, in order:

    - validates it as moto does (``Source``, ``DetailType``, ``Detail`` required: ``InvalidArgument``; a
      ``Detail`` that is not JSON: ``MalformedDetail``);
    - refuses a ``source`` starting with ``aws.`` with ``NotAuthorizedForSourceException`` "Not authorized for
      the source." (only AWS services publish those, whatever a policy says; on the caller's own bus moto still
      accepts them, docs/sagemaker.md "Not yet corrected");
    - evaluates the bus's policy for ``events:PutEvents`` (:func:`registrar_dev.emulator.targets.bus_decision`,
      shared with fix 20: the caller's ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalOrgID``, the
      entry's ``events:source`` and ``events:detail-type``, ``events:eventBusInvocation`` ``false``); a refused
      entry, or one naming a bus that does not exist, fails with ``AccessDeniedException`` "User: <caller> is
      not authorized to perform: events:PutEvents on resource: <bus> because no resource-based policy allows the
      events:PutEvents action (emulator: <reason>)" (IAM's wording for a missing grant; EventBridge's exact
      message is not documented);
    - otherwise routes the event on that bus (:func:`registrar_dev.emulator.targets.route_on_bus`), ``account``
      the caller's, ``region`` the call's, ``id`` the entry's ``EventId``.

    Refused entries count in ``FailedEntryCount``; the call answers HTTP 200, as for any failed entry. Entries
    for the caller's own buses are moto's, unchanged, and keep their place in ``Entries``.

[eb-bus-perms]: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html
[eb-cross-account]: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
[eb-result-entry]: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html

Emission is process-wide, like moto's state: :func:`set_emission` turns it off for tests that do not
want events.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from moto.core.utils import unix_time
from moto.events import urls as moto_events_urls
from moto.events.exceptions import ValidationException
from moto.events.models import EventBus, EventPattern, EventsBackend, events_backends
from moto.events.responses import EventsHandler
from moto.events.utils import _BASE_EVENT_MESSAGE
from moto.moto_api._internal import mock_random as random

from registrar_dev.emulator import accounts, targets
from registrar_dev.emulator.policies import Caller

SOURCE = "aws.sagemaker"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PROCESSING_JOB_STATE_CHANGE = "SageMaker Processing Job State Change"

# TestEventPattern's documented mandatory members of the event.
_MANDATORY_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")
_BUS_ARN = re.compile(r"arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus/(.+)")
MAX_ENTRIES = 10  # moto's limit, and EventBridge's
RESERVED_SOURCE_PREFIX = "aws."

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
    """moto's EventBridge handler, with ``TestEventPattern`` answered and PutEvents to other accounts' buses (22)."""

    def put_events(self) -> str:
        """PutEvents: each entry on the bus it names, another account's only where that bus's policy allows (22).

        Returns
        -------
        str
            ``{"FailedEntryCount": n, "Entries": [...]}``, one result per entry, in order.
        """
        backend = cast(EmulatorEventsBackend, self.events_backend)
        results = backend.put_events_as(
            self._get_param("Entries") or [],
            lambda: accounts.caller(self.get_access_key(), self.current_account, self.region),
        )
        failed = sum(1 for result in results if "ErrorCode" in result)
        return json.dumps({"FailedEntryCount": failed, "Entries": results})

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

    def put_events_as(self, entries: list[dict[str, Any]], caller: Callable[[], Caller]) -> list[dict[str, Any]]:
        """Put ``entries`` for ``caller``: on this account's buses as moto does, on another account's as fix 22 says.

        Parameters
        ----------
        entries
            PutEvents' ``Entries``.
        caller
            Who calls (asked only when an entry names another account's bus).

        Returns
        -------
        list
            One result per entry, in order: ``{"EventId": ...}`` or ``{"ErrorCode": ..., "ErrorMessage": ...}``.
        """
        if len(entries) > MAX_ENTRIES or not any(self._foreign_bus(entry) for entry in entries):
            return self.put_events(entries)  # moto's, whole (its ValidationException for too many entries)
        who: Caller | None = None
        results: list[dict[str, Any]] = []
        for entry in entries:
            bus_arn = self._foreign_bus(entry)
            if bus_arn is None:
                results.extend(self.put_events([entry]))
                continue
            who = who or caller()
            results.append(self._put_on_foreign_bus(entry, bus_arn, who))
        return results

    def _foreign_bus(self, entry: dict[str, Any]) -> re.Match[str] | None:
        """The ARN of another account's bus that ``entry`` names (``EventBusName``), parsed; ``None`` otherwise."""
        match = _BUS_ARN.fullmatch(str(entry.get("EventBusName") or ""))
        return match if match is not None and match.group(2) != self.account_id else None

    def _put_on_foreign_bus(self, entry: dict[str, Any], bus_arn: re.Match[str], caller: Caller) -> dict[str, Any]:
        """One entry for another account's bus: validated, its source and the bus's policy checked, routed (22)."""
        invalid = _invalid_entry(entry)
        if invalid is not None:
            return invalid
        if str(entry["Source"]).startswith(RESERVED_SOURCE_PREFIX):
            return {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
        region, account, name = bus_arn.groups()
        event_id = str(random.uuid4())
        event: dict[str, Any] = {
            **copy.deepcopy(_BASE_EVENT_MESSAGE),  # moto's envelope, as its own PutEvents builds it
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": caller.account,  # the sender's, as EventBridge keeps it (fix 20)
            "time": entry.get("Time", unix_time()),
            "region": self.region_name,
            "resources": entry.get("Resources", []),
            "detail": json.loads(entry["Detail"]),
        }
        try:
            bus = events_backends[account][region].event_buses.get(name)
        except KeyError:  # a region moto does not know
            bus = None
        if bus is None:
            reason = f"event bus {bus_arn.group(0)} does not exist"
        else:
            decision = targets.bus_decision(bus, caller, event)
            if decision.allowed:
                targets.route_on_bus(bus, event)
                return {"EventId": event_id}
            reason = decision.reason
        action = "events:PutEvents"
        return {
            "ErrorCode": "AccessDeniedException",
            "ErrorMessage": f"User: {caller.arn} is not authorized to perform: {action} on resource: "
            f"{bus_arn.group(0)} because no resource-based policy allows the {action} action (emulator: {reason})",
        }

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


def _invalid_entry(entry: dict[str, Any]) -> dict[str, str] | None:
    """moto's PutEvents checks of one entry: its result when invalid, ``None`` when it may be put."""
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {member} is not valid. Reason: {member} is a required argument.",
            }
    try:
        json.loads(entry["Detail"])
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


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
