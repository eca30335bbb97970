"""The local topology: the deployed queues' timeouts kept in AWS's order, and the policy deployed as the stack does."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from registrar.approval.policy import deployable_json
from registrar.errors import ConfigurationError
from registrar_cli.queues import Queue
from registrar_dev.emulator import Emulator
from registrar_dev.runner import DEFAULT_TIMEOUT_SECONDS, LocalEventSourceMapping
from registrar_dev.support import ACCOUNT
from registrar_dev.topology import POLICY_PARAMETER, build_topology
from tests.integration.scenario import POLICY


def _sqs(aws: Emulator) -> Any:
    return boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)


def test_a_visibility_timeout_shorter_than_the_function_timeout_is_refused_before_anything_is_made(
    aws: Emulator,
) -> None:
    # WHEN the topology is asked for queues whose records would come back before the function's timeout
    with pytest.raises(ConfigurationError, match="visibility timeout 1 s is shorter than the function timeout 2 s"):
        build_topology(endpoint_url=aws.endpoint, visibility_timeout=1, function_timeout=2)
    # THEN it is refused, and no queue was created
    assert (
        boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region).list_queues().get("QueueUrls", []) == []
    )


def test_the_mappings_take_the_topologys_function_timeout(aws: Emulator) -> None:
    # GIVEN the topology of a 1 s function on queues with a 1 s visibility timeout
    topology = build_topology(endpoint_url=aws.endpoint, visibility_timeout=1, function_timeout=1)
    flow = topology.flows["approval"]
    # THEN a mapping with the topology's function timeout is accepted, and one with the default is refused
    queue = Queue(url=flow.queue_url, client=_sqs(aws))
    mapping = LocalEventSourceMapping(
        queue=queue,
        queue_arn=flow.queue_arn,
        handler=lambda event, context: None,
        function_name="registrar-approval",
        timeout_seconds=topology.function_timeout,
    )
    assert mapping.timeout_seconds == topology.function_timeout == 1
    with pytest.raises(ConfigurationError):
        LocalEventSourceMapping(
            queue=queue, queue_arn=flow.queue_arn, handler=lambda event, context: None, function_name="f"
        )


def test_the_defaults_agree(aws: Emulator) -> None:
    # GIVEN the default topology (what the latency benchmark builds) THEN a default mapping is accepted on it
    topology = build_topology(endpoint_url=aws.endpoint)
    flow = topology.flows["neo"]
    mapping = LocalEventSourceMapping(
        queue=Queue(url=flow.queue_url, client=_sqs(aws)),
        queue_arn=flow.queue_arn,
        handler=lambda event, context: None,
        function_name="registrar-neo",
    )
    assert mapping.timeout_seconds == topology.function_timeout == DEFAULT_TIMEOUT_SECONDS


def test_the_policy_is_deployed_to_its_ssm_parameter_as_the_stack_does(aws: Emulator) -> None:
    # WHEN the topology is built with the policy file
    topology = build_topology(endpoint_url=aws.endpoint, policy_file=POLICY)
    # THEN the parameter holds the file, validated, as the compact JSON the stack deploys
    ssm = boto3.client("ssm", endpoint_url=aws.endpoint, region_name=aws.region)
    parameter = ssm.get_parameter(Name=POLICY_PARAMETER)["Parameter"]
    assert topology.policy_parameter == POLICY_PARAMETER
    assert (parameter["Type"], parameter["Value"]) == ("String", deployable_json(POLICY))


def test_without_a_policy_file_no_parameter_is_made(aws: Emulator) -> None:
    topology = build_topology(endpoint_url=aws.endpoint)
    ssm = boto3.client("ssm", endpoint_url=aws.endpoint, region_name=aws.region)
    assert topology.policy_parameter is None
    assert ssm.describe_parameters()["Parameters"] == []


def test_with_workloads_the_forwarded_rules_also_accept_their_events_and_no_other_rule_does(aws: Emulator) -> None:
    # WHEN the registry's topology is built for a deployment with one workload account
    topology = build_topology(endpoint_url=aws.endpoint, workloads=["111111111111"])
    events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
    accounts = {
        rule: json.loads(events.describe_rule(Name=rule)["EventPattern"])["account"]
        for flow in topology.flows.values()
        for rule in flow.rules
    }
    # THEN exactly the rules of the forwarded patterns (a finished evaluation job, registrar's own compilation event)
    # match the workload's events besides the registry's, as registrar.patterns.for_registry narrows them for infra
    assert topology.workloads == ("111111111111",)
    assert accounts == {
        "registrar-approval-0": [ACCOUNT],
        "registrar-approval-1": [ACCOUNT, "111111111111"],
        "registrar-neo-0": [ACCOUNT, "111111111111"],
        "registrar-deployment-0": [ACCOUNT],
    }
