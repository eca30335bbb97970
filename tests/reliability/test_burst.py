"""The burst of ``make bench-burst``, scaled down: 200 events, 30 % duplicates, out of order, 4 workers, 10 % faults.

The same code as ``bench/burst.py`` with a fixed seed. Throttling is rarer in this mix than in the bench's:
botocore's adaptive retry mode slows a client down after each throttle (by design), which would make
this test minutes long without testing anything more. Forged events (decoys naming a real job's ARN, events of
another account) and jobs tagged with versions they did not evaluate or compile are mixed in (issue #14).

The functions' timeout is not what this test is about: the deadline (an invocation that outlives it fails its
whole batch) is the local runner's, tested on its own with a controlled clock (``test_local_runner``). Here it
bounds an invocation of up to 10 records, whose time depends on the machine: 0.3-4.5 s alone on an idle
2-core machine, up to 6 s after the whole suite with two busy loops beside it, up to 15 s at a load average
of 10 (docs/investigations: a record takes up to 6 s there; the adaptive retries' send rate, shared by the
four workers' process-wide clients, and full collections of a large heap stop every worker at once). With a
3 s timeout, equal to the visibility timeout, a third to three quarters of the batches timed out under load,
their records came back together and timed out again, and one that did so five times was dead-lettered.
"""

from __future__ import annotations

import pytest

from bench.burst import CAP_JOBS, BurstConfig, BurstResult, run_burst
from registrar.package import MAX_ADDITIONAL_SPECIFICATIONS
from registrar_dev.emulator import Emulator
from registrar_dev.faults import RETRIED_KINDS

# Twice the slowest invocation measured on an overloaded 2-core machine: the deadline never decides an outcome.
FUNCTION_TIMEOUT = 30
# A failed record comes back after the visibility timeout, at least the function timeout (the runner refuses
# less); one that keeps failing (a forged event, one of a version registrar may not read the report of) is
# dead-lettered after MAX_RECEIVES receives. The drain waits for that, and for the records' handling itself (a
# minute and a half of work at a load average of 10).
MAX_RECEIVES = BurstConfig().max_receive_count
DRAIN_TIMEOUT = MAX_RECEIVES * FUNCTION_TIMEOUT + 180
CONFIG = BurstConfig(
    events=200,
    seed=7,
    visibility_timeout=FUNCTION_TIMEOUT,
    timeout=DRAIN_TIMEOUT,
    weights={"throttling": 0.2, "server_error": 1.0, "read_timeout": 1.0, "connection_error": 1.0, "conflict": 3.0},
)
# The module's fixture runs in its first test: give it the drain and the setup (registering versions, a minute).
pytestmark = pytest.mark.timeout(DRAIN_TIMEOUT + 120)


@pytest.fixture(scope="module")
def burst(emulator: Emulator) -> BurstResult:
    # GIVEN versions of every kind, their events with duplicates, stale repeats, compilations, jobs tagged with
    # versions they did not evaluate or compile, and forged events, shuffled
    # WHEN four workers handle them through the local topology while 10 % of registrar's calls fail
    emulator.reset()
    emulator.emit_events = True
    return run_burst(CONFIG, emulator.endpoint, emulator.region)


def test_every_published_event_is_accounted_for(burst: BurstResult) -> None:
    # THEN no event is lost: each was handled or is in a dead-letter queue
    assert burst.published == CONFIG.events
    assert burst.lost == []


def test_every_version_ends_where_its_policy_says(burst: BurstResult) -> None:
    # THEN each version has its verdict, its own compilations and no other, and the refusals recorded
    assert burst.wrong == []


def test_only_forged_and_blocked_events_are_dead_lettered_and_nothing_is_left_behind(burst: BurstResult) -> None:
    # THEN the dead-letter queues hold exactly the forged events (poison) and the events of versions whose report
    # lies outside the allowed locations (held until the deployment is fixed and they are redriven)
    assert burst.expected_dead > burst.forged_published > 0
    assert (burst.unexpected_dead, burst.doomed_but_handled) == ([], [])
    assert (burst.dead_lettered, burst.leftover) == (burst.expected_dead, 0)


def test_forged_events_change_nothing(burst: BurstResult) -> None:
    # THEN decoys and events of another account were all refused (above), and no version was decided wrongly
    assert burst.foreign_published > 0
    assert burst.forged_published - burst.foreign_published > 0
    assert burst.doomed_but_handled == [] and burst.wrong == []


def test_unbound_jobs_decide_and_attach_nothing(burst: BurstResult) -> None:
    # THEN every outcome of a job tagged with a version it did not evaluate or compile wrote its refusal at most
    assert burst.unbound_jobs > 0 and burst.unbound_published >= burst.unbound_jobs
    assert burst.refusals > 0
    assert burst.unbound_writes == []


def test_successful_update_calls_equal_writes(burst: BurstResult) -> None:
    # THEN counted at the botocore level, every UpdateModelPackage that got through is one write registrar logged
    # (a decision, an over-cap record, a refusal record) or the hold written before a deployment error
    assert burst.update_calls_succeeded == burst.writes


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


def test_every_write_applied_is_announced_once_and_nothing_else_is(burst: BurstResult) -> None:
    # THEN a subscriber to Registrar Decision received one event per change SageMaker applied (its ClientToken is
    # the decision's id), though PutEvents failed too: none lost, none for a write that never happened, and a
    # second copy only where a PutEvents answer was lost after EventBridge had taken the event (botocore sends
    # it again; EventBridge does not deduplicate: the copy carries the same decision_id)
    assert burst.decisions_unannounced == []
    assert burst.decisions_unwritten == []
    assert burst.decision_copies <= burst.publish_lost_answers
    assert burst.decision_events == burst.applied_on_service + burst.decision_copies > 0
    assert burst.publish_faults > 0
