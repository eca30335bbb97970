"""Alarms on every way registrar can fail quietly, an alarm topic, and one dashboard of what it decided."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.names import (
    DECISION_METRICS,
    FAILURE_METRIC,
    METRICS_NAMESPACE,
    NEO_METRICS,
    SERVICE,
    SKIP_METRICS,
    SWEEP_METRIC,
)
from infra.routing import RoutedQueue

PERIOD = cdk.Duration.minutes(5)
# A sweep that has not completed for this many intervals means compilation jobs are going unregistered.
MISSED_SWEEPS = 3
# SQS publishes its queue metrics once a minute.
QUEUE_PERIOD = cdk.Duration.minutes(1)
# How many consecutive minutes an event must be older than its queue's visibility timeout before the age alarm
# fires: an event deferred once (a job event ahead of SageMaker's state) comes back at exactly that age and is
# gone within a minute, while an event nobody receives, or one handed back again, stays over it.
OLD_MESSAGE_MINUTES = 3


def from_this_accounts_alarms(stack: cdk.Stack) -> dict[str, dict[str, str]]:
    """The condition that limits the CloudWatch service principal to alarms of ``stack``'s account and region.

    CloudWatch sends ``aws:SourceAccount`` and ``aws:SourceArn`` (the alarm's ARN) with the calls it makes
    for an alarm action, to SNS and to KMS alike; without them, any account's alarm could use the grant
    (the confused deputy problem).

    Parameters
    ----------
    stack
        The stack whose account and region the alarms must be in.

    Returns
    -------
    dict
        An IAM ``Condition`` block: ``StringEquals`` on ``aws:SourceAccount``, ``ArnLike`` on ``aws:SourceArn``.
    """
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
    }


def business_metric(name: str, *, period: cdk.Duration = PERIOD) -> cloudwatch.Metric:
    """A Powertools metric registrar emits (namespace ``registrar``, dimension ``service=registrar``), summed."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=cloudwatch.Stats.SUM,
        period=period,
    )


