"""A finished compilation job as an additional inference specification of its model package version.

The container serves the job's compiled artifact with the job's ``InferenceImage`` (as the SageMaker
Python SDK deploys a compiled model); what the compilation does not change (environment, content
types, framework of a job compiled from the package itself) is carried over from the package's
primary inference specification.

Naming
------
``neo-<target>-<job name, truncated>-<first 8 hex digits of sha256(job name)>``, e.g.
``neo-ml-c5-churn-model-1-ml-c5-3f9a0c2e``: at most 63 characters of ``[a-zA-Z0-9-]`` (the API's
``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``; underscores become hyphens), the same job always yields the same
name (so a job already attached is recognised by its name), and two jobs whose names share a long
prefix still differ by the digest.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from registrar.errors import InvalidUpdateError, Violation, truncate
from registrar.neo.job import CompilationJob
from registrar.neo.targets import family_for, instance_types, target_label
from registrar.package import ModelPackage
from registrar.updates import MAX_ENVIRONMENT_ENTRIES, AdditionalInferenceSpecification

NAME_PREFIX = "neo"
MAX_NAME_LENGTH = 63
DIGEST_LENGTH = 8
_FRAMEWORK_VERSION = re.compile(r"[0-9]\.[A-Za-z0-9.-]+")
_NOT_NAME_CHARS = re.compile(r"[^a-zA-Z0-9]+")


def _name_part(text: str) -> str:
    return _NOT_NAME_CHARS.sub("-", text).strip("-")


def specification_name(job_name: str, target: str) -> str:
    """The additional inference specification name for a job: deterministic and valid for the API.

    Parameters
    ----------
    job_name
        ``CompilationJobName``.
    target
        The target label (``ml_c5``; see :func:`registrar.neo.targets.target_label`).

    Returns
    -------
    str
        ``neo-<target>-<job name, truncated>-<8 hex of sha256(job name)>``, at most 63 characters,
        matching ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``.
    """
    digest = hashlib.sha256(job_name.encode()).hexdigest()[:DIGEST_LENGTH]
    head = f"{NAME_PREFIX}-{_name_part(target) or 'target'}"
    head = head[: MAX_NAME_LENGTH - DIGEST_LENGTH - 1].rstrip("-")
    room = MAX_NAME_LENGTH - len(head) - DIGEST_LENGTH - 2
    job = _name_part(job_name)[: max(room, 0)].rstrip("-")
    return "-".join(part for part in (head, job, digest) if part)


def specification_description(job_name: str, target: str, framework: str | None, version: str | None) -> str:
    """``Neo: <job name> compiled for <target> (<framework> <version>)``, the framework part when known."""
    description = f"Neo: {job_name} compiled for {target}"
    compiled_from = " ".join(part for part in (framework, version) if part)
    return f"{description} ({compiled_from})" if compiled_from else description


def _framework(job: CompilationJob, package: ModelPackage, notes: list[str]) -> tuple[str | None, str | None]:
    # A job on a model package has no InputConfig: it compiled the package's own primary container.
    source: dict[str, Any]
    if job.InputConfig is not None and job.InputConfig.Framework:
        source = job.InputConfig.model_dump()
    else:
        source = package.primary_container
    framework = source.get("Framework") or None
    version = source.get("FrameworkVersion") or None
    if version is not None and not (3 <= len(version) <= 10 and _FRAMEWORK_VERSION.fullmatch(version)):
        notes.append(
            f"FrameworkVersion {truncate(version)} left out: the API takes 3-10 characters matching "
            "[0-9]\\.[A-Za-z0-9.-]+"
        )
        version = None
    return framework, version


def _environment(package: ModelPackage, notes: list[str]) -> dict[str, str] | None:
    environment = package.primary_container.get("Environment") or {}
    if not environment:
        return None
    if len(environment) > MAX_ENVIRONMENT_ENTRIES:
        kept = sorted(environment)[:MAX_ENVIRONMENT_ENTRIES]
        dropped = sorted(environment)[MAX_ENVIRONMENT_ENTRIES:]
        notes.append(
            f"Environment has {len(environment)} entries, more than the {MAX_ENVIRONMENT_ENTRIES} SageMaker "
            f"supports: kept the first {MAX_ENVIRONMENT_ENTRIES} by key, left out {', '.join(dropped)}"
        )
        return {key: environment[key] for key in kept}
    return dict(environment)


def build_specification_with_notes(
    job: CompilationJob | dict[str, Any], package: ModelPackage
) -> tuple[AdditionalInferenceSpecification, list[str]]:
    """:func:`build_specification`, plus what was left out and why, in words an operator reads.

    Long because it assembles one specification member by member, each from where the API says it
    comes from (the job, or the package's primary container), in one place a reader can check.

    Returns
    -------
    tuple of (AdditionalInferenceSpecification, list of str)
        The specification and the notes (environment entries over the limit, an invalid
        FrameworkVersion).

    Raises
    ------
    ValueError
        When the job's target is not an instance family SageMaker hosts.
    InvalidUpdateError
        When the job's values break an API rule (no ``InferenceImage``, an artifact that is not
        a ``.tar.gz``, ...), naming the field and the rule.
    """
    job = CompilationJob.read(job)
    family = family_for(job.target_device, job.target_platform)
    target = target_label(job.target_device, job.target_platform)
    if family is None:
        raise ValueError(f"compilation job {job.CompilationJobName} targets {target}, which SageMaker cannot host")
    if not job.InferenceImage:
        # Image is optional in the API's model, but a compiled artifact runs only in the image Neo named for it.
        raise InvalidUpdateError(
            [Violation("Containers.0.Image", "None", f"compilation job {job.CompilationJobName} has no InferenceImage")]
        )
    if not job.artifact_uri:
        raise InvalidUpdateError(
            [
                Violation(
                    "Containers.0.ModelDataUrl",
                    "None",
                    f"compilation job {job.CompilationJobName} has no ModelArtifacts.S3ModelArtifacts",
                )
            ]
        )
    notes: list[str] = []
    framework, version = _framework(job, package, notes)
    container: dict[str, Any] = {
        "Image": job.InferenceImage,
        "ModelDataUrl": job.artifact_uri,
        "Framework": framework,
        "FrameworkVersion": version,
        "Environment": _environment(package, notes),
    }
    primary = package.InferenceSpecification or {}
    realtime, transform = instance_types(family)
    specification: dict[str, Any] = {
        "Name": specification_name(job.CompilationJobName, target),
        "Description": specification_description(job.CompilationJobName, target, framework, version),
        "Containers": [{key: value for key, value in container.items() if value is not None}],
        "SupportedRealtimeInferenceInstanceTypes": realtime,
        "SupportedTransformInstanceTypes": transform or None,
        "SupportedContentTypes": primary.get("SupportedContentTypes") or None,
        "SupportedResponseMIMETypes": primary.get("SupportedResponseMIMETypes") or None,
    }
    return (
        AdditionalInferenceSpecification(**{key: value for key, value in specification.items() if value is not None}),
        notes,
    )


def build_specification(
    job: CompilationJob | dict[str, Any], package: ModelPackage
) -> AdditionalInferenceSpecification:
    """The additional inference specification that serves a completed job's compiled model.

    Parameters
    ----------
    job
        DescribeCompilationJob's response (or a parsed :class:`CompilationJob`) for a COMPLETED job
        on an ``ml_*`` instance family.
    package
        The model package version the job was compiled from.

    Returns
    -------
    AdditionalInferenceSpecification
        Name from :func:`specification_name`; one container with ``Image`` = ``InferenceImage``,
        ``ModelDataUrl`` = ``ModelArtifacts.S3ModelArtifacts``, the framework (the job's
        ``InputConfig``, else the package's primary container), and the package's primary
        container ``Environment`` (at most 16 entries, the first by key); every realtime and
        transform instance type of the target's family (transform left out where the family has
        none); the content types of the package's primary inference specification.

    Raises
    ------
    ValueError
        When the job's target is not an instance family SageMaker hosts.
    InvalidUpdateError
        When the job's values break an API rule, naming the field and the rule.
    """
    specification, _ = build_specification_with_notes(job, package)
    return specification
