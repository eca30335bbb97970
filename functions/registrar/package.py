"""The model package as DescribeModelPackage returns it: the state every plan is made against."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_ADDITIONAL_SPECIFICATIONS = 15
MAX_METADATA_ENTRIES = 50


class ModelPackage(BaseModel):
    """The subset of DescribeModelPackage's output registrar reads; unknown members are kept.

    Lenient on purpose: a package created by another tool may hold values registrar would refuse
    to write, and reading it must not fail.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    ModelPackageArn: str
    ModelPackageGroupName: str | None = None
    ModelPackageVersion: int | None = None
    ModelPackageStatus: str | None = None
    ModelApprovalStatus: str | None = None
    ApprovalDescription: str | None = None
    CustomerMetadataProperties: dict[str, str] = Field(default_factory=dict)
    AdditionalInferenceSpecifications: list[dict[str, Any]] = Field(default_factory=list)
    InferenceSpecification: dict[str, Any] | None = None
    ModelMetrics: dict[str, Any] | None = None
    ModelLifeCycle: dict[str, Any] | None = None
    ModelCard: dict[str, Any] | None = None
    SourceUri: str | None = None
    CreationTime: datetime | None = None
    LastModifiedTime: datetime | None = None

    @property
    def specification_names(self) -> frozenset[str]:
        """Names of the additional inference specifications already attached."""
        return frozenset(spec["Name"] for spec in self.AdditionalInferenceSpecifications if "Name" in spec)

    @property
    def quality_report_uri(self) -> str | None:
        """``ModelMetrics.ModelQuality.Statistics.S3Uri``, where SageMaker Pipelines registers the evaluation."""
        statistics = ((self.ModelMetrics or {}).get("ModelQuality") or {}).get("Statistics") or {}
        uri = statistics.get("S3Uri")
        return uri if isinstance(uri, str) else None

    @property
    def primary_container(self) -> dict[str, Any]:
        """The first container of the primary inference specification, or an empty mapping."""
        containers = (self.InferenceSpecification or {}).get("Containers") or []
        return containers[0] if containers else {}

    @property
    def model_data_url(self) -> str | None:
        """The version's model artifact: its primary container's ``ModelDataUrl``, or ``None``."""
        url = self.primary_container.get("ModelDataUrl")
        return url if isinstance(url, str) and url else None

    @property
    def model_card_status(self) -> str | None:
        return (self.ModelCard or {}).get("ModelCardStatus")
