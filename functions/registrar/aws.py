"""Botocore clients, created once per process and only when first needed, and what AWS errors mean.

botocore-level clients (no boto3 resources, no s3transfer) keep a Lambda cold start short; adaptive
retries absorb throttling. The endpoint comes from ``AWS_ENDPOINT_URL`` (honoured by botocore
itself) unless one is passed, so the same code runs against AWS and the embedded emulator.

The clients load botocore's own data, as shipped: in Lambda that is the botocore of the
dependencies layer, pinned to the version the tests run, whose ``data/`` directory the layer build
prunes to the services and operations of :data:`OPERATIONS` (``infra/layer.py``). Nothing here
changes how botocore finds or reads its data.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Final

MAX_ATTEMPTS = 5
# How registrar's sessions in a workload account are named in its CloudTrail, outside Lambda (_session_name).
ROLE_SESSION_NAME = "registrar"
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20

# The operations registrar's functions call, per service: registrar's own calls and those of the Powertools
# utilities it hands a client to (Idempotency: dynamodb; Parameters: ssm, secretsmanager). The layer keeps
# botocore's data for these services alone, each model cut down to these operations (infra/layer.py); a client of
# any other service fails in Lambda with UnknownServiceError, an operation not listed with AttributeError. The
# tests hold the list to the code: every call in this package is listed (tests/unit/test_aws_operations.py), and
# the handlers run end to end on the layer itself (tests/integration/test_lambda_layout.py).
OPERATIONS: Final[dict[str, tuple[str, ...]]] = {
    "dynamodb": ("DeleteItem", "GetItem", "PutItem", "UpdateItem"),
    "events": ("PutEvents",),
    "s3": ("GetObject",),
    "sagemaker": (
        "DescribeCompilationJob",
        "DescribeEndpoint",
        "DescribeEndpointConfig",
        "DescribeModel",
        "DescribeModelPackage",
        "DescribeProcessingJob",
        "ListCompilationJobs",
        "ListModelPackages",
        "ListTags",
        "UpdateModelPackage",
    ),
    "secretsmanager": ("GetSecretValue",),
    "sesv2": ("SendEmail",),
    # botocore's own AssumeRoleCredentialFetcher calls it for the clients acting in workload accounts.
    "sts": ("AssumeRole",),
    "ssm": ("GetParameter", "GetParameters", "GetParametersByPath"),
}
SERVICES: Final = tuple(OPERATIONS)

# Error codes meaning "no such resource": SageMaker answers Describe* of a missing package or job with a
# ValidationException ("... does not exist"), other services with their own *NotFound codes.
NOT_FOUND: Final = frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"})


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (read without importing botocore), else ``None``."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None


def error_message(error: BaseException, limit: int = 300) -> str:
    """The message AWS gave with an error (or the exception's own text), at most ``limit`` characters."""
    response = getattr(error, "response", None)
    message = (response.get("Error") or {}).get("Message") if isinstance(response, dict) else None
    return str(message or error)[:limit]


def error_name(error: BaseException) -> str:
    """The AWS error code of a ``ClientError``, else the exception's type name (for logs and metrics)."""
    return error_code(error) or type(error).__name__


def is_not_found(error: BaseException) -> bool:
    """Whether ``error`` is AWS saying the resource does not exist (see :data:`NOT_FOUND`)."""
    return error_code(error) in NOT_FOUND


# The call observers (observe_calls) and the role sessions they are registered on besides the shared one.
_observers: list[Any] = []
_role_sessions: list[Any] = []


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """Return the process-wide client for ``service``, creating it on first use.

    ``client("s3")`` and ``client("s3", None, None)`` are the same client.

    Parameters
    ----------
    service
        The botocore service name (one of :data:`SERVICES`, or ``sqs`` for the operator CLI).
    endpoint_url
        Overrides ``AWS_ENDPOINT_URL``; used by the CLI's ``--endpoint-url``.
    region
        Overrides the session's region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
    """
    # Lambda sets AWS_REGION; botocore itself reads only AWS_DEFAULT_REGION.
    return _client(service, endpoint_url, region or os.environ.get("AWS_REGION") or None)


def _config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


@functools.cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    return _session().create_client(service, endpoint_url=endpoint_url, region_name=region, config=_config())


def assumed_client(service: str, role_arn: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """Return the process-wide client for ``service`` acting as ``role_arn``, creating it on first use.

    The role is assumed with the process's own credentials when the client first calls, and again
    before the credentials expire (botocore's refreshable credentials): one set of credentials per
    role, shared by its clients, for as long as they last.

    Parameters
    ----------
    service
        The botocore service name.
    role_arn
        The role to act as (registrar's evidence role in a workload account).
    endpoint_url, region
        As for :func:`client`; STS is called at the same endpoint.
    """
    return _assumed_client(service, role_arn, endpoint_url, region or os.environ.get("AWS_REGION") or None)


@functools.cache
def _assumed_client(service: str, role_arn: str, endpoint_url: str | None, region: str | None) -> Any:
    return _role_session(role_arn, endpoint_url, region).create_client(
        service, endpoint_url=endpoint_url, region_name=region, config=_config()
    )


@functools.cache
def _role_session(role_arn: str, endpoint_url: str | None, region: str | None) -> Any:
    import botocore.session
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        CredentialProvider,
        CredentialResolver,
        DeferredRefreshableCredentials,
    )

    source = _session()

    def sts_client(service: str, **credentials: Any) -> Any:
        config = _config()
        return source.create_client(
            service, endpoint_url=endpoint_url, region_name=region, config=config, **credentials
        )

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=source.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": _session_name()},
    )

    class Assumed(CredentialProvider):
        """Hands out the role's credentials: assumed on first use, refreshed before they expire."""

        METHOD = "assume-role"
        CANONICAL_NAME = "registrar-assume-role"

        def load(self) -> Any:
            return DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method=self.METHOD)

    session = botocore.session.Session()
    # The shared session's loader already holds the models and endpoint rules it read: a role's clients read none again.
    session.register_component("data_loader", source.get_component("data_loader"))
    session.register_component("credential_provider", CredentialResolver([Assumed()]))
    for observer in _observers:
        session.register("before-parameter-build", observer)
    _role_sessions.append(session)
    return session


