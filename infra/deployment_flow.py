"""The deployment flow: endpoints going into service → the deployment handler (registrar.deployments)."""

from __future__ import annotations

from typing import Final

from constructs import Construct

from infra import permissions
from infra.config import RegistrarConfig
from infra.function import RegistrarFunction
from infra.names import DEPLOYMENT_HANDLER, ENV_MANAGED_GROUPS, ENV_TABLE_NAME
from infra.routing import RoutedQueue
from infra.shared import SharedResources
from registrar.decisions.journal import ID_PREFIX as JOURNAL_ID_PREFIX
from registrar.deployments.ledger import ID_PREFIX as LEDGER_ID_PREFIX
from registrar.patterns import FLOWS

# What registrar.deployments.ledger.DeploymentLedger calls (get_item, put_item), on deployment#<endpoint ARN> items.
LEDGER_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem")
# What registrar.decisions.journal.DecisionJournal calls (put_item, get_item, delete_item), on decision#<ARN> items.
JOURNAL_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")


class DeploymentFlow(Construct):
    """Records, on each managed version an endpoint serves, when and where it went live, and retires replaced ones.

    The handler may describe the account's endpoints, endpoint configurations and models, describe and
    update the versions of the configured groups, publish ``Registrar Decision`` events, and keep its
    idempotency records, its endpoints' served sets and its staged decisions in the state table, nothing else.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    shared
        The function code, dependencies layer and state table.
    config
        The deployment's configuration (groups, concurrency, tracing).

    Attributes
    ----------
    handler
        The deployment function, its role and log group.
    route
        The rule, queue and dead-letter queues that feed it.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, shared: SharedResources, config: RegistrarConfig
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = RegistrarFunction(
            self,
            "Handler",
            handler=DEPLOYMENT_HANDLER,
            description="Records on each model package version where and since when an endpoint serves it",
            code=shared.code,
            layer=shared.layer,
            tracing=config.tracing,
            environment={
                ENV_TABLE_NAME: shared.table.table_name,
                ENV_MANAGED_GROUPS: ",".join(config.model_package_groups),
            },
        )
        role = self.handler.role
        permissions.read_endpoints(role)
        permissions.update_packages(role, config.model_package_groups)
        permissions.put_decision_events(role)
        permissions.use_table(role, shared.table, "DeploymentLedger", LEDGER_ACTIONS, [f"{LEDGER_ID_PREFIX}*"])
        permissions.use_table(role, shared.table, "DecisionJournal", JOURNAL_ACTIONS, [f"{JOURNAL_ID_PREFIX}*"])

        self.route = RoutedQueue(
            self,
            "Events",
            flow="deployment",
            patterns=FLOWS["deployment"],
            consumer=self.handler.function,
            timeout=self.handler.timeout,
            max_concurrency=config.max_concurrency,
        )
        permissions.use_idempotency_records(self.handler, shared.table, before=[self.route.mapping])
