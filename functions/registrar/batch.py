"""An SQS batch of one flow's EventBridge events, handled record by record with partial batch failures.

For each record: the flow's ``parse`` makes the body its event (anything else is poison), the flow
resolves what the event names by reading it from AWS, and the flow decides and writes under Powertools
Idempotency on DynamoDB, keyed on that target as read back (never on the event's id, nor on identifiers
the event merely claims). A record that cannot be used is classified, logged with its reason, counted
and raised, so SQS redelivers it until its receive count sends it to the dead-letter queue: never
retried forever, never dropped silently.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

# Imported before pydantic by the handlers package (handlers/__init__.py, "Import order"), else it loads Parser.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from registrar import aws
from registrar.accounts import Accounts
from registrar.decisions.announce import invocation_deadline
from registrar.errors import DeploymentError, RegistrarError
from registrar.observability import count, cut, logger
from registrar.observability import record as record_outcome
from registrar.outcome import Outcome

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600  # longer than SQS retention, so a redelivery is always recognised
# In every record's key. Raised when what the store keeps changes meaning, so a record an earlier registrar wrote
# is never replayed by this one. 2: invalid, early and unlinked answers are no longer kept. 3: keys are the
# target as read back from AWS, not identifiers taken from the event.
IDEMPOTENCY_RECORD_VERSION = 3

Event = TypeVar("Event", contravariant=True)
Target = TypeVar("Target", bound="Subject")


class Subject(Protocol):
    """What a flow resolves an event to: something with the key it is deduplicated on."""

    @property
    def subject(self) -> str: ...


class Flow(Protocol, Generic[Event, Target]):
    """A flow's two steps (:class:`registrar.approval.service.ApprovalFlow`, :class:`registrar.neo.service.NeoFlow`)."""

    def resolve(self, event: Event) -> Target | Outcome: ...

    def decide_and_write(self, target: Target, *, apply: bool = True) -> Outcome: ...


# Set when the record handler's body ran for the current record (not answered from the idempotency record).
_decided_here: contextvars.ContextVar[bool] = contextvars.ContextVar("registrar_decided_here", default=False)


class PoisonEventError(RegistrarError):
    """A record that will never succeed: it goes to the dead-letter queue after its receives."""


class EventAheadOfStateError(RegistrarError):
    """The record reports a job finished that SageMaker still describes as running; it comes back later."""


class _NotRemembered(Exception):  # noqa: N818 - a signal to the idempotency layer, not an error
    """Raised inside the idempotent function so Powertools deletes its record: this outcome must not be replayed.

    An ``invalid`` outcome depends on state that can be repaired (a package created late, a tag
    fixed), and so does one that is not ``final`` (a job tagged later): a redelivery, a redrive or a
    new announcement must look again, not replay the answer for the idempotency record's lifetime.
    An outcome to ``retry`` did nothing yet.
    """

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.outcome)
        self.outcome = outcome


def process_batch(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    parse: Callable[[Any], Event],
    flow: Flow[Event, Any],
    table_name: str | None,
    accounts: Accounts | None = None,
) -> dict[str, Any]:
    """Handle an SQS event of one flow, reporting the records that failed (``batchItemFailures``).

    Parameters
    ----------
    event, context
        What Lambda passes the handler.
    parse
        The flow's parser: the record body's event, or :class:`~registrar.errors.EventError`.
    flow
        The flow that resolves and decides each event.
    table_name
        The idempotency table; ``None`` (a local run without one) handles every record afresh.
    accounts
        The workload accounts whose forwarded events the flow accepts besides its own account's;
        ``None`` accepts the function's own account alone.
    """
    handle = _deduplicated(table_name, context)
    home = _home(context)
    trusted = accounts if accounts is not None else Accounts()

    # One processor per batch: it keeps the batch's records and results, and a local runner may handle
    # several batches at once in threads of one process. A batch whose every record failed is reported
    # like any other (every record in batchItemFailures) instead of failing the invocation: SQS redelivers
    # the records either way, and the function's Errors alarm keeps meaning a crash, not one poison event.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    # A decision this invocation stages is its own to publish until then (registrar.decisions.announce).
    deadline = datetime.now(UTC) + timedelta(milliseconds=remaining()) if callable(remaining) else None
    claim = invocation_deadline.set(deadline)
    try:
        response = process_partial_response(
            event=event,
            record_handler=functools.partial(
                _handle_record, parse=parse, flow=flow, handle=handle, home=home, accounts=trusted
            ),
            processor=processor,
            context=context,
        )
    finally:
        invocation_deadline.reset(claim)
    return dict(response)


def _home(context: LambdaContext) -> tuple[str | None, str | None]:
    """The account and region the function runs in: an event about any other is not this deployment's."""
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    account = parts[4] if len(parts) > 4 and parts[4] else None
    return account, os.environ.get("AWS_REGION") or None


