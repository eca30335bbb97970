"""In-memory SageMaker endpoints, models and packages for the deployment flow's unit tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from registrar.package import ModelPackage
from registrar.updates import PackageUpdate

ACCOUNT = "123456789012"
REGION = "us-east-1"
T0 = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
ENDPOINT = "churn-prod"
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"


def version_arn(group: str, version: int, account: str = ACCOUNT) -> str:
    return f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/{version}"


def not_found(operation: str, what: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": f"Could not find {what}."}}, operation)


class FakeEndpoints:
    """SageMaker in memory: endpoints, their configurations, models and model packages, with every call counted.

    ``deploy`` and ``update_endpoint`` move an endpoint as SageMaker does once it is ``InService`` again.
    """

    def __init__(self) -> None:
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.packages: dict[str, dict[str, Any]] = {}
        self.updates: list[PackageUpdate] = []
        self.calls: list[str] = []
        self.clock = T0

    # builders
    def package(self, arn: str, metadata: dict[str, str] | None = None) -> str:
        group, version = arn.rsplit("/", 2)[-2:]
        self.packages[arn] = {
            "ModelPackageArn": arn,
            "ModelPackageGroupName": group,
            "ModelPackageVersion": int(version),
            "ModelApprovalStatus": "Approved",
            "CustomerMetadataProperties": dict(metadata or {}),
            "LastModifiedTime": T0,
        }
        return arn

    def model(self, name: str, *packages: str, primary: bool = True) -> str:
        containers = [{"ModelPackageName": package} for package in packages]
        self.models[name] = (
            {"ModelName": name, "PrimaryContainer": containers[0]}
            if primary and len(containers) == 1
            else {"ModelName": name, "Containers": containers or [{"Image": "example/image:1"}]}
        )
        return name

    def config(self, name: str, variants: dict[str, str], shadows: dict[str, str] | None = None) -> str:
        """A configuration: variant name -> model name, for production (and shadow) variants."""
        self.configs[name] = {
            "EndpointConfigName": name,
            "ProductionVariants": [{"VariantName": v, "ModelName": m} for v, m in variants.items()],
            **(
                {"ShadowProductionVariants": [{"VariantName": v, "ModelName": m} for v, m in shadows.items()]}
                if shadows
                else {}
            ),
        }
        return name

    def deploy(self, config: str, name: str = ENDPOINT) -> dict[str, Any]:
        """CreateEndpoint or UpdateEndpoint, ended: the endpoint is InService with ``config``; returns its event."""
        self.clock += timedelta(minutes=10)
        endpoint = self.endpoints.setdefault(
            name,
            {
                "EndpointName": name,
                "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{name}",
                "CreationTime": self.clock,
            },
        )
        endpoint.update(EndpointConfigName=config, EndpointStatus="InService", LastModifiedTime=self.clock)
        return endpoint_event(endpoint)

    # the calls of registrar.registry.Registry
    def describe_endpoint(self, name: str) -> dict[str, Any]:
        self.calls.append("DescribeEndpoint")
        if name not in self.endpoints:
            raise not_found("DescribeEndpoint", f"endpoint {name}")
        return copy.deepcopy(self.endpoints[name])

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        self.calls.append("DescribeEndpointConfig")
        if name not in self.configs:
            raise not_found("DescribeEndpointConfig", f"endpoint configuration {name}")
        return copy.deepcopy(self.configs[name])

    def describe_model(self, name: str) -> dict[str, Any]:
        self.calls.append("DescribeModel")
        if name not in self.models:
            raise not_found("DescribeModel", f"model {name}")
        return copy.deepcopy(self.models[name])

    def describe(self, model_package_arn: str) -> ModelPackage:
        self.calls.append("DescribeModelPackage")
        if model_package_arn not in self.packages:
            raise not_found("DescribeModelPackage", f"model package {model_package_arn}")
        return ModelPackage.model_validate(copy.deepcopy(self.packages[model_package_arn]))

    def update(self, update: PackageUpdate) -> str:
        self.calls.append("UpdateModelPackage")
        package = self.packages[update.ModelPackageArn]
        package["CustomerMetadataProperties"].update(update.CustomerMetadataProperties or {})
        package["LastModifiedTime"] = package["LastModifiedTime"] + timedelta(seconds=1)
        self.updates.append(update)
        return update.ModelPackageArn


def endpoint_event(endpoint: dict[str, Any], status: str = "IN_SERVICE") -> dict[str, Any]:
    """The ``SageMaker Endpoint State Change`` SageMaker sends for ``endpoint`` (the sample's shape)."""
    modified = endpoint["LastModifiedTime"]
    return {
        "version": "0",
        "id": f"event-{modified.timestamp()}",
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": str(int(modified.timestamp() * 1000)),
        "region": REGION,
        "resources": [endpoint["EndpointArn"]],
        "detail": {
            "EndpointName": endpoint["EndpointName"],
            "EndpointArn": endpoint["EndpointArn"],
            "EndpointConfigName": endpoint["EndpointConfigName"],
            "ProductionVariants": [{"DesiredWeight": 1.0, "DesiredInstanceCount": 1.0}],
            "EndpointStatus": status,
            "CreationTime": endpoint["CreationTime"].timestamp() * 1000,
            "LastModifiedTime": modified.timestamp() * 1000,
            "Tags": {},
        },
    }
