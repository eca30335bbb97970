"""Approval flow: SageMaker model package and processing job events from the approval queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import cold_start_imports, cold_start_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

with cold_start_imports():
    from registrar.approval import service as approval
    from registrar.batch import process_batch
    from registrar.observability import logger, metrics, tracer
    from registrar.settings import deployed_settings


@cold_start_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    flow = approval.deployed()
    return process_batch(
        event,
        context,
        parse=approval.parse,
        flow=flow,
        table_name=deployed_settings().table_name,
        accounts=flow.accounts,
    )
