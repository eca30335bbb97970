"""Where the approval policy comes from: a local file, or the SSM parameter the stack deploys."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from registrar import aws
from registrar.errors import ConfigurationError
from registrar.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from registrar.approval.policy import Policy


def load(settings: Settings) -> Policy:
    """Load and validate the policy named by the settings.

    A local file (``REGISTRAR_POLICY_FILE`` / ``REGISTRAR_POLICY``) wins; otherwise the SSM
    parameter is read with Powertools Parameters and cached for ``policy_cache_seconds``, so a new
    threshold takes effect without a redeploy. Called for every approval event: the validated policy
    is kept per text (and per file size and modification time), so an unchanged policy is not parsed
    again (about 2 ms an event); a changed one is, at once.

    Raises
    ------
    PolicyError
        The policy is invalid (the message names the field and line).
    ConfigurationError
        Neither a file nor a parameter is configured.
    """
    if settings.policy_file:
        return _file(settings.policy_file)
    if settings.policy_parameter:
        text = _ssm().get(settings.policy_parameter, max_age=settings.policy_cache_seconds)
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
def _ssm() -> SSMProvider:
    # One provider per process keeps Powertools' cache alive across invocations.
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=aws.client("ssm"))
