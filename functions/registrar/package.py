"""The model package as DescribeModelPackage returns it: the state every plan is made against."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_ADDITIONAL_SPECIFICATIONS = 15
MAX_METADATA_ENTRIES = 50
_VERSION_GROUP = re.compile(r"arn:[^:]+:sagemaker:[^:]*:[0-9]{12}:model-package/([^/]+)/[0-9]+")


def group_in_version_arn(arn: str) -> str | None:
    """The model package group a version ARN names, as the ARN spells it; ``None`` if ``arn`` is no version ARN.

    SageMaker writes ARNs in lower case, so ``Churn-Model`` version 3 is ``.../model-package/churn-model/3``.
    """
    match = _VERSION_GROUP.fullmatch(arn)
    return match.group(1) if match else None


def unmanaged_reason(version_arn: str, managed_groups: Sequence[str]) -> str | None:
    """Why the version ``version_arn`` names belongs to none of ``managed_groups``, read from the ARN alone.

    Checked before any call: the functions may describe only the managed groups' versions (their
    role allows nothing else), so an event about any other version is skipped without a
    DescribeModelPackage, which would be refused. The comparison ignores case, as the ARN lowercases
    the group's name; the group's real name is matched exactly once the version is described.

    Parameters
    ----------
    version_arn
        A model package ARN.
    managed_groups
        fnmatch patterns of group names; empty allows any.

    Returns
    -------
    str or None
        The reason, or ``None`` when the version may belong to a managed group (or any group is managed).
    """
    if not managed_groups:
        return None
    group = group_in_version_arn(version_arn)
    if group is None:
        return f"{version_arn} is not a model package version; registrar acts on versions only"
    if any(fnmatch.fnmatchcase(group.lower(), pattern.lower()) for pattern in managed_groups):
        return None
    return f"group {group} (as the version ARN spells it) is not among the managed groups ({', '.join(managed_groups)})"


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
    def model_card_status(self) -> str | None:
        return (self.ModelCard or {}).get("ModelCardStatus")
