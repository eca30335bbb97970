"""The part of IAM's policy language the emulator enforces: trust, event-bus and model-package-group policies.

Used by fixes 19-22 (docs/sagemaker.md#accounts-in-the-emulator) to decide whether a caller of one account may
act on a resource of another: AssumeRole against a role's trust policy, a rule's delivery (20) or a PutEvents entry
(22) to another account's event bus against that bus's policy, and a SageMaker call on another account's model
package group against the group's resource policy. Pure: nothing here reads moto.

What is evaluated, as the IAM user guide describes it ([iam-principal], [iam-conditions], [iam-evaluation]):

- ``Effect``: an explicit ``Deny`` wins over any ``Allow``; without a matching ``Allow`` the request is denied.
- ``Principal``: ``"*"``, ``{"AWS": "*"}``, an account (``"111111111111"`` or ``arn:aws:iam::111111111111:root``,
  any principal of that account), a role, user or assumed-role session ARN (that principal only), and
  ``{"Service": "events.amazonaws.com"}`` (that service acting itself).
- ``Action`` and ``Resource``: a string or a list, ``*`` and ``?`` wildcards; actions ignore case. A statement
  without ``Resource`` (a trust policy) applies to any resource.
- ``Condition``: every operator and every key must hold; several values of one key are alternatives (for a
  negated operator, none may match). Operators: ``StringEquals``, ``StringNotEquals``,
  ``StringEqualsIgnoreCase``, ``StringNotEqualsIgnoreCase``, ``StringLike``, ``StringNotLike``, ``ArnEquals``,
  ``ArnLike``, ``ArnNotEquals``, ``ArnNotLike``, ``Bool``, ``Null``; each (but ``Null``) with ``...IfExists``
  and with the ``ForAllValues:``/``ForAnyValue:`` qualifiers. Keys ignore case. A key absent from the request
  makes a positive operator false and a negated one true (``IfExists``: true; ``ForAllValues``: true).

Anything else (``NotPrincipal``, ``NotAction``, ``NotResource``, numeric, date and IP operators, policy variables
other than as literal text) is not evaluated: the statement is taken as denying, so a policy the emulator cannot
read never grants access (it fails closed), and the reason names what was not understood.

[iam-principal]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
[iam-conditions]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
[iam-evaluation]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_ACCOUNT = re.compile(r"\d{12}")
_ROOT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")
_NEGATED = frozenset({"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"})
_SUPPORTED = frozenset(
    {
        "stringequals",
        "stringnotequals",
        "stringequalsignorecase",
        "stringnotequalsignorecase",
        "stringlike",
        "stringnotlike",
        "arnequals",
        "arnlike",
        "arnnotequals",
        "arnnotlike",
        "bool",
    }
)


class UnsupportedPolicyError(ValueError):
    """A policy element the emulator does not evaluate (the statement then denies)."""


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as IAM sees it.

    Parameters
    ----------
    account
        The caller's account (``aws:PrincipalAccount``).
    arn
        What GetCallerIdentity answers: an assumed-role session, a user, or the account's root.
    principal_arn
        ``aws:PrincipalArn``: for a role session, the role's ARN; otherwise ``arn``.
    organization
        ``aws:PrincipalOrgID``, when the account belongs to an organization.
    service
        A service principal acting itself (``events.amazonaws.com``), instead of an account's principal.
    """

    account: str
    arn: str
    principal_arn: str
    organization: str | None = None
    service: str | None = None

    def context(self) -> dict[str, str]:
        """The global condition keys of this caller (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ...)."""
        keys = {"aws:PrincipalAccount": self.account, "aws:PrincipalArn": self.principal_arn}
        if self.organization:
            keys["aws:PrincipalOrgID"] = self.organization
        if self.service:
            keys = {"aws:PrincipalServiceName": self.service}
        return keys


@dataclass(frozen=True)
class Decision:
    """Whether a policy allows a request, and why (the statement that decided, or what was missing)."""

    allowed: bool
    reason: str
    unsupported: list[str] = field(default_factory=list)


