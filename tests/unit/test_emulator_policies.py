"""The emulator's policy evaluation (``registrar_dev.emulator.policies``): IAM's easily mistaken rules."""

from __future__ import annotations

from typing import Any

import pytest

from registrar_dev.emulator.policies import Caller, evaluate

ROLE = "arn:aws:iam::123456789012:role/approval"
SESSION = Caller("123456789012", "arn:aws:sts::123456789012:assumed-role/approval/registrar", ROLE)
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/default"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(**members: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "events:PutEvents", **members}


def test_explicit_deny_wins_over_allow() -> None:
    deny = {**allow(), "Effect": "Deny", "Condition": {"StringEquals": {"events:source": "aws.sagemaker"}}}
    decision = evaluate(policy(allow(), deny), SESSION, "events:PutEvents", BUS, {"events:source": "aws.sagemaker"})
    assert not decision.allowed
    assert "explicitly denies" in decision.reason


def test_no_policy_and_no_matching_statement_deny() -> None:
    assert not evaluate(None, SESSION, "events:PutEvents", BUS).allowed
    elsewhere = policy(allow(Resource="arn:aws:events:*:*:event-bus/other"))
    assert not evaluate(elsewhere, SESSION, "events:PutEvents", BUS).allowed


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringNotEquals": {"events:source": "registrar"}}, {}, True),  # absent key: a negated operator holds
        ({"StringEquals": {"events:source": "registrar"}}, {}, False),  # absent key: a positive one does not
        ({"StringEqualsIfExists": {"events:source": "registrar"}}, {}, True),
        ({"ForAllValues:StringEquals": {"events:source": ["registrar"]}}, {}, True),
        ({"ForAnyValue:StringEquals": {"events:source": ["registrar"]}}, {}, False),
        ({"Null": {"sts:ExternalId": "true"}}, {}, True),
        ({"Null": {"sts:ExternalId": "false"}}, {}, False),
        ({"StringNotEquals": {"events:source": ["a", "b"]}}, {"events:source": "a"}, False),  # none may match
        (
            {"StringLike": {"events:detail-type": "SageMaker * State Change"}},
            {"events:detail-type": "SageMaker Model Package State Change"},
            True,
        ),
        ({"stringequals": {"AWS:PrincipalAccount": "123456789012"}}, {}, True),  # operators and keys ignore case
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/approv?l"}}, {}, True),
        ({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/[approval]"}}, {}, False),  # no [] class
    ],
)
def test_conditions(condition: dict[str, Any], context: dict[str, str], allowed: bool) -> None:
    assert evaluate(policy(allow(Condition=condition)), SESSION, "events:PutEvents", BUS, context).allowed is allowed


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        ("*", True),
        ({"AWS": "*"}, True),
        ({"AWS": "arn:aws:iam::123456789012:root"}, True),
        ({"AWS": ["111111111111", ROLE]}, True),
        ({"AWS": "arn:aws:iam::123456789012:role/neo"}, False),
        ({"AWS": "111111111111"}, False),
        ({"Service": "events.amazonaws.com"}, False),
    ],
)
def test_principals(principal: Any, allowed: bool) -> None:
    assert evaluate(policy(allow(Principal=principal)), SESSION, "events:PutEvents", BUS).allowed is allowed


def test_service_principal_matches_only_that_service() -> None:
    events = Caller("", "events.amazonaws.com", "events.amazonaws.com", service="events.amazonaws.com")
    trusted = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert evaluate(policy(trusted), events, "sts:AssumeRole").allowed
    assert not evaluate(policy({**trusted, "Principal": {"AWS": "*"}}), events, "sts:AssumeRole").allowed


def test_what_is_not_evaluated_fails_closed() -> None:
    numeric = allow(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})
    decision = evaluate(policy(numeric), SESSION, "events:PutEvents", BUS)
    assert not decision.allowed
    assert "NumericLessThan is not evaluated" in decision.reason
    not_principal = {"Effect": "Deny", "NotPrincipal": {"AWS": "111111111111"}, "Action": "*"}
    assert not evaluate(policy(allow(), not_principal), SESSION, "events:PutEvents", BUS).allowed
