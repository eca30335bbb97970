"""The local topology: the deployed queues' timeouts kept in AWS's order, and the policy deployed as the stack does."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from registrar.approval.policy import deployable_json
from registrar.errors import ConfigurationError
from registrar_cli.queues import Queue
from registrar_dev.emulator import Emulator
from registrar_dev.runner import DEFAULT_TIMEOUT_SECONDS, LocalEventSourceMapping
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
