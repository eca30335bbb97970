"""What registrar logs while it handles events: what an operator needs, and no secret, account id or report content.

The report of the version holds a secret-looking value beside its metrics; the version's ARN, the Lambda
context and the error messages hold the account id; an event's own text may hold one anywhere, even where a
logged reason is cut. Logs are captured from registrar's own Powertools logger, formatted by its own formatter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from handlers import approval
from registrar_dev.support import ACCOUNT
from tests.reliability.world import PASSING, World, envelope, invoke

SECRET = "AKIAZZZZSECRETVALUE1"
PASSWORD = "hunter2-correct-horse"
LOGGED_REASON_LENGTH = 500  # a reason's length in a log line (registrar.observability.cut)


def report_with_secrets() -> bytes:
    report = json.loads(PASSING)
    report["credentials"] = {"aws_access_key_id": SECRET, "password": PASSWORD}
    report["notes"] = f"trained with token {SECRET}"
    return json.dumps(report).encode()


@pytest.fixture
def logged(world: World, powertools_logs: Callable[[], list[dict[str, Any]]]) -> str:
    # GIVEN a passing version whose report carries secrets, and a version whose report is not JSON but holds one
    good = world.package(report=report_with_secrets())
    broken = world.package(report=f'{{"password": "{PASSWORD}", "token": "{SECRET}"'.encode())
    # WHEN both events are handled, with a poison record beside them
    invoke(approval.handler, world.creation_event(good), world.creation_event(broken), '{"token": "' + SECRET)
    return "\n".join(json.dumps(line) for line in powertools_logs())


def test_decisions_are_logged(logged: str) -> None:
    # THEN the operator sees each outcome, with its verdict and the numbers it was decided on
    assert '"verdict": "Approved"' in logged and '"verdict": "Rejected"' in logged
    assert "auc 0.91" in logged


def test_packages_are_named_by_group_and_version_with_the_account_masked(logged: str) -> None:
    assert "arn:aws:sagemaker:us-east-1:************:model-package/churn-model/1" in logged


def test_no_report_content_beyond_the_metrics_is_logged(logged: str) -> None:
    assert SECRET not in logged
    assert PASSWORD not in logged
    assert "confusion_matrix" not in logged


def test_no_account_id_is_logged(logged: str) -> None:
    assert ACCOUNT not in logged


def test_a_reason_cut_to_its_length_leaks_no_account_digits(
    world: World, powertools_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN a poison event whose detail-type (quoted in the reason it is refused for) carries an account id
    # placed across the 500th character, where a logged reason is cut
    prefix = _reason_prefix()
    detail_type = "x" * (LOGGED_REASON_LENGTH - 6 - prefix) + ACCOUNT + " is the account"
    event = envelope("aws.sagemaker", detail_type, {})
    # WHEN it is handled
    invoke(approval.handler, event)
    # THEN the reason is logged cut to its length, and not one digit of the account is left: masked, then cut
    (line,) = [line for line in powertools_logs() if line["message"].startswith("poison event")]
    assert len(line["reason"]) == LOGGED_REASON_LENGTH
    assert line["reason"].endswith("******")
    assert ACCOUNT[:6] not in json.dumps(line)


def _reason_prefix() -> int:
    """Where an unknown detail-type starts in the reason the approval flow refuses its event for."""
    from registrar.approval.service import parse

    marker = "MARKER-DETAIL-TYPE"
    try:
        parse(envelope("aws.sagemaker", marker, {}))
    except ValueError as error:
        return str(error).index(marker)
    raise AssertionError("an unknown detail-type was accepted")
