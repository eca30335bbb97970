"""An SQS batch of EventBridge events, handled record by record with partial batch failures.

Each record is parsed, deduplicated on what it is about (Powertools Idempotency on DynamoDB, keyed
on the event's subject, never its id) and handled by the runtime. A record that cannot be used is
classified, logged with its reason, counted and raised, so SQS redelivers it until its receive
count sends it to the dead-letter queue: never retried forever, never dropped silently.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from registrar import aws
from registrar.errors import EventError, RegistrarError
from registrar.events import RegistrarEvent, parse_event
from registrar.observability import count, logger
from registrar.observability import record as record_outcome
from registrar.outcome import Outcome
from registrar.runtime import Runtime, default_runtime

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600  # longer than SQS retention, so a redelivery is always recognised

processor = BatchProcessor(event_type=EventType.SQS)


class PoisonEventError(RegistrarError):
    """A record that will never succeed: it goes to the dead-letter queue after its receives."""


def process_batch(event: dict[str, Any], context: LambdaContext, runtime: Runtime | None = None) -> dict[str, Any]:
    """Handle an SQS event, reporting the records that failed (``batchItemFailures``)."""
    runtime = runtime or default_runtime()
    handle = _deduplicated(runtime.settings.table_name, context)
    response = process_partial_response(
        event=event,
        record_handler=functools.partial(_handle_record, runtime=runtime, handle=handle),
        processor=processor,
        context=context,
    )
    return dict(response)


def _handle_record(record: SQSRecord, *, runtime: Runtime, handle: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    try:
        event = parse_event(json.loads(record.body))
    except (json.JSONDecodeError, EventError) as error:
        count("EventInvalid")
        logger.error("poison event: not an event registrar handles", extra={"reason": str(error)[:500]})
        raise PoisonEventError(str(error)) from error
    logger.append_keys(subject=event.subject)
    try:
        result = handle(subject={"key": event.subject}, runtime=runtime, event=event)
    except RegistrarError as error:
        count("EventFailed")
        logger.error("event failed", extra={"reason": str(error)[:500]})
        raise
    outcome = Outcome.model_validate(result)
    if outcome.outcome == "invalid":
        raise PoisonEventError("; ".join(outcome.reasons))
    return result


def _handle(*, subject: dict[str, str], runtime: Runtime, event: RegistrarEvent) -> dict[str, Any]:
    outcome = runtime.handle_event(event, apply=True)
    record_outcome(outcome)
    return outcome.model_dump(mode="json")


@functools.cache
def _idempotent(table_name: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key", raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_TTL_SECONDS
    )
    store = DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", boto3_client=aws.client("dynamodb"))
    return config, idempotent_function(data_keyword_argument="subject", persistence_store=store, config=config)(_handle)


def _deduplicated(table_name: str | None, context: LambdaContext) -> Callable[..., dict[str, Any]]:
    """The record handler wrapped in Powertools Idempotency when a table is configured."""
    if not table_name:
        return _handle
    config, handle = _idempotent(table_name)
    config.register_lambda_context(context)
    return handle
