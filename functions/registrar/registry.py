"""The only module that calls SageMaker: describe, update and list what registrar acts on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registrar import aws
from registrar.accounts import Accounts, arn_account
from registrar.package import ModelPackage
from registrar.updates import PackageUpdate

if TYPE_CHECKING:
    from botocore.client import BaseClient


class Registry:
    """SageMaker's Model Registry and the jobs that feed it, behind the calls registrar makes.

    Parameters
    ----------
    client
        A botocore SageMaker client; by default the process-wide one (adaptive retries,
        ``AWS_ENDPOINT_URL`` honoured), created on first use.
    endpoint_url, region
        Used only to build the default client.
    accounts
        Reaches the jobs of workload accounts (through the evidence role there); without it, a job is
        described with the registry's own client wherever it runs.
    """

    def __init__(
        self,
        client: BaseClient | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        accounts: Accounts | None = None,
    ) -> None:
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region
        self._accounts = accounts

    def _in(self, account: str | None) -> Any:
        """The client acting in ``account``: a workload's through its evidence role, else the registry's own."""
        if self._accounts is None or self._accounts.reached_directly(account):
            return self.client
        return self._accounts.client("sagemaker", account)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("sagemaker", self._endpoint_url, self._region)
        return self._client

    def describe(self, model_package_arn: str) -> ModelPackage:
        """DescribeModelPackage, as a :class:`ModelPackage`."""
        response = self.client.describe_model_package(ModelPackageName=model_package_arn)
        response.pop("ResponseMetadata", None)
        return ModelPackage.model_validate(response)

    def update(self, update: PackageUpdate) -> str:
        """UpdateModelPackage with the request's deterministic ClientToken; returns the package ARN.

        The request is already valid (a :class:`PackageUpdate` cannot be built otherwise); the token
        makes a retry of the same change a no-op on the service side. A planned request keeps the
        token :func:`registrar.plan.plan` gave it (which names the package state it was planned
        against); a request without one gets the token of the request alone.
        """
        request = update.with_client_token().to_request()
        response = self.client.update_model_package(**request)
        return str(response["ModelPackageArn"])

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]:
        """ListModelPackages of a group, newest first, optionally only those with ``approval_status``."""
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group_name,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        }
        if approval_status is not None:
            kwargs["ModelApprovalStatus"] = approval_status
        for page in self.client.get_paginator("list_model_packages").paginate(**kwargs):
            yield from page.get("ModelPackageSummaryList", [])

    def list_versions(self, group_name: str, limit: int) -> list[dict[str, Any]]:
        """One ListModelPackages page of a group: its ``limit`` (1-100) newest versions' summaries, newest first."""
        response = self.client.list_model_packages(
            ModelPackageGroupName=group_name, SortBy="CreationTime", SortOrder="Descending", MaxResults=limit
        )
        return list(response.get("ModelPackageSummaryList", []))

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        """The champion: the most recently created Approved version of the group, other than ``excluding``."""
        for summary in self.list_packages(group_name, approval_status="Approved"):
            if summary["ModelPackageArn"] != excluding:
                return self.describe(summary["ModelPackageArn"])
        return None

    def describe_compilation_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        """DescribeCompilationJob by job name, in ``account`` (a workload's) or the registry's own."""
        response: dict[str, Any] = self._in(account).describe_compilation_job(CompilationJobName=name)
        response.pop("ResponseMetadata", None)
        return response

    def list_compilation_jobs(
        self, *, status: str, modified_after: datetime, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """ListCompilationJobs in ``status`` last modified after ``modified_after``, page by page."""
        paginator = self.client.get_paginator("list_compilation_jobs")
        pages = paginator.paginate(
            StatusEquals=status,
            LastModifiedTimeAfter=modified_after,
            SortBy="CreationTime",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": page_size},
        )
        for page in pages:
            yield from page.get("CompilationJobSummaries", [])

    def describe_processing_job(self, name: str, *, account: str | None = None) -> dict[str, Any]:
        """DescribeProcessingJob by job name, in ``account`` (a workload's) or the registry's own."""
        response: dict[str, Any] = self._in(account).describe_processing_job(ProcessingJobName=name)
        response.pop("ResponseMetadata", None)
        return response

    def tags(self, resource_arn: str) -> dict[str, str]:
        """The tags of a SageMaker resource, as a mapping; read in the account its ARN names."""
        tags: dict[str, str] = {}
        for page in self._in(arn_account(resource_arn)).get_paginator("list_tags").paginate(ResourceArn=resource_arn):
            tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        return tags

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        """DescribeEndpoint by endpoint name."""
        response: dict[str, Any] = self.client.describe_endpoint(EndpointName=name)
        response.pop("ResponseMetadata", None)
        return response

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        """DescribeEndpointConfig by endpoint configuration name."""
        response: dict[str, Any] = self.client.describe_endpoint_config(EndpointConfigName=name)
        response.pop("ResponseMetadata", None)
        return response

    def describe_model(self, name: str) -> dict[str, Any]:
        """DescribeModel by model name."""
        response: dict[str, Any] = self.client.describe_model(ModelName=name)
        response.pop("ResponseMetadata", None)
        return response
