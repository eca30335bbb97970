"""The deployment flow on the emulator: endpoints announce going into service, and versions record where they serve.

Fixes 15-17 of the emulator (docs/sagemaker.md#endpoints-in-the-emulator): UpdateEndpoint works, CreateEndpoint and
UpdateEndpoint publish ``SageMaker Endpoint State Change`` (IN_SERVICE), and shadow variants are kept.
"""

from __future__ import annotations

import json
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from registrar.decisions.contract import DECISION_PATTERN
from registrar.deployments import service as deployment
from registrar.deployments.record import deployments_of
from registrar.package import ModelPackage
from registrar.patterns import for_account
from registrar_dev.emulator import Emulator
from registrar_dev.runner import flow_mappings
from registrar_dev.support import create_idempotency_table, fresh_container
from registrar_dev.topology import build_topology
from tests.integration.scenario import run_cli

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

ROLE = "arn:aws:iam::123456789012:role/registrar-endpoints"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
Drain = Callable[[], list[dict[str, Any]]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Endpoints:
    """A managed group, its versions, and the endpoints serving them, on the emulator."""

    sagemaker: SageMakerClient
    group: str
    drain: Drain

    def version(self) -> str:
        return self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://registrar-test-artifacts/{self.group}.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]

    def config(self, version: str, *, shadow: str | None = None) -> str:
        """A model from ``version`` and an endpoint configuration serving it on AllTraffic (and a shadow)."""
        model = unique("model")
        self.sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": version}])
        variant: Any = {"ModelName": model, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        members: dict[str, Any] = {}
        if shadow is not None:
            shadow_model = unique("shadow")
            self.sagemaker.create_model(
                ModelName=shadow_model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": shadow}
            )
            members["ShadowProductionVariants"] = [
                {
                    "VariantName": "Canary",
                    "ModelName": shadow_model,
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
                }
            ]
        name = unique("config")
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=[{"VariantName": "AllTraffic", **variant}], **members
        )
        return name

    def endpoint_events(self) -> list[dict[str, Any]]:
        return [event for event in self.drain() if event["detail-type"] == "SageMaker Endpoint State Change"]

    def describe(self, arn: str) -> ModelPackage:
        response = dict(self.sagemaker.describe_model_package(ModelPackageName=arn))
        response.pop("ResponseMetadata", None)
        return ModelPackage.model_validate(response)


@pytest.fixture
def endpoints(
    aws: Emulator, sagemaker: SageMakerClient, sagemaker_events: Drain, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Endpoints]:
    """A managed group, the state table and the environment the stack gives the deployment function."""
    group = unique("churn")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    table = unique("registrar-state")
    create_idempotency_table(boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name=aws.region), table)
    for variable, value in {
        "REGISTRAR_MANAGED_GROUPS": group,
        "REGISTRAR_TABLE_NAME": table,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(variable, value)
    _fresh()
    yield Endpoints(sagemaker=sagemaker, group=group, drain=sagemaker_events)
    _fresh()


def _fresh() -> None:
    fresh_container()
    deployment.deployed.cache_clear()


def apply(event: dict[str, Any], tmp_path: pathlib.Path) -> dict[str, Any]:
    """``registrar apply EVENT_FILE``: the outcome it prints."""
    path = tmp_path / f"{event['id']}.json"
    path.write_text(json.dumps(event))
    status, lines, stderr = run_cli("apply", str(path))
    assert status == 0, stderr
    [outcome] = lines
    return outcome


class DecisionQueue:
    """An SQS queue behind a rule on the Registrar Decision pattern, as a subscriber would have it."""

    def __init__(self, aws: Emulator) -> None:
        self.sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
        events = boto3.client("events", endpoint_url=aws.endpoint, region_name=aws.region)
        name = unique("decisions")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps(for_account(DECISION_PATTERN, aws.account_id)))
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])

    def details(self) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            received.extend(json.loads(message["Body"])["detail"] for message in messages)
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return received


# The emulator's endpoints ---------------------------------------------------------------------------------


def test_creating_an_endpoint_publishes_its_in_service_event_in_sagemakers_shape(endpoints: Endpoints) -> None:
    # GIVEN a configuration WHEN an endpoint is created from it
    name = unique("ep")
    config = endpoints.config(endpoints.version())
    arn = endpoints.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)["EndpointArn"]
    # THEN one SageMaker Endpoint State Change is published, IN_SERVICE, times as epoch-millisecond floats
    [event] = endpoints.endpoint_events()
    detail = event["detail"]
    assert (event["source"], event["resources"]) == ("aws.sagemaker", [arn])
    assert (detail["EndpointName"], detail["EndpointArn"], detail["EndpointConfigName"]) == (name, arn, config)
    assert detail["EndpointStatus"] == "IN_SERVICE"
    assert isinstance(detail["LastModifiedTime"], float) and isinstance(detail["CreationTime"], float)
    assert detail["ProductionVariants"] == [{"DesiredWeight": 1.0, "DesiredInstanceCount": 1.0}]
    assert detail["Tags"] == {}


