"""Which model package version a compilation job belongs to.

A job compiled from a versioned package says so itself (``ModelPackageVersionArn``); a job compiled
from an S3 artifact is linked by its tag ``registrar:model-package-arn``. Nothing else links a job:
registrar never guesses a package from names or S3 paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from registrar.errors import truncate
from registrar.neo.job import CompilationJob

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
