"""registrar.outcome.Outcome: one constructor per kind of result, and what the CLI prints of it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from registrar.outcome import Outcome

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/1"
REQUEST: dict[str, Any] = {"ModelPackageArn": ARN, "ModelApprovalStatus": "Approved"}


def test_updated_carries_the_request_the_package_and_the_verdict() -> None:
    # GIVEN a planned request WHEN an updated outcome is built THEN it holds all of it, final and not to retry
    outcome = Outcome.updated(REQUEST, ["auc 0.91 ≥ min 0.85"], arn=ARN, verdict="Approved")
    assert (outcome.outcome, outcome.model_package_arn, outcome.verdict) == ("updated", ARN, "Approved")
    assert outcome.request == REQUEST
    assert outcome.reasons == ["auc 0.91 ≥ min 0.85"]
    assert (outcome.final, outcome.retry) == (True, False)


def test_unchanged_has_no_request() -> None:
    # GIVEN a package already as decided WHEN an unchanged outcome is built THEN no request, verdict optional
    outcome = Outcome.unchanged("nothing to write", arn=ARN)
    assert (outcome.outcome, outcome.request, outcome.verdict) == ("unchanged", None, None)
    assert Outcome.unchanged("nothing to write", arn=ARN, verdict="Held").verdict == "Held"


def test_skipped_is_final_by_default_and_may_say_otherwise() -> None:
    # GIVEN nothing to act on WHEN a skipped outcome is built THEN final unless told it may change later
    skipped = Outcome.skipped("group sandbox matches no rule")
    assert (skipped.outcome, skipped.model_package_arn, skipped.final, skipped.retry) == ("skipped", None, True, False)
    unlinked = Outcome.skipped("job carries no tag", final=False)
    assert (unlinked.final, unlinked.retry) == (False, False)


def test_skipped_may_carry_a_request_and_a_verdict() -> None:
    # GIVEN an over-cap record to write WHEN skipped is built with it THEN the request and verdict are kept
    outcome = Outcome.skipped("over the cap", arn=ARN, verdict="OverCap", request=REQUEST)
    assert (outcome.outcome, outcome.verdict, outcome.request) == ("skipped", "OverCap", REQUEST)


def test_early_is_a_skip_to_retry() -> None:
    # GIVEN an event ahead of the state it names WHEN an early outcome is built
    # THEN skipped, to be handled again (retry), with no request
    outcome = Outcome.early("job is InProgress, not finished: the event is early", arn=ARN)
    assert (outcome.outcome, outcome.retry, outcome.request) == ("skipped", True, None)
    assert outcome.model_package_arn == ARN
    assert Outcome.early("early").model_package_arn is None


def test_invalid_carries_the_reasons_and_an_optional_verdict() -> None:
    # GIVEN an event or evidence that cannot be used WHEN an invalid outcome is built THEN final, with the reasons
    outcome = Outcome.invalid(["Rejected", "description too long"], arn=ARN, verdict="Rejected")
    assert (outcome.outcome, outcome.model_package_arn, outcome.verdict) == ("invalid", ARN, "Rejected")
    assert outcome.reasons == ["Rejected", "description too long"]
    assert (outcome.final, outcome.retry) == (True, False)
    assert Outcome.invalid("no such job").model_package_arn is None


@pytest.mark.parametrize(
    "build",
    [
        lambda reasons: Outcome.updated(REQUEST, reasons, arn=ARN, verdict="Approved"),
        lambda reasons: Outcome.unchanged(reasons, arn=ARN),
        lambda reasons: Outcome.skipped(reasons),
        lambda reasons: Outcome.early(reasons),
        lambda reasons: Outcome.invalid(reasons),
    ],
    ids=["updated", "unchanged", "skipped", "early", "invalid"],
)
def test_every_constructor_takes_one_reason_or_several(build: Any) -> None:
    # GIVEN a single reason, a list or a tuple of reasons WHEN any constructor is called THEN a list of reasons
    assert build("one reason").reasons == ["one reason"]
    assert build(["first", "second"]).reasons == ["first", "second"]
    assert build(("first", "second")).reasons == ["first", "second"]


def test_the_json_is_what_the_cli_prints_without_retry_or_final() -> None:
    # GIVEN an early outcome (retry) and an unlinked one (not final) WHEN turned into the CLI's JSON
    # THEN outcome, model_package_arn, request and reasons only
    for outcome in (Outcome.early("early", arn=ARN), Outcome.skipped("unlinked", final=False)):
        assert set(outcome.to_json_dict()) == {"outcome", "model_package_arn", "request", "reasons"}
        assert "retry" not in outcome.model_dump() and "final" not in outcome.model_dump()
    updated = Outcome.updated(REQUEST, "r", arn=ARN, verdict="Approved").to_json_dict()
    assert updated == {"outcome": "updated", "model_package_arn": ARN, "request": REQUEST, "reasons": ["r"]}


def test_an_outcome_is_frozen() -> None:
    # GIVEN an outcome WHEN changed THEN refused: what was done stays what was done
    outcome = Outcome.skipped("r")
    with pytest.raises(ValidationError):
        outcome.outcome = "updated"  # type: ignore[misc]
