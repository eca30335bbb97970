"""The burst of ``make bench-burst``, scaled down: 200 events, 30 % duplicates, out of order, 4 workers, 10 % faults.

The same code as ``bench/burst.py`` with a fixed seed. Throttling is rarer in this mix than in the bench's:
botocore's adaptive retry mode slows a client down after each throttle (by design), which would make
this test minutes long without testing anything more.
"""

from __future__ import annotations

import pytest

from bench.burst import CAP_JOBS, BurstConfig, BurstResult, run_burst
from registrar.package import MAX_ADDITIONAL_SPECIFICATIONS
from registrar_dev.emulator import Emulator
from registrar_dev.faults import RETRIED_KINDS

CONFIG = BurstConfig(
    events=200,
    seed=7,
    visibility_timeout=3,
    timeout=120,
    weights={"throttling": 0.2, "server_error": 1.0, "read_timeout": 1.0, "connection_error": 1.0, "conflict": 3.0},
)


@pytest.fixture(scope="module")
def burst(emulator: Emulator) -> BurstResult:
    # GIVEN versions of every kind, their events with duplicates, stale repeats and compilations, shuffled
    # WHEN four workers handle them through the local topology while 10 % of registrar's calls fail
    emulator.reset()
    emulator.emit_events = True
    return run_burst(CONFIG, emulator.endpoint, emulator.region)


def test_every_published_event_is_accounted_for(burst: BurstResult) -> None:
    # THEN no event is lost: each was handled or is in a dead-letter queue
    assert burst.published == CONFIG.events
    assert burst.lost == []


def test_every_version_ends_where_its_policy_says(burst: BurstResult) -> None:
    assert burst.wrong == []


def test_nothing_is_dead_lettered_or_left_behind(burst: BurstResult) -> None:
    assert (burst.dead_lettered, burst.leftover) == (0, 0)


def test_successful_update_calls_equal_decisions(burst: BurstResult) -> None:
    # THEN counted at the botocore level, every UpdateModelPackage that got through is one decision
    assert burst.update_calls_succeeded == burst.decisions


def test_no_version_has_its_decision_written_twice(burst: BurstResult) -> None:
    # THEN among the changes SageMaker applied, no version got two approval decisions
    assert burst.decided_twice == []


def test_every_applied_change_was_confirmed_or_had_its_answer_lost(burst: BurstResult) -> None:
    # THEN each change applied is a ClientToken a successful call carried, or one whose answer a read timeout lost
    assert burst.applied_on_service == burst.distinct_tokens + burst.unconfirmed
    assert burst.unconfirmed <= burst.lost_answers


def test_duplicates_are_answered_by_the_idempotency_layer(burst: BurstResult) -> None:
    # THEN the idempotency layer answers duplicates: surely those of job events, whose subject (the job as read
    # back) registrar's writes leave alone; a model package event's duplicate arriving after registrar's write
    # names a changed version, is looked at again and writes nothing (the update and decision counts above)
    assert burst.job_duplicates_published > 0
    assert burst.duplicates_suppressed >= burst.job_duplicates_published // 2


def test_faults_of_every_kind_were_injected(burst: BurstResult) -> None:
    assert set(burst.faults_by_kind) >= {*RETRIED_KINDS, "conflict"}
    assert burst.botocore_retries > 0


def test_reports_outside_the_allowed_locations_are_never_read(burst: BurstResult) -> None:
    assert burst.outside_reads == 0


def test_compilations_over_the_cap_are_reported(burst: BurstResult) -> None:
    # THEN the capped version's jobs beyond 15 specifications were each reported over the cap
    assert burst.over_cap_jobs == CAP_JOBS - MAX_ADDITIONAL_SPECIFICATIONS
