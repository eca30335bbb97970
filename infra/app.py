"""Compose the app: the registrar stack from its ``registrar`` context, with cdk-nag's checks.

With ``accounts`` in the configuration, the registrar stack goes to the registry account and one forwarder
stack to each workload account, all from this one app.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk

from infra import nag
from infra.config import CONFIG_FILE_VARIABLE, PROJECT_ROOT, RegistrarConfig, context_from_file, load_config
from infra.forwarder import ForwarderStack
from infra.names import CONTEXT_KEY, STACK, forwarder_stack
from infra.stack import RegistrarStack


@dataclass(frozen=True)
class Topology:
    """The stacks of one app.

    Attributes
    ----------
    registry
        The registrar stack (the registry account's, with several accounts).
    forwarders
        Each workload account's forwarder stack, by the workload's name; empty with a single account.
    """

    registry: RegistrarStack
    forwarders: dict[str, ForwarderStack] = field(default_factory=dict)


def read_config(app: cdk.App, *, root: Path = PROJECT_ROOT) -> RegistrarConfig:
    """The deployment's configuration: ``REGISTRAR_CONFIG=FILE`` if set, else the app's ``registrar`` context.

    Raises
    ------
    registrar.errors.ConfigurationError
        The context is missing or invalid; the message lists every problem.
    """
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        # The deployment's configuration from a file of its own, instead of cdk.json's context.
        return load_config(context_from_file(config_file), root=root, source=f"{CONFIG_FILE_VARIABLE}={config_file}")
    return load_config(app.node.try_get_context(CONTEXT_KEY), root=root)


def compose_topology(app: cdk.App, *, root: Path = PROJECT_ROOT) -> Topology:
    """Build every stack of the deployment into ``app``, with cdk-nag's checks on each.

    A single account: the registrar stack, environment-agnostic as always. With ``accounts``: the
    registrar stack in the registry account and region, and a ``RegistrarForwarder-<name>`` stack in
    each workload account, same region.

    Raises
    ------
    registrar.errors.ConfigurationError
        The configuration is missing or invalid; the message lists every problem.
    """
    config = read_config(app, root=root)
    accounts = config.accounts
    if accounts is None:
        topology = Topology(registry=RegistrarStack(app, STACK, config=config, root=root))
    else:
        registry = RegistrarStack(
            app,
            STACK,
            config=config,
            root=root,
            env=cdk.Environment(account=accounts.registry, region=accounts.region),
        )
        forwarders = {
            workload.name: ForwarderStack(
                app,
                forwarder_stack(workload.name),
                config=config,
                workload=workload,
                root=root,
                env=cdk.Environment(account=workload.account, region=accounts.region),
            )
            for workload in accounts.workloads
        }
        topology = Topology(registry=registry, forwarders=forwarders)
    nag.add_checks(app)
    return topology


def compose(app: cdk.App, *, root: Path = PROJECT_ROOT) -> RegistrarStack:
    """Build the deployment into ``app`` (:func:`compose_topology`) and return the registrar stack.

    ``REGISTRAR_CONFIG=FILE`` in the environment reads that JSON file (the same keys) instead.

    Raises
    ------
    registrar.errors.ConfigurationError
        The context is missing or invalid; the message lists every problem.
    """
    return compose_topology(app, root=root).registry