class Observability(Construct):
    """The alarm topic, the alarms and the dashboard.

    Alarms: any message in any dead-letter queue; an event in a flow's queue older than the queue's
    visibility timeout for :data:`OLD_MESSAGE_MINUTES` minutes; any error or throttle of any function;
    and no completed sweep for :data:`MISSED_SWEEPS` sweep intervals (missing data counts as missing
    sweeps).

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    functions
        The functions to alarm on and chart, by name.
    dead_letter_queues
        Every dead-letter queue, by name.
    flow_queues
        Each flow's queue, by name (``ApprovalQueue``...): the rules, queue and mapping that feed a function.
    sweep_rate
        The sweeper's schedule interval.
    alarm_email
        An address to subscribe to the alarm topic, if any.

    Attributes
    ----------
    topic
        The alarm topic (KMS-encrypted, TLS only).
    alarms
        Every alarm, by construct id.
    dashboard
        The registrar dashboard.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        flow_queues: Mapping[str, RoutedQueue],
        sweep_rate: cdk.Duration,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        # CloudWatch cannot publish to a topic encrypted with the AWS managed aws/sns key, so the topic has
        # its own key that CloudWatch may use.
        key = kms.Key(
            self,
            "TopicKey",
            description="registrar alarm topic encryption",
            enable_key_rotation=True,
            # The key only ever protects alarm notifications in flight: nothing to keep once the stack is gone.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # As the topic policy below: for this account's alarms only. A key policy names the key as "*".
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseKey",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=from_this_accounts_alarms(stack),
            )
        )
        self.topic = sns.Topic(self, "AlarmTopic", display_name="registrar alarms", master_key=key, enforce_ssl=True)
        # enforce_ssl gives the topic a resource policy, which replaces the default one that let CloudWatch publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_this_accounts_alarms(stack),
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = actions.SnsAction(self.topic)

        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def alarm(
            construct: str,
            metric: cloudwatch.IMetric,
            description: str,
            *,
            threshold: float,
            comparison_operator: cloudwatch.ComparisonOperator,
            treat_missing_data: cloudwatch.TreatMissingData,
            evaluation_periods: int = 1,
        ) -> None:
            created = cloudwatch.Alarm(
                self,
                construct,
                metric=metric,
                alarm_description=f"registrar: {description}. What to do: docs/operations.md",
                evaluation_periods=evaluation_periods,
                threshold=threshold,
                comparison_operator=comparison_operator,
                treat_missing_data=treat_missing_data,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms[construct] = created

        for name, queue in dead_letter_queues.items():
            alarm(
                f"{name}Depth",
                queue.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                f"{name} has messages: events that could not be delivered or handled",
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        for name, route in flow_queues.items():
            # The visibility timeout (six function timeouts) is the longest one receive may take. A message older
            # than that was not received in time, or was handed back and is still not handled: either way its
            # event waits longer than the function should take.
            waited = int(route.visibility_timeout.to_seconds())
            alarm(
                f"{name}OldestMessageAge",
                route.queue.metric_approximate_age_of_oldest_message(
                    period=QUEUE_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                f"an event has been in {name} for more than its visibility timeout ({waited} s) for "
                f"{OLD_MESSAGE_MINUTES} minutes: events wait longer than the function should take",
                threshold=waited,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # An idle queue publishes no metric: nothing is waiting.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                evaluation_periods=OLD_MESSAGE_MINUTES,
            )
        for name, function in functions.items():
            alarm(
                f"{name}Errors",
                function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                f"the {name} function failed (an unhandled error, a timeout or a crash)",
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm(
                f"{name}Throttles",
                function.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                f"the {name} function was throttled (account concurrency exhausted)",
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        sweep_window = cdk.Duration.minutes(MISSED_SWEEPS * sweep_rate.to_minutes())
        alarm(
            "SweepMissing",
            business_metric(SWEEP_METRIC, period=sweep_window),
            f"no Neo sweep completed in {MISSED_SWEEPS} intervals: finished compilation jobs are not being registered",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.days(7))
        width = 12
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Decisions", left=[business_metric(name) for name in DECISION_METRICS], width=width
            ),
            cloudwatch.GraphWidget(
                title="Neo specifications attached",
                left=[business_metric(name) for name in NEO_METRICS],
                right=[business_metric(SWEEP_METRIC)],
                width=width,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Skipped events", left=[business_metric(name) for name in SKIP_METRICS], width=width
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[business_metric(FAILURE_METRIC)],
                right=[
                    function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM, label=f"{name} Errors")
                    for name, function in functions.items()
                ],
                width=width,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Duration p50 / p95 (ms)",
                left=[
                    function.metric_duration(period=PERIOD, statistic=stat, label=f"{name} {stat}")
                    for name, function in functions.items()
                    for stat in ("p50", "p95")
                ],
                width=width,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, queue in dead_letter_queues.items()
                ],
                width=width,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Oldest message in each flow queue (s)",
                left=[
                    route.queue.metric_approximate_age_of_oldest_message(
                        period=QUEUE_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, route in flow_queues.items()
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=route.visibility_timeout.to_seconds(), label=f"{name} alarm threshold"
                    )
                    for name, route in flow_queues.items()
                ],
                width=width,
            ),
            cloudwatch.GraphWidget(
                title="Messages waiting in each flow queue",
                left=[
                    route.queue.metric_approximate_number_of_messages_visible(
                        period=QUEUE_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=f"{name} waiting"
                    )
                    for name, route in flow_queues.items()
                ],
                right=[
                    route.queue.metric_approximate_number_of_messages_not_visible(
                        period=QUEUE_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=f"{name} in flight"
                    )
                    for name, route in flow_queues.items()
                ],
                width=width,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=2 * width)
        )
