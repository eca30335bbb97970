"""The only module that reads Secrets Manager: a secret's text, through Powertools Parameters with a cache.

As :mod:`registrar.parameters` reads SSM: a ``SecretsProvider`` built on registrar's own botocore client
(:func:`registrar.aws.client`, adaptive retries, the emulator's endpoint when given), one provider per client
so that Powertools' cache lives across invocations of a warm Lambda, and the AWS error itself raised rather
than Powertools' wrapper, so callers classify it like any other AWS failure.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from registrar import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

DEFAULT_MAX_AGE = 300


def read_secret(
    name: str, *, endpoint_url: str | None = None, region: str | None = None, max_age: int = DEFAULT_MAX_AGE
) -> str:
    """The ``SecretString`` of the secret's current version (``AWSCURRENT``), cached for ``max_age`` seconds.

    Parameters
    ----------
    name
        The secret's name or ARN.
    endpoint_url, region
        The Secrets Manager endpoint (the CLI's ``--endpoint-url``/``--region``); by default, the environment's.
    max_age
        How long a value read is used before it is read again (``0`` reads it now).

    Raises
    ------
    TypeError
        The secret holds binary data (``SecretBinary``), not text.
    botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
        Secrets Manager refused or failed the read (``ResourceNotFoundException``, ``AccessDeniedException``,
        throttling): the AWS error itself.
    """
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        provider = _provider(aws.client("secretsmanager", endpoint_url, region))
        value = provider.get(name, max_age=max_age, force_fetch=max_age <= 0)
    except GetParameterError as error:
        # Powertools raises its wrapper inside its own except: the AWS error is the wrapper's context.
        original = error.__cause__ or error.__context__
        if isinstance(original, Exception):
            raise original from None
        raise
    if not isinstance(value, str):
        raise TypeError(f"secret {name} holds binary data (SecretBinary): registrar reads a SecretString")
    return value


@functools.cache
def _provider(client: Any) -> SecretsProvider:
    # Keyed on the client: after aws.reset_clients() (a new endpoint, new credentials) the secret is read afresh.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)