def _session_name() -> str:
    """``registrar``, or the Lambda function's name: a workload's CloudTrail then tells which function read what."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    # A session name is 2-64 of letters, digits and =,.@_- (a function name's characters fit).
    name = "".join(
        character for character in function if (character.isascii() and character.isalnum()) or character in "=,.@_-"
    )[:64]
    return name if len(name) >= 2 else ROLE_SESSION_NAME


def reset_clients() -> None:
    """Forget every cached client, and every call observer (tests that change endpoints or credentials)."""
    _observers.clear()
    _role_sessions.clear()
    _client.cache_clear()
    _assumed_client.cache_clear()
    _role_session.cache_clear()
    _session.cache_clear()


def observe_calls(callback: Any) -> None:
    """Call ``callback(service, operation, kwargs)`` before every AWS call registrar's clients make.

    Registered on the shared session and on every role's session (:func:`assumed_client`), so it reaches
    clients created afterwards, in any account; the demo and the benchmarks count calls per kind with it
    (botocore's own event hooks, no patching). Forgotten by :func:`reset_clients`.
    """

    def before_parameter_build(event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        service_name, operation_name = event_name.split(".")[1:3]
        callback(service_name, operation_name, params)

    _observers.append(before_parameter_build)
    # Once per API call (retries are not counted again), with the call's own keyword arguments.
    for session in (_session(), *_role_sessions):
        session.register("before-parameter-build", before_parameter_build)


class DynamoDBTable:
    """Base of registrar's adapters of its shared table: the table's name and a ``dynamodb`` client.

    Parameters
    ----------
    table_name
        The table (partition key ``id``, a string; TTL on ``expiration``), shared with Powertools Idempotency.
    client
        A botocore ``dynamodb`` client; by default the process-wide one, created on first use.
    endpoint_url, region
        Used only to build the default client.
    """

    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client("dynamodb", self._endpoint_url, self._region)
        return self._client