def evaluate(
    policy: str | Mapping[str, Any] | None,
    caller: Caller,
    action: str,
    resource: str | None = None,
    context: Mapping[str, str | list[str]] | None = None,
) -> Decision:
    """Decide ``action`` on ``resource`` by ``caller`` against one resource-based (or trust) policy.

    Parameters
    ----------
    policy
        The policy document (JSON text or parsed); ``None`` when the resource has none.
    caller
        Who asks.
    action
        The IAM action, e.g. ``sts:AssumeRole``.
    resource
        The ARN acted on; ``None`` for a trust policy.
    context
        Request condition keys besides the caller's (``sts:ExternalId``, ``events:source``, ...).

    Returns
    -------
    Decision
        Allowed only when a statement allows and none denies.
    """
    if policy is None:
        return Decision(False, "no resource-based policy allows it")
    try:
        document = json.loads(policy) if isinstance(policy, str) else dict(policy)
        statements = document["Statement"]
    except (ValueError, TypeError, KeyError):
        return Decision(False, "the policy is not a JSON document with a Statement")
    if isinstance(statements, dict):
        statements = [statements]
    keys = {key.lower(): value for key, value in {**caller.context(), **(context or {})}.items()}
    allowed_by: str | None = None
    unsupported: list[str] = []
    for index, statement in enumerate(statements if isinstance(statements, list) else []):
        label = f"statement {statement.get('Sid') or index}" if isinstance(statement, dict) else f"statement {index}"
        try:
            applies = _applies(statement, caller, action, resource, keys)
        except UnsupportedPolicyError as error:
            unsupported.append(f"{label}: {error}")
            if str(statement.get("Effect", "")).lower() == "deny":
                return Decision(False, f"{label} denies (fail closed): {error}", unsupported)
            continue
        if not applies:
            continue
        if str(statement.get("Effect", "")).lower() == "deny":
            return Decision(False, f"{label} explicitly denies it", unsupported)
        allowed_by = allowed_by or label
    if allowed_by:
        return Decision(True, f"{allowed_by} allows it", unsupported)
    if unsupported:
        return Decision(False, "no statement the emulator evaluates allows it; " + "; ".join(unsupported), unsupported)
    return Decision(False, "no statement of the resource-based policy allows it")


def _applies(statement: Any, caller: Caller, action: str, resource: str | None, keys: Mapping[str, Any]) -> bool:
    if not isinstance(statement, dict):
        raise UnsupportedPolicyError("not a JSON object")
    for element in ("NotPrincipal", "NotAction", "NotResource"):
        if element in statement:
            raise UnsupportedPolicyError(f"{element} is not evaluated")
    if not _principal_matches(statement.get("Principal"), caller):
        return False
    if not any(_glob(str(pattern), action, ignore_case=True) for pattern in _listed(statement.get("Action"))):
        return False
    resources = _listed(statement.get("Resource"))
    if "Resource" in statement and resource is not None and not any(_glob(str(p), resource) for p in resources):
        return False
    return all(
        _condition_holds(operator, tests, keys) for operator, tests in (statement.get("Condition") or {}).items()
    )


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if caller.service is not None:
        return caller.service in _listed(principal.get("Service"))
    for value in _listed(principal.get("AWS")):
        text = str(value)
        if text == "*":
            return True
        root = _ROOT.fullmatch(text)
        account = root.group(1) if root else text if _ACCOUNT.fullmatch(text) else None
        if account is not None and account == caller.account:
            return True
        if text in (caller.principal_arn, caller.arn):
            return True
    return False


def _condition_holds(operator: str, tests: Any, keys: Mapping[str, Any]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    qualifier = qualifier.lower()
    base_lower = base.lower()
    if_exists = base_lower.endswith("ifexists")
    if if_exists:
        base_lower = base_lower.removesuffix("ifexists")
    if qualifier not in ("", "forallvalues", "foranyvalue"):
        raise UnsupportedPolicyError(f"condition qualifier {qualifier!r} is not evaluated")
    if not isinstance(tests, dict):
        raise UnsupportedPolicyError(f"condition {operator} is not a JSON object")
    for key, wanted in tests.items():
        present = key.lower() in keys
        values = [str(value) for value in _listed(keys.get(key.lower()))]
        expected = [str(value) for value in _listed(wanted)]
        if base_lower == "null":
            if qualifier or if_exists:
                raise UnsupportedPolicyError(f"condition operator {operator} is not evaluated")
            if any(value.lower() == "true" for value in expected) == present:
                return False
            continue
        if base_lower not in _SUPPORTED:
            raise UnsupportedPolicyError(f"condition operator {operator} is not evaluated")
        if not present:
            if if_exists or qualifier == "forallvalues" or (not qualifier and base_lower in _NEGATED):
                continue
            return False
        matches = [_value_matches(base_lower, value, expected) for value in values]
        holds = any(matches) if qualifier == "foranyvalue" else all(matches)
        if not holds:
            return False
    return True


def _value_matches(operator: str, value: str, expected: Iterable[str]) -> bool:
    """One request value against a key's listed values (negated operators: against none of them)."""
    positive = operator.replace("not", "", 1) if operator in _NEGATED else operator
    found = any(_matches(positive, value, candidate) for candidate in expected)
    return not found if operator in _NEGATED else found


def _matches(operator: str, value: str, expected: str) -> bool:
    if operator == "stringequals":
        return value == expected
    if operator == "stringequalsignorecase":
        return value.lower() == expected.lower()
    if operator == "stringlike":
        return _glob(expected, value)
    if operator == "bool":
        return value.lower() == expected.lower()
    # ArnEquals and ArnLike both compare each of the six colon-separated parts, with wildcards.
    value_parts, expected_parts = value.split(":", 5), expected.split(":", 5)
    if len(value_parts) != 6 or len(expected_parts) != 6:
        return False
    return all(_glob(pattern, part) for part, pattern in zip(value_parts, expected_parts, strict=True))


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    translated = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(translated, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
