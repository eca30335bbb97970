"""Where the approval policy comes from: a local file, or the SSM parameter the stack deploys."""

from __future__ import annotations

import functools
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
    threshold takes effect without a redeploy.

    Raises
    ------
    PolicyError
        The policy is invalid (the message names the field and line).
    ConfigurationError
        Neither a file nor a parameter is configured.
    """
    from registrar.approval.policy import load_policy, parse_policy

    if settings.policy_file:
        return load_policy(settings.policy_file)
    if settings.policy_parameter:
        text = _ssm().get(settings.policy_parameter, max_age=settings.policy_cache_seconds)
        return parse_policy(str(text), source=f"ssm:{settings.policy_parameter}")
    raise ConfigurationError("no approval policy: set REGISTRAR_POLICY_FILE or REGISTRAR_POLICY_PARAMETER")


@functools.cache
def _ssm() -> SSMProvider:
    # One provider per process keeps Powertools' cache alive across invocations.
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=aws.client("ssm"))
