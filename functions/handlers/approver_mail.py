"""Approver e-mails: decisions from the mail queue → one SES e-mail per approver, each with a personal link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import cold_start_imports, cold_start_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

with cold_start_imports():
    from registrar.decisions import approver_mail
    from registrar.observability import logger, metrics, tracer


@cold_start_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return approver_mail.process(event, context, mail=approver_mail.deployed())
