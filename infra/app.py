"""Compose the app: the registrar stack from its ``registrar`` context, with cdk-nag's checks."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from infra import nag
from infra.config import PROJECT_ROOT, load_config
from infra.names import CONTEXT_KEY, STACK
from infra.stack import RegistrarStack


def compose(app: cdk.App, *, root: Path = PROJECT_ROOT) -> RegistrarStack:
    """Build the registrar stack into ``app`` from its ``registrar`` context, with cdk-nag's checks.

    Raises
    ------
    registrar.errors.ConfigurationError
        The context is missing or invalid; the message lists every problem.
    """
    config = load_config(app.node.try_get_context(CONTEXT_KEY), root=root)
    stack = RegistrarStack(app, STACK, config=config, root=root)
    nag.add_checks(app)
    return stack
