"""Botocore clients, created once per process and only when first needed.

botocore-level clients (no boto3 resources, no s3transfer) keep a Lambda cold start short; adaptive
retries absorb throttling. The endpoint comes from ``AWS_ENDPOINT_URL`` (honoured by botocore
itself) unless one is passed, so the same code runs against AWS and the embedded emulator.
"""

from __future__ import annotations

import functools
from typing import Any

MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """Return the process-wide client for ``service``, creating it on first use.

    Parameters
    ----------
    service
        The botocore service name (``sagemaker``, ``s3``, ``events``, ``dynamodb``, ``sqs``).
    endpoint_url
        Overrides ``AWS_ENDPOINT_URL``; used by the CLI's ``--endpoint-url``.
    region
        Overrides the session's region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
    """
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    return _session().create_client(service, endpoint_url=endpoint_url, region_name=region, config=config)


def reset_clients() -> None:
    """Forget every cached client (tests that change endpoints or credentials between cases)."""
    client.cache_clear()
    _session.cache_clear()


def observe_calls(callback: Any) -> None:
    """Call ``callback(service, operation, kwargs)`` before every AWS call registrar's clients make.

    Registered on the shared session, so it reaches clients created afterwards; the demo and the
    benchmarks count calls per kind with it (botocore's own event hooks, no patching).
    """

    def before_parameter_build(event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        service_name, operation_name = event_name.split(".")[1:3]
        callback(service_name, operation_name, params)

    # Once per API call (retries are not counted again), with the call's own keyword arguments.
    _session().register("before-parameter-build", before_parameter_build)
