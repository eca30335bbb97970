"""Specification names: deterministic, valid for the API, distinct per job, target readable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registrar import _shapes
from registrar.neo.spec import specification_name

NAME_RULE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
JOB_NAMES = st.from_regex(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", fullmatch=True)


def test_the_same_job_always_gets_the_same_name() -> None:
    assert specification_name("churn-model-1-ml-c5", "ml_c5") == specification_name("churn-model-1-ml-c5", "ml_c5")


def test_the_name_reads_as_neo_target_job_digest() -> None:
    name = specification_name("churn-model-1", "ml_c5")

    assert re.fullmatch(r"neo-ml-c5-churn-model-1-[0-9a-f]{8}", name)


@pytest.mark.parametrize("target", _shapes.TARGET_DEVICES)
def test_every_target_is_readable_in_a_valid_name(target: str) -> None:
    name = specification_name("a" * 63, target)

    assert NAME_RULE.fullmatch(name)
    assert len(name) <= 63
    assert name.startswith("neo-" + target.replace("_", "-"))


@given(JOB_NAMES)
def test_any_job_name_yields_a_valid_name(job_name: str) -> None:
    assert NAME_RULE.fullmatch(specification_name(job_name, "ml_inf2"))


@given(JOB_NAMES, JOB_NAMES)
def test_distinct_jobs_get_distinct_names(first: str, second: str) -> None:
    if first != second:
        assert specification_name(first, "ml_c5") != specification_name(second, "ml_c5")


def test_jobs_sharing_a_long_prefix_still_differ() -> None:
    prefix = "churn-model-compiled-for-the-c5-family-with-a-long-name"

    assert specification_name(prefix + "-1", "ml_c5") != specification_name(prefix + "-2", "ml_c5")
