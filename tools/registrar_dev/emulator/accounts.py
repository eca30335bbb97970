"""Several accounts in one emulator: who a caller is, and AssumeRole only where the role's trust policy allows.

moto keeps every resource per account, and picks the account of a request from its access key: credentials
that STS AssumeRole returned act in the role's account; any other key (``testing``) acts in moto's default
account 123456789012, unless the request carries moto's ``x-moto-account-id`` header. What it does not do is
ask whether the caller may assume the role. Departure corrected (docs/sagemaker.md#accounts-in-the-emulator):

19. AssumeRole succeeded for any role ARN, even one that does not exist, whatever its trust policy. Now it is
    refused with ``AccessDenied`` (HTTP 403, "User: <caller> is not authorized to perform: sts:AssumeRole on
    resource: <role>"), the answer STS gives in both cases ([sts-assume-role]), unless the role exists in its
    account and its trust policy allows the caller (:mod:`registrar_dev.emulator.policies`), with the request's
    ``sts:ExternalId`` and ``sts:RoleSessionName`` and the caller's ``aws:PrincipalArn``,
    ``aws:PrincipalAccount`` and ``aws:PrincipalOrgID`` as condition keys ([iam-condition-keys]). The message
    ends with the emulator's reason in parentheses (AWS gives none).

Who the caller is (:func:`caller`): the session of assumed-role credentials (``aws:PrincipalArn`` is the role's
ARN), the IAM user of a user's access key, otherwise the account's root (``arn:aws:iam::<account>:root``; moto's
GetCallerIdentity names it ``user/moto``). IAM identity policies are still not evaluated: a caller may do whatever
its own account allows, and a trust policy naming an account trusts every principal of it.

Lambda and EventBridge assume roles as services. :func:`service_credentials` does what Lambda does with a
function's execution role: the role must exist and trust the service (``{"Service": "lambda.amazonaws.com"}``);
the credentials act as that role in its account. It is served at ``POST <endpoint>`` :data:`SERVICE_CREDENTIALS_PATH`
``?role_arn=&service=&session=`` for a local runner that runs registrar's handlers as their function roles.

[sts-assume-role]: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
[iam-condition-keys]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sts import urls as moto_sts_urls
from moto.sts.models import AssumedRole, STSBackend, sts_backends
from moto.sts.responses import TokenResponse
from moto.utilities.utils import get_partition

from registrar_dev.emulator.policies import Caller, Decision, evaluate

SERVICE_CREDENTIALS_PATH = "/registrar-emulator/sts/service-credentials"
DEFAULT_SERVICE = "lambda.amazonaws.com"
_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/.+")


class RoleNotAssumableError(Exception):
    """The role does not exist, or its trust policy does not allow the caller."""


def caller(access_key: str, account: str, region: str = "us-east-1") -> Caller:
    """Who a request signed with ``access_key`` comes from, in ``account`` (the account moto picked for it).

    Parameters
    ----------
    access_key
        The request's access key id.
    account
        The account the request acts in.
    region
        The request's region (it names the partition).

    Returns
    -------
    Caller
        The assumed-role session, the IAM user, or the account's root.
    """
    partition = get_partition(region)
    session = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
    organization = organization_of(account)
    if session is not None:
        return Caller(account, session.arn, session.role_arn, organization)
    user = iam_backends[account][partition].get_user_from_access_key_id(access_key)
    if user is not None:
        return Caller(account, user.arn, user.arn, organization)
    root = f"arn:{partition}:iam::{account}:root"
    return Caller(account, root, root, organization)


def organization_of(account: str) -> str | None:
    """The AWS Organizations id ``account`` belongs to in the emulator (moto's Organizations), or ``None``."""
    from moto.organizations.models import organizations_backends

    master = organizations_backends.master_accounts.get(account, (account, "aws"))
    backends = organizations_backends.get(master[0])
    backend = backends.get(master[1]) if backends is not None else None
    organization = getattr(backend, "org", None)
    return str(organization.id) if organization is not None else None


def trust_decision(
    role_arn: str, who: Caller, *, external_id: str | None = None, session_name: str | None = None
) -> Decision:
    """Whether ``who`` may assume ``role_arn``: the role exists in its account and its trust policy allows it.

    Parameters
    ----------
    role_arn
        The role's ARN.
    who
        The caller, or a service (:attr:`Caller.service`).
    external_id, session_name
        The request's ``ExternalId`` and ``RoleSessionName`` (``sts:ExternalId``, ``sts:RoleSessionName``).

    Returns
    -------
    Decision
        Why it is or is not allowed.
    """
    match = _ROLE_ARN.fullmatch(role_arn or "")
    if match is None:
        return Decision(False, f"{role_arn!r} is not a role ARN")
    try:
        role = iam_backends[match.group(2)][match.group(1)].get_role_by_arn(role_arn)
    except NotFoundException:
        return Decision(False, f"no role {role_arn} exists in account {match.group(2)}")
    context = {"sts:ExternalId": external_id, "sts:RoleSessionName": session_name}
    return evaluate(
        role.assume_role_policy_document,
        who,
        "sts:AssumeRole",
        context={key: value for key, value in context.items() if value is not None},
    )


def service_credentials(
    role_arn: str, service: str = DEFAULT_SERVICE, session_name: str = "emulator", region: str = "us-east-1"
) -> AssumedRole:
    """Credentials of ``role_arn`` as ``service`` obtains them (Lambda running a function with its role).

    Parameters
    ----------
    role_arn
        The role, which must exist and trust ``service``.
    service
        The service principal, e.g. ``lambda.amazonaws.com``.
    session_name
        The session's name (the last part of the assumed-role ARN).
    region
        Where the credentials are used.

    Returns
    -------
    moto.sts.models.AssumedRole
        ``access_key_id``, ``secret_access_key``, ``session_token``, ``expiration``; they act in the role's account.

    Raises
    ------
    RoleNotAssumableError
        The role is missing or does not trust ``service``.
    """
    decision = trust_decision(role_arn, Caller("", service, service, service=service))
    if not decision.allowed:
        raise RoleNotAssumableError(f"{service} cannot assume {role_arn}: {decision.reason}")
    account = role_arn.split(":")[4]
    backend = sts_backends[account][get_partition(region)]
    return backend.assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy="",
        duration=3600,
        external_id="",
    )


