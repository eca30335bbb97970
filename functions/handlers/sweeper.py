"""Sweeper: on its schedule, publish one Compilation Job State Change per Neo job finished since the watermark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import cold_start_imports, cold_start_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

with cold_start_imports():
    from registrar.neo import sweep
    from registrar.observability import count, logger, metrics, tracer
    from registrar.settings import deployed_settings


@cold_start_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweep.deployed_sweep(deployed_settings())
    count("CompilationJobsPublished", result.published)
    count("SweepCompleted")
    logger.info("sweep done", extra={"found": result.found, "published": result.published})
    return {
        "found": result.found,
        "published": result.published,
        "watermark": result.watermark.isoformat() if result.watermark else None,
    }
