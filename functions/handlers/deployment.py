"""Deployment flow: SageMaker endpoint events from the deployment queue record where versions went live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import cold_start_imports, cold_start_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

with cold_start_imports():
    from registrar.batch import process_batch
    from registrar.deployments import service as deployment
    from registrar.observability import logger, metrics, tracer
    from registrar.settings import deployed_settings


@cold_start_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(
        event, context, parse=deployment.parse, flow=deployment.deployed(), table_name=deployed_settings().table_name
    )
