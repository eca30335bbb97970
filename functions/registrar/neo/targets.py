"""Neo compilation targets: which ones SageMaker can host, and on which instance types.

A compiled model runs only on the hardware it was compiled for (the Neo deployment guide: "use the
same instance for the target that you used for compilation"). ``TargetDevice`` ``ml_<family>`` maps
to the ``ml.<family>.*`` values of the API's ``ProductionVariantInstanceType`` and
``TransformInstanceType`` enums, exactly (``ml_c5`` is ``ml.c5.*``, never ``ml.c5d.*``).

Not hostable on SageMaker instances, so never an additional inference specification:

- ``lambda``: compiled for AWS Lambda.
- ``ml_eia2``: an Elastic Inference accelerator attached to an instance, not an instance family of its
  own (and Elastic Inference is no longer offered).
- Edge devices (``jetson_*``, ``rasp*``, ``coreml``, ``imx8*``, ...).
- **Every ``TargetPlatform`` job.** ``TargetPlatform`` (``Os``/``Arch``/``Accelerator``) is the API's
  way to name a device that is missing from the ``TargetDevice`` list; SageMaker documents no mapping
  from a platform to an instance family (``LINUX``/``X86_64`` is as true of a laptop as of an
  ``ml.c5``), and ``DescribeCompilationJob`` sets ``InferenceImage`` only for cloud instance targets.
  Guessing a family would attach a specification that fails at deployment, so such a job is treated
  as an edge target: recorded in the package metadata, never attached. A platform is named
  ``<os>_<arch>[_<accelerator>]`` in lower case (``linux_arm64_nvidia``), as Neo names its artifact.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

from registrar import _shapes

TargetKind = Literal["instance", "edge", "lambda", "unhostable"]

# Targets named ml_* that are not an instance family a model can be hosted on.
_NOT_INSTANCE_FAMILIES = frozenset({"ml_eia2"})


def _family_of(instance_type: str) -> str:
    return instance_type.split(".")[1]


@functools.cache
def _families() -> frozenset[str]:
    return frozenset(_family_of(value) for value in _shapes.REALTIME_INSTANCE_TYPES)


def family_for(target_device: str | None, target_platform: Mapping[str, Any] | None = None) -> str | None:
    """The SageMaker instance family a compiled model can be hosted on, if any.

    Parameters
    ----------
    target_device
        ``OutputConfig.TargetDevice`` (``ml_c5``, ``jetson_nano``, ``lambda``, ...), or ``None``.
    target_platform
        ``OutputConfig.TargetPlatform``; never hostable (see the module docstring).

    Returns
    -------
    str or None
        The family (``c5`` for ``ml_c5``) when the API's realtime instance types include
        ``ml.<family>.*``; ``None`` for ``lambda``, ``ml_eia2``, edge devices and platforms.
    """
    if not target_device or not target_device.startswith("ml_") or target_device in _NOT_INSTANCE_FAMILIES:
        return None
    family = target_device.removeprefix("ml_")
    return family if family in _families() else None


@functools.cache
def _instance_types(family: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    realtime = tuple(value for value in _shapes.REALTIME_INSTANCE_TYPES if _family_of(value) == family)
    transform = tuple(value for value in _shapes.TRANSFORM_INSTANCE_TYPES if _family_of(value) == family)
    return realtime, transform


def instance_types(family: str) -> tuple[list[str], list[str]]:
    """Every instance type of one family, as the API's enums list them.

    Parameters
    ----------
    family
        An instance family, e.g. ``c5`` (from :func:`family_for`).

    Returns
    -------
    tuple of (list of str, list of str)
        The ``ml.<family>.*`` values of ``ProductionVariantInstanceType`` (realtime) and of
        ``TransformInstanceType`` (batch transform), in the enums' order. The transform list is empty
        for families the API cannot run transform jobs on (``inf1``, ``c6g``, ``m6g``).
    """
    realtime, transform = _instance_types(family)
    return list(realtime), list(transform)


def target_label(target_device: str | None, target_platform: Mapping[str, Any] | None = None) -> str:
    """Name a compilation target: the ``TargetDevice``, or ``<os>_<arch>[_<accelerator>]`` in lower case.

    Returns ``unknown`` when the job names neither (the API requires one of them).
    """
    if target_device:
        return target_device
    platform = target_platform or {}
    parts = [platform.get(member) for member in ("Os", "Arch", "Accelerator")]
    label = "_".join(str(part) for part in parts if part).lower()
    return label or "unknown"


def target_kind(target_device: str | None, target_platform: Mapping[str, Any] | None = None) -> TargetKind:
    """Classify a target: an instance family SageMaker hosts, an edge device, Lambda, or otherwise unhostable.

    Returns
    -------
    str
        ``instance`` (:func:`family_for` names a family), ``lambda``, ``unhostable`` (an ``ml_*``
        target that is not an instance family, such as ``ml_eia2``), or ``edge`` (edge devices and
        every ``TargetPlatform``).
    """
    if family_for(target_device, target_platform) is not None:
        return "instance"
    if target_device == "lambda":
        return "lambda"
    if target_device and target_device.startswith("ml_"):
        return "unhostable"
    return "edge"
