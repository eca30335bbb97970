"""The only module that reads SSM: the approval policy, from the parameter the stack deploys or a local file."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from registrar import aws
from registrar.errors import ConfigurationError
from registrar.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from registrar.approval.policy import Policy


def load_policy(settings: Settings, *, endpoint_url: str | None = None, region: str | None = None) -> Policy:
    """Load and validate the policy named by the settings.

    A local file (``REGISTRAR_POLICY_FILE`` / ``REGISTRAR_POLICY``) wins; otherwise the SSM
    parameter is read with Powertools Parameters and cached for ``policy_cache_seconds``, so a new
    threshold takes effect without a redeploy. Called for every approval event: the validated policy
    is kept per text (and per file size and modification time), so an unchanged policy is not parsed
    again (about 2 ms an event); a changed one is, at once.

    ``endpoint_url`` and ``region`` choose the SSM endpoint (the CLI's ``--endpoint-url``/``--region``);
    by default, the environment's.

    Raises
    ------
    PolicyError
        The policy is invalid (the message names the field and line).
    ConfigurationError
        Neither a file nor a parameter is configured.
    botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
        SSM refused or failed the read (a missing parameter, access denied, throttling): the AWS error
        itself, not Powertools' wrapper, so callers classify it as any other AWS failure.
    """
    if settings.policy_file:
        return _file(settings.policy_file)
    if settings.policy_parameter:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            provider = _ssm(aws.client("ssm", endpoint_url, region))
            text = provider.get(settings.policy_parameter, max_age=settings.policy_cache_seconds)
        except GetParameterError as error:
            # Powertools raises its wrapper inside its own except: the AWS error is the wrapper's context.
            original = error.__cause__ or error.__context__
            if isinstance(original, Exception):
                raise original from None
            raise
        return _parsed(str(text), f"ssm:{settings.policy_parameter}")
    raise ConfigurationError("no approval policy: set REGISTRAR_POLICY_FILE or REGISTRAR_POLICY_PARAMETER")


def _file(path: str) -> Policy:
    from registrar.approval.policy import load_policy

    try:
        status = os.stat(path)
    except OSError:
        return load_policy(path)  # raises the PolicyError that says why the file cannot be read
    return _loaded(path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=8)
def _loaded(path: str, modified_ns: int, size: int) -> Policy:
    from registrar.approval.policy import load_policy

    return load_policy(path)


@functools.lru_cache(maxsize=8)
def _parsed(text: str, source: str) -> Policy:
    from registrar.approval.policy import parse_policy

    return parse_policy(text, source=source)


@functools.cache
def _ssm(client: Any) -> SSMProvider:
    # One provider per client keeps Powertools' cache alive across invocations; keyed on the client, so
    # that after aws.reset_clients() (a new endpoint, new credentials) the parameter is read afresh.
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=client)