class EmulatorTokenResponse(TokenResponse):
    """moto's STS handler, refusing AssumeRole where the role's trust policy does (fix 19)."""

    def assume_role(self) -> ActionResult:
        """Assume the role if it exists and trusts the caller; ``AccessDenied`` otherwise."""
        role_arn = self._get_param("RoleArn")
        who = caller(self.get_access_key(), self.current_account, self.region)
        decision = trust_decision(
            role_arn, who, external_id=self._get_param("ExternalId"), session_name=self._get_param("RoleSessionName")
        )
        if not decision.allowed:
            raise AccessDeniedError(who.arn, f"sts:AssumeRole on resource: {role_arn} (emulator: {decision.reason})")
        return super().assume_role()


class EmulatorSTSBackend(STSBackend):
    """moto's STS backend, routing its HTTP requests to :class:`EmulatorTokenResponse`."""

    @property
    def _url_module(self) -> Any:
        # BaseBackend derives the URL module from the class's module; ours lives outside moto.
        return SimpleNamespace(
            url_bases=moto_sts_urls.url_bases,
            url_paths=dict.fromkeys(moto_sts_urls.url_paths, EmulatorTokenResponse.dispatch),
        )


def with_service_credentials(app: Callable[..., Any]) -> Callable[..., Any]:
    """moto's WSGI application, answering ``POST`` :data:`SERVICE_CREDENTIALS_PATH` with a role's credentials."""

    def serving(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != SERVICE_CREDENTIALS_PATH:
            return app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        payload: Any
        if environ.get("REQUEST_METHOD") != "POST":
            status, payload = "405 Method Not Allowed", {"message": "POST only"}
        elif "role_arn" not in query:
            status, payload = "400 Bad Request", {"message": "role_arn is required"}
        else:
            try:
                session = service_credentials(
                    query["role_arn"][0],
                    query.get("service", [DEFAULT_SERVICE])[0],
                    query.get("session", ["emulator"])[0],
                )
            except RoleNotAssumableError as error:
                status, payload = "403 Forbidden", {"message": str(error)}
            else:
                status, payload = (
                    "200 OK",
                    {
                        "AccessKeyId": session.access_key_id,
                        "SecretAccessKey": session.secret_access_key,
                        "SessionToken": session.session_token,
                        "Expiration": session.expiration.isoformat(),
                        "Arn": session.arn,
                    },
                )
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return serving
