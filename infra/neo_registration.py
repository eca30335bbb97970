"""The Neo flow: a scheduled sweeper publishes finished compilation jobs; the registration handler attaches them.

Neo has no native completion event, so the sweeper lists compilation jobs that finished since its
watermark and publishes one ``Compilation Job State Change`` per job on the default bus; a rule
routes those, like any other event, to the registration handler (registrar.neo).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag, permissions
from infra.config import RegistrarConfig
from infra.function import RegistrarFunction
from infra.names import (
    ENV_EVENT_BUS_NAME,
    ENV_MANAGED_GROUPS,
    ENV_NEO_OUTPUT_LOCATIONS,
    ENV_SWEEP_LOOKBACK_MINUTES,
    ENV_TABLE_NAME,
    NEO_REGISTRATION_HANDLER,
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
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
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
            },
        )
        permissions.update_packages(self.handler.role, config.model_package_groups)
        permissions.read_jobs(self.handler.role, "compilation-job", ["sagemaker:DescribeCompilationJob"])
        self.route = RoutedQueue(
            self,
            "Events",
            flow="neo",
            patterns=FLOWS["neo"],
            consumer=self.handler.function,
            timeout=self.handler.timeout,
            max_concurrency=config.max_concurrency,
        )
        permissions.use_idempotency_records(self.handler, shared.table, before=[self.route.mapping])

        self.sweeper = RegistrarFunction(
            self,
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
                ENV_MANAGED_GROUPS: groups,
            },
        )
        # A failed sweep is not retried: the next scheduled one starts from the same watermark.
        self.sweeper.function.configure_async_invoke(retry_attempts=0)
        permissions.use_table(
            self.sweeper.role,
            shared.table,
            "SweepWatermark",
            permissions.WATERMARK_ACTIONS,
            [permissions.SWEEPER_WATERMARK_ID],
        )
        bus.grant_put_events_to(self.sweeper.role)
        self.sweeper.role.add_to_principal_policy(
            iam.PolicyStatement(sid="ListCompilationJobs", actions=["sagemaker:ListCompilationJobs"], resources=["*"])
        )
        nag.acknowledge(
            self.sweeper.role,
            "IAM5[Resource::*]",
            "sagemaker:ListCompilationJobs has no resource type (IAM requires Resource *) and is read-only; the "
            "other actions on * are X-Ray's PutTraceSegments and PutTelemetryRecords, which have none either",
        )

        rate = cdk.Duration.minutes(config.sweep_rate_minutes)
        self.schedule_dead_letter_queue: sqs.Queue = target_dead_letter_queue(self, "ScheduleDeadLetterQueue")
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"registrar neo flow: look for finished compilation jobs every {config.sweep_rate_minutes} min",
            schedule=events.Schedule.rate(rate),
            targets=[
                targets.LambdaFunction(
                    self.sweeper.function,
                    dead_letter_queue=self.schedule_dead_letter_queue,
                    retry_attempts=2,
                    # A trigger older than one interval has been overtaken by the next one.
                    max_event_age=cdk.Duration.seconds(max(60, int(rate.to_seconds()))),
                )
            ],
        )
