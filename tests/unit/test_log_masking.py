"""Account ids in log lines: masked wherever they stand, and masked before a reason is cut to its 500 characters."""

from __future__ import annotations

import json
import re

import pytest

from registrar import observability

ACCOUNT = "123456789012"
MASK = "************"
ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn-model/1"


def digits_of_the_account(text: str) -> list[str]:
    """Every run of 4 or more digits of the account id left in ``text``."""
    return [run for run in re.findall(r"[0-9]{4,}", text) if run in ACCOUNT]


@pytest.mark.parametrize("start", range(488, 501))
def test_an_arn_cut_at_500_characters_leaks_no_digit_of_the_account(start: int) -> None:
    # GIVEN a reason whose ARN's account id starts at characters 488 to 500, so that 500 cuts it or ends it
    prefix = "x" * (start - len("arn:aws:sagemaker:us-east-1:"))
    reason = prefix + ARN + " cannot be described"
    assert reason.index(ACCOUNT) == start
    # WHEN it is cut for a log line THEN 500 characters, and no part of the account id is in them
    logged = observability.cut(reason)
    assert len(logged) == 500
    assert digits_of_the_account(logged) == []
    assert logged == observability.redact(reason)[:500]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(ARN, f"arn:aws:sagemaker:us-east-1:{MASK}:model-package/churn-model/1", id="arn"),
        pytest.param(
            f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/registrar-approval-dlq",
            f"https://sqs.us-east-1.amazonaws.com/{MASK}/registrar-approval-dlq",
            id="queue-url",
        ),
        pytest.param(
            f"the event is about account {ACCOUNT}, this function runs in 210987654321",
            f"the event is about account {MASK}, this function runs in {MASK}",
            id="bare-ids",
        ),
        pytest.param(
            f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/neo:1",
            f"{MASK}.dkr.ecr.us-east-1.amazonaws.com/neo:1",
            id="ecr",
        ),
    ],
)
def test_every_account_id_in_a_log_line_is_masked(text: str, masked: str) -> None:
    # GIVEN a reason naming an account in an ARN, a queue URL, a message or an ECR registry
    # WHEN it is written as a log record THEN the account id is masked, and the rest is left as it was
    assert json.loads(observability.redacted_json({"reason": text})) == {"reason": masked}
    assert observability.redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("LastModifiedTime 1741251012000", id="13-digit-epoch-milliseconds"),
        pytest.param("job 12345678901 took 3 s", id="11-digit-number"),
        pytest.param("auc 0.912345678901 ≥ min 0.85", id="a-metric-with-12-decimals"),
    ],
)
def test_numbers_that_are_not_account_ids_are_left_as_they_are(text: str) -> None:
    # GIVEN numbers of more or fewer than 12 digits, and a metric value as registrar writes it (12 significant
    # digits: 0.912345678901) WHEN written to a log line THEN unchanged: operators read the metrics decided on
    assert json.loads(observability.redacted_json({"reason": text})) == {"reason": text}
