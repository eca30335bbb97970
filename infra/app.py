"""Compose the app: the registrar stack from its ``registrar`` context, with cdk-nag's checks."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk

from infra import nag
from infra.config import CONFIG_FILE_VARIABLE, PROJECT_ROOT, context_from_file, load_config
from infra.names import CONTEXT_KEY, STACK
from infra.stack import RegistrarStack


def compose(app: cdk.App, *, root: Path = PROJECT_ROOT) -> RegistrarStack:
    """Build the registrar stack into ``app`` from its ``registrar`` context, with cdk-nag's checks.

    ``REGISTRAR_CONFIG=FILE`` in the environment reads that JSON file (the same keys) instead.

    Raises
    ------
    registrar.errors.ConfigurationError
        The context is missing or invalid; the message lists every problem.
    """
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        # The deployment's configuration from a file of its own, instead of cdk.json's context.
        config = load_config(context_from_file(config_file), root=root, source=f"{CONFIG_FILE_VARIABLE}={config_file}")
    else:
        config = load_config(app.node.try_get_context(CONTEXT_KEY), root=root)
    stack = RegistrarStack(app, STACK, config=config, root=root)
    nag.add_checks(app)
    return stack
