"""An SQS batch of EventBridge events, handled record by record with partial batch failures.

Each record is parsed, deduplicated on what it is about (Powertools Idempotency on DynamoDB, keyed
on the event's subject, never its id) and handled by the runtime. A record that cannot be used is
classified, logged with its reason, counted and raised, so SQS redelivers it until its receive
count sends it to the dead-letter queue: never retried forever, never dropped silently.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# First, before anything imports pydantic: Powertools' batch utility loads Parser's record models (some 90 ms
# of a cold start) when it finds pydantic already imported. The handlers import this module first.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from registrar import aws
from registrar.errors import RegistrarError
from registrar.events import RegistrarEvent, parse_event
from registrar.observability import count, logger
from registrar.observability import record as record_outcome
from registrar.outcome import Outcome
from registrar.runtime import Runtime, default_runtime

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600  # longer than SQS retention, so a redelivery is always recognised
# In every record's key. Raised when what the store keeps changes meaning, so a record an earlier registrar wrote
# is never replayed by this one. 2: invalid, early and unlinked answers are no longer kept (a kept one replayed
# by this code would pass for a handled event, and a redriven poison message would be deleted unhandled).
IDEMPOTENCY_RECORD_VERSION = 2


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


def process_batch(event: dict[str, Any], context: LambdaContext, runtime: Runtime | None = None) -> dict[str, Any]:
    """Handle an SQS event, reporting the records that failed (``batchItemFailures``)."""
    runtime = runtime or default_runtime()
    handle = _deduplicated(runtime.settings.table_name, context)
    # One processor per batch: it keeps the batch's records and results, and a local runner may handle
    # several batches at once in threads of one process. A batch whose every record failed is reported
    # like any other (every record in batchItemFailures) instead of failing the invocation: SQS redelivers
    # the records either way, and the function's Errors alarm keeps meaning a crash, not one poison event.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event,
        record_handler=functools.partial(_handle_record, runtime=runtime, handle=handle),
        processor=processor,
        context=context,
    )
    return dict(response)


def _handle_record(record: SQSRecord, *, runtime: Runtime, handle: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    # Each record logs under its own subject: none from the record before it, none from another thread's.
    logger.thread_safe_remove_keys(["subject"])
    try:
        event = parse_event(json.loads(record.body))
    except RecursionError:
        count("EventInvalid")
        reason = "the body nests deeper than a JSON parser follows"
        logger.error("poison event: not an event registrar handles", extra={"reason": reason})
        raise PoisonEventError(reason) from None
    except ValueError as error:  # JSONDecodeError, EventError, and an integer of more digits than int() takes
        count("EventInvalid")
        logger.error("poison event: not an event registrar handles", extra={"reason": str(error)[:500]})
        raise PoisonEventError(str(error)) from error
    logger.thread_safe_append_keys(subject=event.subject)
    receives = record.attributes.get("ApproximateReceiveCount")
    _decided_here.set(False)
    try:
        result = handle(subject={"key": event.subject}, runtime=runtime, event=event)
    except IdempotencyAlreadyInProgressError:
        # Another invocation is handling the same subject right now: come back after the visibility timeout.
        count("EventDeferred")
        logger.warning("a duplicate of this event is being handled; it will be retried", extra={"receives": receives})
        raise
    except _NotRemembered as signal:
        reason = "; ".join(signal.outcome.reasons)
        if signal.outcome.retry:
            # SageMaker has not caught up with the event yet: come back after the visibility timeout; if it
            # never does, the record is dead-lettered after its receives, never dropped.
            count("EventDeferred")
            logger.warning(
                "the event is ahead of the state it names; it will be retried",
                extra={"reason": reason[:500], "receives": receives},
            )
            raise EventAheadOfStateError(reason) from None
        if signal.outcome.outcome != "invalid":
            return signal.outcome.model_dump(mode="json")  # handled; only not kept
        logger.error(
            "poison event: it names nothing registrar can act on", extra={"reason": reason[:500], "receives": receives}
        )
        raise PoisonEventError(reason) from None
    except Exception as error:
        # Transient AWS errors that outlived the client's retries, permanent ones (access denied) and
        # registrar's own: the record fails, SQS redelivers it, and after its receives it is dead-lettered.
        count("EventFailed")
        logger.error(
            "event failed",
            extra={"reason": str(error)[:500], "error": _error_name(error), "receives": receives},
        )
        raise
    if not _decided_here.get():
        # Answered from the idempotency record: a duplicate, or a redelivery of an event already handled.
        count("EventDuplicate")
    return result


def _error_name(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else the exception's type name."""
    response = getattr(error, "response", None)
    code = (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else type(error).__name__


def _handle(*, subject: dict[str, str], runtime: Runtime, event: RegistrarEvent) -> dict[str, Any]:
    _decided_here.set(True)
    outcome = runtime.handle_event(event, apply=True)
    if not outcome.retry:
        record_outcome(outcome)
    if outcome.retry or not outcome.final or outcome.outcome == "invalid":
        raise _NotRemembered(outcome)
    return outcome.model_dump(mode="json")


@functools.cache
def _idempotent(table_name: str, client: Any) -> Any:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key", raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_TTL_SECONDS
    )
    store = DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", boto3_client=client)
    decorate = idempotent_function(
        data_keyword_argument="subject", persistence_store=store, config=config, key_prefix=idempotency_key_prefix()
    )
    return config, decorate(_handle)


def idempotency_key_prefix() -> str:
    """What precedes ``#<hash of the subject>`` in a record's key: the function, the module and the record version.

    Powertools' own default is the function's name and the decorated function's dotted path; the
    version is added (:data:`IDEMPOTENCY_RECORD_VERSION`).
    """
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    return f"{function}.registrar.batch.v{IDEMPOTENCY_RECORD_VERSION}"


def _deduplicated(table_name: str | None, context: LambdaContext) -> Callable[..., dict[str, Any]]:
    """The record handler wrapped in Powertools Idempotency when a table is configured."""
    if not table_name:
        return _handle
    # Keyed on the client too: after ``aws.reset_clients()`` (a new endpoint, new credentials) the layer is rebuilt.
    config, handle = _idempotent(table_name, aws.client("dynamodb"))
    config.register_lambda_context(context)
    return handle
