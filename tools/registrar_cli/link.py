"""``registrar link MODEL_PACKAGE_ARN --for EMAIL``: mint a fresh decision link for one person, print its URL.

The link is a capability (:mod:`registrar.decisions.links`): for that address, that version, approve or
reject, expiring after ``--ttl``, single use, signed with the current key of the signing secret. A link is
minted only for a version still ``PendingManualApproval``: a decided version's link could only be refused.

``registrar link --group GROUP --for EMAIL`` mints a group's link instead: the group's history page
(``<page>/group?token=...``) with the rollback form, single use for a rollback. It is minted only for a group
that exists and is managed (``REGISTRAR_MANAGED_GROUPS``): the page would refuse any other.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from registrar.constrained import EntityName, ModelPackageArn
from registrar.decisions.links import (
    DEFAULT_SIGNING_SECRET,
    MAX_TTL,
    Capability,
    Recipient,
    SigningKeys,
    mint,
    new_capability,
    new_group_capability,
)
from registrar.decisions.person import PENDING, not_pending_reasons
from registrar.errors import RegistrarError
from registrar.package import ModelPackage
from registrar_cli.arguments import InvalidArgumentError, validated

# Where the page is when --page-url is not given: the stack's output (the page function's URL).
PAGE_URL_VARIABLE = "REGISTRAR_DECISION_PAGE_URL"
# The page's path and the token's query member (the page and the approver e-mails build the same URL).
DECIDE_PATH = "/decide"
GROUP_PATH = "/group"
TOKEN_PARAMETER = "token"
DEFAULT_TTL = "7d"
_TTL = re.compile(r"([1-9][0-9]{0,5})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class LinkRefusedForVersionError(RegistrarError, ValueError):
    """The version cannot be decided (missing, or no longer pending): a link to it would be pointless."""


class LinkRefusedForGroupError(RegistrarError, ValueError):
    """The group does not exist or is not managed: the page would refuse its link."""


class LinkRegistry(Protocol):
    """The call minting makes (:class:`registrar.registry.Registry`)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...


def parse_ttl(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``: more than nothing, at most 30 days.

    Raises
    ------
    ValueError
        Another shape, or beyond 30 days.
    """
    matched = _TTL.fullmatch(text.strip())
    if matched is None:
        raise ValueError("not a duration: a whole number of days, hours or minutes (7d, 12h, 30m)")
    ttl = timedelta(**{_UNITS[matched[2]]: int(matched[1])})
    if ttl > MAX_TTL:
        raise ValueError(f"longer than {MAX_TTL.days} days: a link lives at most {MAX_TTL.days}d")
    return ttl


def _ttl(value: object) -> object:
    return parse_ttl(value) if isinstance(value, str) else value


def _page_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("not the page's base URL: https://host[/path], without a query")
    return value.rstrip("/")


class LinkArguments(BaseModel):
    """``registrar link``'s arguments, checked: a version (``model_package_arn``) or a group (``group``)."""

    model_config = ConfigDict(frozen=True)

    model_package_arn: ModelPackageArn | None = None
    group: EntityName | None = None
    recipient: Recipient
    ttl: Annotated[timedelta, BeforeValidator(_ttl)]
    page_url: Annotated[str, AfterValidator(_page_url)]
    secret: str = Field(min_length=1, max_length=512)


def arguments(
    *,
    model_package_arn: str | None,
    recipient: str,
    ttl: str | None,
    page_url: str | None,
    secret: str | None,
    group: str | None = None,
) -> LinkArguments:
    """The arguments, checked; :class:`InvalidArgumentError` names the one that is not.

    Exactly one of ``model_package_arn`` and ``group``. ``page_url`` and ``secret`` are already defaulted by the
    caller (the environment); a missing page URL is refused here, asking for it.
    """
    if (model_package_arn is None) == (group is None):
        raise InvalidArgumentError("MODEL_PACKAGE_ARN or --group GROUP: name a version or a group, not both")
    if not page_url:
        raise InvalidArgumentError(
            f"--page-url: the decision page's URL is needed: pass --page-url or set {PAGE_URL_VARIABLE}"
        )
    return validated(
        LinkArguments,
        {
            "model_package_arn": "MODEL_PACKAGE_ARN",
            "group": "--group",
            "recipient": "--for",
            "ttl": "--ttl",
            "page_url": "--page-url",
            "secret": "--secret",
        },
        model_package_arn=model_package_arn,
        group=group,
        recipient=recipient,
        ttl=ttl or DEFAULT_TTL,
        page_url=page_url,
        secret=secret or DEFAULT_SIGNING_SECRET,
    )


def decide_url(page_url: str, token: str) -> str:
    """``<page URL>/decide?token=<token>``."""
    return f"{page_url.rstrip('/')}{DECIDE_PATH}?{urllib.parse.urlencode({TOKEN_PARAMETER: token})}"


def group_url(page_url: str, token: str) -> str:
    """``<page URL>/group?token=<token>``."""
    return f"{page_url.rstrip('/')}{GROUP_PATH}?{urllib.parse.urlencode({TOKEN_PARAMETER: token})}"


def group_link(
    request: LinkArguments,
    *,
    describe_group: Callable[[str], object],
    managed_groups: Sequence[str],
    keys: SigningKeys,
    now: datetime,
) -> tuple[Capability, str]:
    """Mint a group's link (``rollback``) for ``request.recipient``; the capability and its URL.

    Parameters
    ----------
    describe_group
        DescribeModelPackageGroup by name (raises SageMaker's error when there is no such group).
    managed_groups
        fnmatch patterns of the groups registrar may act on; empty allows any.

    Raises
    ------
    LinkRefusedForGroupError
        The group is not managed, or does not exist.
    """
    from registrar import aws
    from registrar.groups import first_match

    group = request.group
    if group is None:
        raise LinkRefusedForGroupError("no group named: pass --group GROUP")
    if managed_groups and first_match(group, managed_groups) is None:
        raise LinkRefusedForGroupError(
            f"group {group} is not among the managed groups ({', '.join(managed_groups)}): no link minted"
        )
    try:
        describe_group(group)
    except Exception as error:
        if aws.is_not_found(error) or aws.error_code(error) == "ValidationException":
            raise LinkRefusedForGroupError(f"group {group} does not exist: no link minted") from None
        raise
    capability = new_group_capability(group, request.recipient, ttl=request.ttl, now=now)
    return capability, group_url(request.page_url, mint(capability, keys.current))


def link(request: LinkArguments, *, registry: LinkRegistry, keys: SigningKeys, now: datetime) -> tuple[Capability, str]:
    """Mint a link for ``request.recipient`` on a version still pending; the capability and its URL.

    Raises
    ------
    LinkRefusedForVersionError
        The version does not exist, or is not ``PendingManualApproval`` (the message says who decided, when).
    """
    from registrar import aws

    if request.model_package_arn is None:
        raise LinkRefusedForVersionError("no version named: pass MODEL_PACKAGE_ARN")
    try:
        package = registry.describe(request.model_package_arn)
    except Exception as error:
        if aws.is_not_found(error):
            raise LinkRefusedForVersionError(f"{request.model_package_arn} does not exist: no link minted") from None
        raise
    if package.ModelApprovalStatus != PENDING:
        reasons = not_pending_reasons(package)[:-1]
        raise LinkRefusedForVersionError(f"{'; '.join(reasons)}: a link could only be refused, none minted")
    capability = new_capability(package.ModelPackageArn, request.recipient, ttl=request.ttl, now=now)
    return capability, decide_url(request.page_url, mint(capability, keys.current))
