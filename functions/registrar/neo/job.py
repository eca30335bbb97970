"""The compilation job as DescribeCompilationJob returns it: only the members registrar reads.

Lenient on purpose, like :class:`registrar.package.ModelPackage`: a job is read, never written, and a
member registrar does not use must not make reading it fail. Unknown members are kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "STOPPED"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class JobInput(_Lenient):
    """``InputConfig``: where the model came from and the framework it was trained in."""

    S3Uri: str | None = None
    Framework: str | None = None
    FrameworkVersion: str | None = None
    DataInputConfig: str | None = None


class JobTargetPlatform(_Lenient):
    """``OutputConfig.TargetPlatform``: an OS, architecture and optional accelerator."""

    Os: str | None = None
    Arch: str | None = None
    Accelerator: str | None = None


class JobOutput(_Lenient):
    """``OutputConfig``: where the compiled model went and what it was compiled for."""

    S3OutputLocation: str | None = None
    TargetDevice: str | None = None
    TargetPlatform: JobTargetPlatform | None = None
    CompilerOptions: str | None = None


class JobArtifacts(_Lenient):
    """``ModelArtifacts``."""

    S3ModelArtifacts: str | None = None


class CompilationJob(_Lenient):
    """The subset of DescribeCompilationJob's output registrar reads.

    Attributes
    ----------
    CompilationJobName, CompilationJobArn, CompilationJobStatus
        Identity and state (the status is UPPERCASE: ``COMPLETED``, ``FAILED``, ``STOPPED``, ...).
    ModelPackageVersionArn
        Set when the job compiled a versioned model package directly.
    InferenceImage
        The image that serves the compiled model on ``ml_*`` targets.
    ModelArtifacts
        ``S3ModelArtifacts``: the compiled ``.tar.gz``.
    InputConfig, OutputConfig
        Framework and target; ``InputConfig`` is absent for a job on a model package.
    FailureReason
        Why a FAILED job failed (may be empty).
    """

    CompilationJobName: str = Field(min_length=1)
    CompilationJobArn: str | None = None
    CompilationJobStatus: str
    ModelPackageVersionArn: str | None = None
    InferenceImage: str | None = None
    ModelArtifacts: JobArtifacts | None = None
    InputConfig: JobInput | None = None
    OutputConfig: JobOutput = Field(default_factory=JobOutput)
    FailureReason: str | None = None
    CreationTime: datetime | None = None
    LastModifiedTime: datetime | None = None
    CompilationEndTime: datetime | None = None

    @classmethod
    def read(cls, job: CompilationJob | dict[str, Any]) -> CompilationJob:
        """Accept either a DescribeCompilationJob response or an already parsed job."""
        return job if isinstance(job, CompilationJob) else cls.model_validate(job)

    @property
    def finished(self) -> bool:
        """Whether the job reached a final status (COMPLETED, FAILED or STOPPED)."""
        return self.CompilationJobStatus in FINAL_STATUSES

    @property
    def finished_ok(self) -> bool:
        """Whether the job COMPLETED: it produced a compiled model."""
        return self.CompilationJobStatus == "COMPLETED"

    @property
    def artifact_uri(self) -> str | None:
        """``ModelArtifacts.S3ModelArtifacts``, or ``None``."""
        return self.ModelArtifacts.S3ModelArtifacts if self.ModelArtifacts else None

    @property
    def target_device(self) -> str | None:
        return self.OutputConfig.TargetDevice

    @property
    def target_platform(self) -> dict[str, Any] | None:
        platform = self.OutputConfig.TargetPlatform
        return platform.model_dump(exclude_none=True) if platform is not None else None
