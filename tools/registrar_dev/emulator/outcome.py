"""The ``emulator:outcome`` tag: how a test asks an emulated job to end other than in success.

Real jobs fail or get stopped for reasons a test cannot provoke; the emulator ends every job at once,
in the final state named by this tag on the job (compared case-insensitively), or in success without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from moto.sagemaker.exceptions import ValidationError

OUTCOME_TAG = "emulator:outcome"


def requested_outcome(tags: Iterable[Mapping[str, str]] | None, outcomes: Iterable[str], default: str) -> str:
    """Read the final status a job was tagged to reach.

    Parameters
    ----------
    tags
        The job's ``Tags`` (``[{"Key": ..., "Value": ...}]``), or ``None``.
    outcomes
        The final statuses the job's API knows, spelled as the API spells them (``FAILED``, ``Failed``).
    default
        The status without the tag.

    Returns
    -------
    str
        The status, spelled as in ``outcomes``.

    Raises
    ------
    moto.sagemaker.exceptions.ValidationError
        The tag names no final status: a typo in a test should fail the call, not pass silently.
    """
    by_lower = {outcome.lower(): outcome for outcome in outcomes}
    for tag in tags or ():
        if tag.get("Key") == OUTCOME_TAG:
            value = tag.get("Value", "")
            if value.lower() not in by_lower:
                raise ValidationError(f"Tag {OUTCOME_TAG}={value!r} is not one of {sorted(by_lower.values())}.")
            return by_lower[value.lower()]
    return default
