"""Neo flow: Compilation Job State Change events from the Neo queue become inference specifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import cold_start_imports, cold_start_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

with cold_start_imports():
    from registrar.batch import process_batch
    from registrar.neo import service as neo
    from registrar.observability import logger, metrics, tracer
    from registrar.settings import deployed_settings


@cold_start_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    flow = neo.deployed()
    return process_batch(
        event, context, parse=neo.parse, flow=flow, table_name=deployed_settings().table_name, accounts=flow.accounts
    )