def _handle_record(
    record: SQSRecord,
    *,
    parse: Callable[[Any], Any],
    flow: Flow[Any, Any],
    handle: Callable[..., dict[str, Any]],
    home: tuple[str | None, str | None],
    accounts: Accounts,
) -> dict[str, Any]:
    # Each record logs under its own subject: none from the record before it, none from another thread's.
    logger.thread_safe_remove_keys(["subject"])
    receives = record.attributes.get("ApproximateReceiveCount")
    event = _parsed(record.body, parse, home, accounts)
    _decided_here.set(False)
    try:
        target = flow.resolve(event)
        if isinstance(target, Outcome):
            if not target.retry:
                record_outcome(target)
            return _settled(target, receives)
        logger.thread_safe_append_keys(subject=target.subject)
        result = handle(subject={"key": target.subject}, flow=flow, target=target)
    except IdempotencyAlreadyInProgressError:
        # Another invocation is handling the same subject right now: come back after the visibility timeout.
        count("EventDeferred")
        logger.warning("a duplicate of this event is being handled; it will be retried", extra={"receives": receives})
        raise
    except _NotRemembered as signal:
        return _settled(signal.outcome, receives)
    except (PoisonEventError, EventAheadOfStateError):
        raise
    except Exception as error:
        # Transient AWS errors that outlived the client's retries, permanent ones (access denied) and
        # registrar's own: the record fails, SQS redelivers it, and after its receives it is dead-lettered.
        count("EventFailed")
        if isinstance(error, DeploymentError):
            count("DeploymentBlocked")
        logger.error(
            "event failed",
            extra={"reason": cut(str(error)), "error": aws.error_name(error), "receives": receives},
        )
        raise
    if not _decided_here.get():
        # Answered from the idempotency record: a duplicate, or a redelivery of an event already handled.
        count("EventDuplicate")
    return result


def _parsed(body: str, parse: Callable[[Any], Any], home: tuple[str | None, str | None], accounts: Accounts) -> Any:
    """The record body as the flow's event, of this account (or a listed workload's) and region; else poison."""
    try:
        event = parse(json.loads(body))
    except RecursionError:
        reason = "the body nests deeper than a JSON parser follows"
    except ValueError as error:  # JSONDecodeError, EventError, and an integer of more digits than int() takes
        reason = str(error)
    else:
        account, region = home
        foreign = accounts.event_refusal(event.account, home=account)
        if foreign is not None:
            reason = foreign
        elif region is not None and event.region != region:
            reason = f"the event is about region {event.region}, this function runs in {region}"
        else:
            return event
    count("EventInvalid")
    logger.error("poison event: not an event this flow handles", extra={"reason": cut(reason)})
    raise PoisonEventError(reason)


def _settled(outcome: Outcome, receives: Any) -> dict[str, Any]:
    """What becomes of a record whose outcome is not remembered: retried, parked, or answered."""
    reason = "; ".join(outcome.reasons)
    if outcome.retry:
        # SageMaker has not caught up with the event yet: come back after the visibility timeout; if it
        # never does, the record is dead-lettered after its receives, never dropped.
        count("EventDeferred")
        logger.warning(
            "the event is ahead of the state it names; it will be retried",
            extra={"reason": cut(reason), "receives": receives},
        )
        raise EventAheadOfStateError(reason)
    if outcome.outcome == "invalid":
        logger.error(
            "poison event: it names nothing registrar can act on",
            extra={"reason": cut(reason), "receives": receives},
        )
        raise PoisonEventError(reason)
    return outcome.model_dump(mode="json")  # handled; only not kept


def _handle(*, subject: dict[str, str], flow: Flow[Any, Any], target: Any) -> dict[str, Any]:
    _decided_here.set(True)
    outcome = flow.decide_and_write(target, apply=True)
    if not outcome.retry:
        record_outcome(outcome, subject=subject["key"])
    if outcome.retry or not outcome.final or outcome.outcome == "invalid":
        raise _NotRemembered(outcome)
    return outcome.model_dump(mode="json")


def idempotency_key_prefix() -> str:
    """What precedes ``#<hash of the subject>`` in a record's key: the function, the module and the record version.

    Powertools' own default is the function's name and the decorated function's dotted path; the
    version is added (:data:`IDEMPOTENCY_RECORD_VERSION`).
    """
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    return f"{function}.registrar.batch.v{IDEMPOTENCY_RECORD_VERSION}"


def _deduplicated(table_name: str | None, context: LambdaContext) -> Callable[..., dict[str, Any]]:
    """The record handler wrapped in Powertools Idempotency when a table is configured.

    Built for each invocation, with its own context: an in-progress record lasts the invocation's
    remaining time, and a local runner runs several invocations of one function at once, in threads
    of one process, each with its own deadline.
    """
    if not table_name:
        return _handle
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key", raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_TTL_SECONDS
    )
    config.register_lambda_context(context)
    store = DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", boto3_client=aws.client("dynamodb"))
    decorate = idempotent_function(
        data_keyword_argument="subject", persistence_store=store, config=config, key_prefix=idempotency_key_prefix()
    )
    return decorate(_handle)
