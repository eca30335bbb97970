"""Model package groups: the one place a group name is matched against a pattern, and read from an ARN.

One case rule everywhere: **a group matches a pattern ignoring case.** SageMaker writes resource
names into ARNs in lower case (group ``Churn-Model`` has versions ``.../model-package/churn-model/3``),
and before a version is described its ARN is all registrar knows of its group. If the ARN were matched
ignoring case and the described name exactly (or the policy's rules exactly and the managed groups
not), a group could be managed by one check and refused by the next. The stack's IAM statements grant
both spellings of each configured pattern for the same reason (``infra/permissions.py``). See
docs/decisions.md, "One group matcher, one case rule".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

_VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]{9,16}):(?P<account>[0-9]{12})"
    r":model-package/(?P<group>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/(?P<version>[0-9]{1,10})"
)


def matches(group: str, pattern: str) -> bool:
    """Whether ``group`` matches the fnmatch ``pattern`` (``churn-*``, ``credit-risk``), ignoring case."""
    return fnmatch.fnmatchcase(group.lower(), pattern.lower())


def first_match(group: str, patterns: Iterable[str]) -> str | None:
    """The first of ``patterns`` that ``group`` matches (see :func:`matches`), or ``None``."""
    return next((pattern for pattern in patterns if matches(group, pattern)), None)


def is_version_arn(arn: str) -> bool:
    """Whether ``arn`` is a model package version ARN: ``...:model-package/<group>/<version>``."""
    return _VERSION_ARN.fullmatch(arn) is not None


def group_in_version_arn(arn: str) -> str | None:
    """The model package group a version ARN names, as the ARN spells it; ``None`` if ``arn`` is no version ARN."""
    match = _VERSION_ARN.fullmatch(arn)
    return match.group("group") if match else None


def account_and_region(arn: str) -> tuple[str, str] | None:
    """The account and region of a version ARN, or ``None`` if ``arn`` is no version ARN."""
    match = _VERSION_ARN.fullmatch(arn)
    return (match.group("account"), match.group("region")) if match else None


def unmanaged_reason(version_arn: str, managed_groups: Sequence[str]) -> str | None:
    """Why the version ``version_arn`` names belongs to none of ``managed_groups``, read from the ARN alone.

    Checked before any call: the functions may describe only the managed groups' versions (their
    role allows nothing else), so an event about any other version is skipped without a
    DescribeModelPackage, which would be refused.

    Parameters
    ----------
    version_arn
        A model package ARN.
    managed_groups
        fnmatch patterns of group names; empty allows any.

    Returns
    -------
    str or None
        The reason, or ``None`` when the version belongs to a managed group (or any group is managed).
    """
    group = group_in_version_arn(version_arn)
    if group is None:
        return f"{version_arn} is not a model package version; registrar acts on versions only"
    if not managed_groups or first_match(group, managed_groups) is not None:
        return None
    return f"group {group} is not among the managed groups ({', '.join(managed_groups)})"
