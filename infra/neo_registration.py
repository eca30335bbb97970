"""The Neo flow: a scheduled sweeper publishes finished compilation jobs; the registration handler attaches them.

Neo has no native completion event, so the sweeper lists compilation jobs that finished since its
watermark and publishes one ``Compilation Job State Change`` per job on the default bus; a rule
routes those, like any other event, to the registration handler (registrar.neo).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import cross_account, nag, permissions
from infra.config import RegistrarConfig
from infra.function import RegistrarFunction
from infra.names import (
    ENV_EVENT_BUS_NAME,
    ENV_MANAGED_GROUPS,
    ENV_NEO_OUTPUT_LOCATIONS,
    ENV_SWEEP_LOOKBACK_MINUTES,
    ENV_TABLE_NAME,
    NEO_REGISTRATION_HANDLER,
    NEO_REGISTRATION_ROLE_NAME,
    SWEEPER_HANDLER,
)
from infra.routing import RoutedQueue, target_dead_letter_queue
from infra.shared import SharedResources
from registrar.patterns import FLOWS

SWEEPER_TIMEOUT = cdk.Duration.seconds(120)
# The first sweep (no watermark yet) looks back at least an hour, and always past three missed intervals.
MIN_LOOKBACK_MINUTES = 60


def lookback_minutes(rate_minutes: int) -> int:
    """How far back the first sweep looks, for a given sweep rate."""
    return max(MIN_LOOKBACK_MINUTES, 3 * rate_minutes)


class NeoRegistration(Construct):
    """Registers finished Neo compilation jobs on the model package versions they were compiled from.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    shared
        The function code, dependencies layer and state table.
    config
        The deployment's configuration (groups, sweep rate, concurrency).

    Attributes
    ----------
    handler
        The registration function, its role and log group.
    route
        The rule, queue and dead-letter queues that feed it.
    sweeper
        The scheduled function that publishes finished compilation jobs.
    schedule
        The rule that invokes the sweeper every ``sweep_rate_minutes``.
    schedule_dead_letter_queue
        Invocations of the sweeper EventBridge could not deliver.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, shared: SharedResources, config: RegistrarConfig
    ) -> None:
        super().__init__(scope, construct_id)
        groups = ",".join(config.model_package_groups)

        self.handler = RegistrarFunction(
            self,
            "Handler",
            handler=NEO_REGISTRATION_HANDLER,
            description="Attaches finished Neo compilation jobs to their model package versions",
            code=shared.code,
            layer=shared.layer,
            tracing=config.tracing,
            environment={
                ENV_TABLE_NAME: shared.table.table_name,
                ENV_MANAGED_GROUPS: groups,
                ENV_NEO_OUTPUT_LOCATIONS: ",".join(config.neo_output_locations),
                **cross_account.flow_environment(self, config),
            },
            role_name=cross_account.flow_role_name(config, NEO_REGISTRATION_ROLE_NAME),
        )
        permissions.update_packages(self.handler.role, config.model_package_groups)
        permissions.read_jobs(self.handler.role, "compilation-job", ["sagemaker:DescribeCompilationJob"])
        cross_account.read_workload_evidence(self.handler, config)
        self.route = RoutedQueue(
            self,
            "Events",
            flow="neo",
            patterns=FLOWS["neo"],
            consumer=self.handler.function,
            timeout=self.handler.timeout,
            max_concurrency=config.max_concurrency,
            workloads=cross_account.flow_workloads(config),
        )
        permissions.use_idempotency_records(self.handler, shared.table, before=[self.route.mapping])

        sweep = build_sweeper(self, shared=shared, config=config)
        self.sweeper = sweep.function
        self.schedule = sweep.schedule
        self.schedule_dead_letter_queue = sweep.dead_letter_queue


@dataclass(frozen=True)
class Sweep:
    """The sweeper and what runs it: the function, its schedule and the schedule's dead-letter queue."""

    function: RegistrarFunction
    schedule: events.Rule
    dead_letter_queue: sqs.Queue


def build_sweeper(
    scope: Construct,
    *,
    shared: SharedResources,
    config: RegistrarConfig,
    neo_output_locations: Sequence[str] = (),
) -> Sweep:
    """The scheduled sweeper, built into ``scope``: it publishes finished compilation jobs on the default bus.

    A function rather than a construct of its own, so the registry stack's sweeper keeps its construct
    paths (and so its resources) while a forwarder stack builds the same one in a workload account.

    Parameters
    ----------
    scope
        Where the sweeper's constructs go (``Sweeper``, ``Schedule``, ``ScheduleDeadLetterQueue``, ``DefaultBus``).
    shared
        The function code, dependencies layer and state table (which holds the watermark).
    config
        The deployment's configuration (sweep rate, managed groups, tracing).
    neo_output_locations
        Given, the sweeper's ``REGISTRAR_NEO_OUTPUT_LOCATIONS``: a workload account's own locations.
    """
    bus = events.EventBus.from_event_bus_name(scope, "DefaultBus", "default")
    sweeper = RegistrarFunction(
        scope,
        "Sweeper",
        handler=SWEEPER_HANDLER,
        description="Publishes a Compilation Job State Change event for each Neo job finished since the last sweep",
        code=shared.code,
        layer=shared.layer,
        tracing=config.tracing,
        timeout=SWEEPER_TIMEOUT,
        environment={
            ENV_TABLE_NAME: shared.table.table_name,
            ENV_EVENT_BUS_NAME: bus.event_bus_name,
            ENV_SWEEP_LOOKBACK_MINUTES: str(lookback_minutes(config.sweep_rate_minutes)),
            ENV_MANAGED_GROUPS: ",".join(config.model_package_groups),
            **({ENV_NEO_OUTPUT_LOCATIONS: ",".join(neo_output_locations)} if neo_output_locations else {}),
        },
    )
    # A failed sweep is not retried: the next scheduled one starts from the same watermark.
    sweeper.function.configure_async_invoke(retry_attempts=0)
    permissions.use_table(
        sweeper.role,
        shared.table,
        "SweepWatermark",
        permissions.WATERMARK_ACTIONS,
        [permissions.SWEEPER_WATERMARK_ID],
    )
    bus.grant_put_events_to(sweeper.role)
    sweeper.role.add_to_principal_policy(
        iam.PolicyStatement(sid="ListCompilationJobs", actions=["sagemaker:ListCompilationJobs"], resources=["*"])
    )
    nag.acknowledge(
        sweeper.role,
        "IAM5[Resource::*]",
        "sagemaker:ListCompilationJobs has no resource type (IAM requires Resource *) and is read-only; the "
        "other actions on * are X-Ray's PutTraceSegments and PutTelemetryRecords, which have none either",
    )

    rate = cdk.Duration.minutes(config.sweep_rate_minutes)
    dead_letter_queue = target_dead_letter_queue(scope, "ScheduleDeadLetterQueue")
    schedule = events.Rule(
        scope,
        "Schedule",
        description=f"registrar neo flow: look for finished compilation jobs every {config.sweep_rate_minutes} min",
        schedule=events.Schedule.rate(rate),
        targets=[
            targets.LambdaFunction(
                sweeper.function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=2,
                # A trigger older than one interval has been overtaken by the next one.
                max_event_age=cdk.Duration.seconds(max(60, int(rate.to_seconds()))),
            )
        ],
    )
    return Sweep(function=sweeper, schedule=schedule, dead_letter_queue=dead_letter_queue)