def test_update_endpoint_switches_the_configuration_and_publishes_its_event(endpoints: Endpoints) -> None:
    # GIVEN an endpoint on a first configuration
    name = unique("ep")
    endpoints.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=endpoints.config(endpoints.version()))
    created = endpoints.sagemaker.describe_endpoint(EndpointName=name)
    endpoints.endpoint_events()
    time.sleep(0.01)  # the update's LastModifiedTime is a later millisecond
    # WHEN it is updated to a second one
    second = endpoints.config(endpoints.version())
    endpoints.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=second)
    # THEN it serves the second, is InService, was modified later, and one IN_SERVICE event says so
    described = endpoints.sagemaker.describe_endpoint(EndpointName=name)
    assert (described["EndpointConfigName"], described["EndpointStatus"]) == (second, "InService")
    assert described["LastModifiedTime"] > created["LastModifiedTime"]
    [event] = endpoints.endpoint_events()
    assert event["detail"]["EndpointConfigName"] == second
    assert event["detail"]["LastModifiedTime"] == described["LastModifiedTime"].timestamp() * 1000


def test_update_endpoint_of_an_unknown_endpoint_is_a_validation_error(endpoints: Endpoints) -> None:
    config = endpoints.config(endpoints.version())
    with pytest.raises(endpoints.sagemaker.exceptions.ClientError, match="Could not find endpoint"):
        endpoints.sagemaker.update_endpoint(EndpointName=unique("missing"), EndpointConfigName=config)


def test_shadow_variants_are_kept(endpoints: Endpoints) -> None:
    config = endpoints.config(endpoints.version(), shadow=endpoints.version())
    described = endpoints.sagemaker.describe_endpoint_config(EndpointConfigName=config)
    assert [variant["VariantName"] for variant in described["ShadowProductionVariants"]] == ["Canary"]


# The flow, through `registrar apply` ------------------------------------------------------------------------


def test_an_endpoint_going_live_and_updated_records_then_retires_through_registrar_apply(
    aws: Emulator, endpoints: Endpoints, tmp_path: pathlib.Path
) -> None:
    # GIVEN two versions of a managed group, a rule on Registrar Decision events, and an endpoint on the first
    first, second = endpoints.version(), endpoints.version()
    decisions = DecisionQueue(aws)
    name = unique("ep")
    endpoints.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=endpoints.config(first))
    [created] = endpoints.endpoint_events()

    # WHEN registrar applies the endpoint's event
    outcome = apply(created, tmp_path)

    # THEN the first version records where it went live, and one Deployed decision is published
    assert (outcome["outcome"], outcome["model_package_arn"]) == ("updated", first)
    [record] = deployments_of(endpoints.describe(first))
    assert (record.endpoint, record.live, record.variants) == (name, True, ("AllTraffic",))
    assert [(d["verdict"], d["flow"], d["model_package_arn"]) for d in decisions.details()] == [
        ("Deployed", "deployment", first)
    ]

    # WHEN the endpoint is updated to the second version and registrar applies that event
    time.sleep(1.0)  # records are kept to the second: the update's time is a later one
    endpoints.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=endpoints.config(second))
    [updated] = endpoints.endpoint_events()
    apply(updated, tmp_path)

    # THEN the first version's record is retired, the second's opened, one decision each
    [retired] = deployments_of(endpoints.describe(first))
    [opened] = deployments_of(endpoints.describe(second))
    assert (retired.live, retired.since) == (False, record.since)
    assert retired.retired is not None and retired.retired == opened.since > record.since
    assert opened.live
    assert sorted((d["verdict"], d["model_package_arn"]) for d in decisions.details()) == [
        ("Deployed", second),
        ("Retired", first),
    ]

    # WHEN the same event is applied again THEN nothing is written nor published
    assert apply(updated, tmp_path)["outcome"] == "unchanged"
    assert decisions.details() == []


def test_an_endpoint_of_an_unmanaged_group_is_skipped_and_writes_nothing(
    aws: Emulator, endpoints: Endpoints, sagemaker: SageMakerClient, tmp_path: pathlib.Path
) -> None:
    # GIVEN an endpoint serving a version of a group registrar does not manage
    other = unique("fraud")
    sagemaker.create_model_package_group(ModelPackageGroupName=other)
    version = Endpoints(sagemaker=sagemaker, group=other, drain=endpoints.drain).version()
    decisions = DecisionQueue(aws)
    sagemaker.create_endpoint(EndpointName=unique("ep"), EndpointConfigName=endpoints.config(version))
    [event] = endpoints.endpoint_events()
    # WHEN applied THEN skipped, the version unchanged, nothing published
    assert apply(event, tmp_path)["outcome"] == "skipped"
    assert endpoints.describe(version).CustomerMetadataProperties == {}
    assert decisions.details() == []


# The flow, through the local topology and the deployment function ------------------------------------------


def test_the_deployment_function_records_an_endpoint_routed_by_the_local_topology(
    aws: Emulator, endpoints: Endpoints
) -> None:
    # GIVEN the deployed topology (rules from registrar.patterns.FLOWS, queues, DLQs) and the function's mapping
    topology = build_topology(endpoint_url=aws.endpoint, region=aws.region)
    mapping = flow_mappings(topology, boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region))[
        "deployment"
    ]
    version = endpoints.version()
    # WHEN an endpoint goes live and the deployment function polls its queue
    name = unique("ep")
    endpoints.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=endpoints.config(version))
    handled = mapping.poll_once(wait_seconds=2)
    # THEN the event came through the flow's rule and queue, and the version records the endpoint
    assert (handled, mapping.failed_records) == (1, 0)
    assert [record.endpoint for record in deployments_of(endpoints.describe(version))] == [name]
