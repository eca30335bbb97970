"""Decision page: a Lambda function URL, routed by Powertools' LambdaFunctionUrlResolver (registrar.decisions.page)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from handlers import cold_start_imports, cold_start_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

with cold_start_imports():
    from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError

    from registrar.decisions import page
    from registrar.decisions.announce import invocation_deadline
    from registrar.observability import logger, tracer
    from registrar.settings import deployed_settings

app = LambdaFunctionUrlResolver()


@functools.cache
def decision_page() -> page.DecisionPage:
    return page.deployed(deployed_settings(), log=lambda reason: logger.info("decision link refused: " + reason))


def respond(answer: page.Page) -> Response[str]:
    return Response(status_code=answer.status, body=answer.body, headers=answer.all_headers)


@app.get(page.PATH)
def show() -> Response[str]:
    return respond(decision_page().show(app.current_event.get_query_string_value("token")))


@app.post(page.PATH)
def decide() -> Response[str]:
    event = app.current_event
    body = page.body_bytes(event.body, base64_encoded=bool(event.is_base64_encoded))
    return respond(decision_page().decide(body, event.headers.get("content-type")))


@app.get(page.GROUP_PATH)
def show_group() -> Response[str]:
    return respond(decision_page().show_group(app.current_event.get_query_string_value("token")))


@app.post(page.ROLLBACK_PATH)
def rollback() -> Response[str]:
    event = app.current_event
    body = page.body_bytes(event.body, base64_encoded=bool(event.is_base64_encoded))
    return respond(decision_page().rollback(body, event.headers.get("content-type")))


@app.get(page.FAVICON)
def favicon() -> Response[str]:
    return respond(page.NO_CONTENT)


@app.not_found
def not_found(_error: NotFoundError) -> Response[str]:
    return respond(page.not_allowed(app.current_event.path))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response[str]:
    logger.exception("decision page failed", extra={"error": type(error).__name__})
    return respond(page.FAILED)


@cold_start_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A decision this invocation stages is its own to publish until it ends (registrar.decisions.announce).
    claim = invocation_deadline.set(datetime.now(UTC) + timedelta(milliseconds=context.get_remaining_time_in_millis()))
    try:
        return app.resolve(event, context)
    finally:
        invocation_deadline.reset(claim)
