"""Which model package version a compilation job belongs to, and whether it is bound to it.

A job compiled from a versioned package says so itself (``ModelPackageVersionArn``); a job compiled
from an S3 artifact is linked by its tag ``registrar:model-package-arn``. Nothing else links a job:
registrar never guesses a package from names or S3 paths.

A link is a pointer, not proof: anyone who can start a compilation can tag it. A linked job counts
only when it is *bound* to the version (:func:`unbound_reason`): it compiled that version's own model,
and what it produced lies where the deployment allows compiled models to be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from registrar.errors import truncate
from registrar.locations import object_within
from registrar.neo.job import CompilationJob
from registrar.package import ModelPackage

MODEL_PACKAGE_TAG = "registrar:model-package-arn"
# A model package *version*: model-package/<group>/<version>. An unversioned package ARN has no version.
VERSION_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/[^/\s]{1,63}/[0-9]{1,10}")

LinkStatus = Literal["linked", "unlinked", "invalid"]


class Link(BaseModel):
    """How a job is linked to its package.

    Attributes
    ----------
    status
        ``linked``, ``unlinked`` (the job names no package) or ``invalid`` (it names something
        that is not a model package version ARN).
    model_package_arn
        The version ARN when linked.
    source
        ``ModelPackageVersionArn`` or the tag's key, when the job names something.
    reason
        Why the job is not linked, for the outcome.
    """

    model_config = ConfigDict(frozen=True)

    status: LinkStatus
    model_package_arn: str | None = None
    source: str | None = None
    reason: str | None = None


def needs_tags(job: CompilationJob) -> bool:
    """Whether linking the job needs its tags (it does not name a package version itself)."""
    return not job.ModelPackageVersionArn


def is_version_arn(value: str) -> bool:
    """Whether ``value`` is a model package version ARN (``...:model-package/<group>/<version>``)."""
    return VERSION_ARN.fullmatch(value) is not None


def link(job: CompilationJob, tags: Mapping[str, str] | None = None) -> Link:
    """Find the model package version a job was compiled from.

    Parameters
    ----------
    job
        The job as DescribeCompilationJob returned it.
    tags
        The job's tags; read only when the job has no ``ModelPackageVersionArn``
        (see :func:`needs_tags`).

    Returns
    -------
    Link
        ``linked`` with the ARN from ``ModelPackageVersionArn``, else from the tag
        ``registrar:model-package-arn``; ``unlinked`` when neither is set; ``invalid`` when the value
        is not a model package version ARN.
    """
    name = job.CompilationJobName
    if job.ModelPackageVersionArn:
        value, source = job.ModelPackageVersionArn, "ModelPackageVersionArn"
    elif (tags or {}).get(MODEL_PACKAGE_TAG):
        value, source = (tags or {})[MODEL_PACKAGE_TAG], f"tag {MODEL_PACKAGE_TAG}"
    else:
        return Link(
            status="unlinked",
            reason=(
                f"compilation job {name} names no model package: set ModelPackageVersionArn or tag {MODEL_PACKAGE_TAG}"
            ),
        )
    if not is_version_arn(value):
        return Link(
            status="invalid",
            source=source,
            reason=(
                f"compilation job {name}: {source} is {truncate(value)}, not a model package version ARN "
                "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
            ),
        )
    return Link(status="linked", model_package_arn=value, source=source)


def unbound_reason(job: CompilationJob, package: ModelPackage) -> str | None:
    """Why ``job`` did not compile ``package``'s model, or ``None`` when it did.

    It did when it names the version itself (``ModelPackageVersionArn``: SageMaker compiled the
    version's own model), or when its input (``InputConfig.S3Uri``) is the version's model artifact,
    its primary container's ``ModelDataUrl``, exactly.
    """
    if job.ModelPackageVersionArn:
        if job.ModelPackageVersionArn == package.ModelPackageArn:
            return None
        name, version = job.CompilationJobName, job.ModelPackageVersionArn
        return f"compilation job {name} compiled {version}, not {package.ModelPackageArn}"
    source = job.InputConfig.S3Uri if job.InputConfig is not None else None
    artifact = package.model_data_url
    if source is not None and artifact is not None and source == artifact:
        return None
    return (
        f"compilation job {job.CompilationJobName} did not compile {package.ModelPackageArn}'s model: it compiled "
        f"{source or 'no S3 model'}, the version's model is {artifact or 'not in S3'}"
    )


def misplaced_reason(job: CompilationJob, output_locations: Sequence[str]) -> str | None:
    """Why the job's compiled model lies outside ``output_locations`` (empty allows any), or ``None``."""
    artifact = job.artifact_uri
    if artifact is None or object_within(artifact, output_locations):
        return None
    return (
        f"compilation job {job.CompilationJobName}'s compiled model {artifact} is outside the configured Neo output "
        f"locations ({', '.join(output_locations)})"
    )
