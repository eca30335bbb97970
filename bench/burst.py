"""``make bench-burst``: a burst of events through the local topology, with duplicates, disorder, workers and faults.

What it does, on the embedded emulator (``registrar_dev.emulator``), with the same rule patterns, queues, DLQs,
idempotency table and Lambda handlers the CDK app deploys:

1. Registers model package versions through ordinary SageMaker calls — churn models whose reports pass,
   fail, are missing, hold NaN, are not JSON or lie outside the allowed report locations; versions a
   human decided after their event was sent (the event is stale); versions of a group no rule matches;
   credit-risk versions evaluated by processing jobs (completed or failed) — and Neo compilation jobs
   of churn versions (several per version, two finishing in the same second, and one version with
   more compilations than the 15-specification cap). Each version has a known expected final state.
   Beside them, ``unbound`` share of the events are of jobs tagged with a version they did not evaluate
   or compile (issue #14): processing jobs of another model, completed with a passing report on versions
   that must not pass or failed on versions that must not fail, and compilations of another model tagged
   with approved versions (the capped one among them): none may decide or attach anything.
2. Publishes, on the emulator's bus, each of their events as SageMaker (model package and processing
   job events, captured from the emulator) or the sweeper (``Compilation Job State Change``) sends
   them, some older events again with an earlier time (stale), plus ``duplicates`` share of
   duplicates (same subject, new id), and ``forged`` share of forged events: decoy compilation events
   naming another job (or none) with a real job's ARN and time, published on the bus, and events of
   another account, sent to the queues directly (the deployed rules would not route them), all shuffled.
3. Runs ``workers`` threads, each a local event source mapping on the approval and the Neo queue,
   calling the deployed Lambda handlers, while :class:`registrar_dev.faults.FaultInjector` fails
   ``faults`` share of registrar's SageMaker, S3 and DynamoDB attempts (throttling, 500, read timeout
   after the request reached the service, connection error, ConflictException on UpdateModelPackage).
4. When every queue is empty and nothing is in flight, compares every version with its expectation,
   and accounts for every published event: handled, or in a dead-letter queue when it must be (forged
   events are poison; a version whose report lies outside the allowed locations is held and its events
   fail until the deployment is fixed), and no other.

``python -m bench.burst [--events N] [--seed S] [--workers W] [--duplicates F] [--faults F]``; exits 1 when an
event is lost, a version is wrongly decided, or an update was applied twice.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import itertools
import json
import os
import pathlib
import random
import resource
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import quiet_logs
from registrar_dev.support import XGBOOST_IMAGE, create_compilation_job, create_processing_job, emulator_clients

ROOT = pathlib.Path(__file__).resolve().parents[1]
REPORTS = ROOT / "events" / "approval" / "reports"
POLICY_FILE = ROOT / "events" / "policy.yaml"
REPORT_BUCKET = "registrar-burst-reports"
OUTSIDE_BUCKET = "registrar-burst-elsewhere"
ARTIFACT_BUCKET = "registrar-burst-artifacts"
ROLE_ARN = "arn:aws:iam::123456789012:role/registrar-burst"
CAPTURE = "registrar-burst-capture"
CHURN_GROUPS = 5
DEPLOYED_MAX_RECEIVE_COUNT = 5  # infra/routing.py

# Every hostable Neo target the emulator serves with an image.
HOSTABLE_TARGETS = (
    "ml_c5",
    "ml_inf2",
    "ml_m5",
    "ml_c4",
    "ml_m4",
    "ml_p3",
    "ml_g4dn",
    "ml_inf1",
    "ml_trn1",
    "ml_c6g",
    "ml_m6g",
    "ml_p2",
)
# The jobs an ordinary compiled version gets, in this order: two hostable targets, an edge device, a failure.
ORDINARY_JOBS = (("ml_c5", False), ("ml_inf2", False), ("jetson_nano", False), ("ml_m5", True))
CAP_JOBS = 18
# The faults of a burst, alike: ConflictException strikes UpdateModelPackage only, so it is the rarest in practice.
DEFAULT_MIX = {"throttling": 1.0, "server_error": 1.0, "read_timeout": 1.0, "connection_error": 1.0, "conflict": 1.0}

# Churn version kinds: (kind, share, expected approval status, verdict registrar writes, or None).
CHURN_KINDS: tuple[tuple[str, float, str, str | None], ...] = (
    ("pass", 0.35, "Approved", "Approved"),
    ("fail", 0.20, "Rejected", "Rejected"),
    ("missing", 0.08, "Rejected", "Rejected"),
    ("nan", 0.07, "Rejected", "Rejected"),
    ("garbage", 0.05, "Rejected", "Rejected"),
    # A report the deployment keeps registrar from reading is not evidence: held, and its events dead-lettered
    # for an operator to fix the report locations and redrive them (the rule would reject on a bad report).
    ("outside", 0.05, "PendingManualApproval", "Held"),
    ("human", 0.10, "Rejected", None),
    ("sandbox", 0.10, "PendingManualApproval", None),
)
# Kinds an unbound evaluation targets: completed with a passing report where a version must not pass, failed
# where it must not fail (a churn rule rejects on a failed job; a credit-risk rule holds).
UNBOUND_PASSING_ON = ("fail", "nan", "credit-fail")
UNBOUND_FAILED_ON = ("pass", "credit-pass")
OTHER_ACCOUNT = "210987654321"
# Credit-risk versions, decided from their processing job: (kind, expected status, verdict written).
CREDIT_KINDS: tuple[tuple[str, str, str], ...] = (
    ("credit-pass", "Approved", "Approved"),
    ("credit-fail", "PendingManualApproval", "Held"),
    ("credit-jobfailed", "PendingManualApproval", "Held"),
)


@dataclass(frozen=True)
class BurstConfig:
    """The burst's size and hostility.

    Attributes
    ----------
    events
        Events published, duplicates included.
    duplicates
        Share of ``events`` that are duplicates (same subject, new id).
    faults
        Share of registrar's SageMaker, S3 and DynamoDB attempts that fail.
    workers
        Concurrent event source mappings (threads), each polling both queues.
    seed
        Seeds the scenario, the order of delivery and the fault injector.
    forged
        Share of ``events`` that are forged (decoy compilation events, events of another account): each is
        poison, received ``max_receive_count`` times and dead-lettered; none may change anything.
    unbound
        Share of the unique events that are events of jobs tagged with a version they did not evaluate or
        compile; each is refused (the refusal recorded on the version) and decides or attaches nothing.
    visibility_timeout
        Seconds before a failed record comes back (the local stand-in for the deployed 6 x timeout), and
        the functions' timeout too (it may not be longer): a batch that takes longer fails as a whole. 30 s:
        a batch of 10 takes up to 15 s on a loaded 2-core machine (issue #19), and a batch failed by the
        deadline comes back whole and may fail again, until its records are dead-lettered beside the poison.
    max_receive_count
        Receives before a record is dead-lettered (the deployed value by default).
    timeout
        Seconds to wait for the queues to drain before giving up (the result then says what is left).
    weights
        Relative weight of each fault kind (:class:`registrar_dev.faults.FaultInjector`); default: its own.
    """

    events: int = 1000
    duplicates: float = 0.30
    forged: float = 0.05
    unbound: float = 0.05
    faults: float = 0.10
    workers: int = 4
    seed: int = 1
    visibility_timeout: int = 30
    max_receive_count: int = DEPLOYED_MAX_RECEIVE_COUNT
    timeout: float = 900.0
    batch_size: int = 10
    weights: dict[str, float] | None = None


@dataclass
class Job:
    name: str
    target: str
    fail: bool
    package: str  # label
    arn: str = ""
    end_time: Any = None  # CompilationEndTime as DescribeCompilationJob returned it

    @property
    def hostable(self) -> bool:
        return not self.fail and self.target in HOSTABLE_TARGETS


@dataclass
class Version:
    """One model package version and where the policy says it must end."""

    label: str
    group: str
    kind: str
    expected_status: str
    decided_by_registrar: bool
    verdict: str | None = None
    arn: str = ""
    jobs: list[Job] = field(default_factory=list)
    capped: bool = False
    unbound: list[UnboundJob] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Whether registrar may not read the version's report: its events are to be dead-lettered."""
        return self.kind == "outside"


@dataclass
class UnboundJob:
    """A job tagged with a version it did not evaluate (``processing``) or compile (``compilation``)."""

    name: str
    kind: str  # processing | compilation
    target: str  # the version's label
    fail: bool = False  # processing: ends Failed (else Completed, with a passing report)
    device: str = "ml_c5"  # compilation: the target device
    arn: str = ""
    end_time: Any = None

    @property
    def model(self) -> str:
        """The model it evaluated or compiled: another team's, no version's."""
        return f"s3://{ARTIFACT_BUCKET}/models/other-team/{self.name}/model.tar.gz"


@dataclass
class Plan:
    """A burst's versions and jobs, and how many stale and forged events it publishes."""

    versions: list[Version]
    stale: int
    processing: int
    unbound: list[UnboundJob]
    forged: int


@dataclass
class BurstResult:
    """What the burst did, and every way it went wrong (``problems``)."""

    config: BurstConfig
    versions: list[Version] = field(default_factory=list)
    published: int = 0
    unique_events: int = 0
    duplicates_published: int = 0
    job_duplicates_published: int = 0  # of processing and compilation job events: their subject is the job
    stale_published: int = 0
    compilation_events: int = 0
    forged_published: int = 0  # decoy compilation events and events of another account
    foreign_published: int = 0  # of which events of another account, sent to the queues directly
    unbound_published: int = 0  # events of jobs tagged with a version they did not evaluate or compile
    unbound_jobs: int = 0
    refusals: int = 0  # outcomes of unbound jobs' events (duplicates too): refused, the reason on the version
    same_second_pairs: int = 0
    handled_published: int = 0
    handled_echoes: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    # Records acknowledged without an outcome logged: Powertools Idempotency answered them from a stored result
    # (duplicates, and redeliveries of records already handled). Counted per invocation: exactly for those in
    # which no record failed, at least as many in all. A duplicate is answered so when its subject (what it
    # names, as read back from AWS) was handled already: always for a job's event, whose subject is the job;
    # for a model package event only until registrar's own write changes the version, after which it is
    # looked at again and found decided (``unchanged``).
    duplicates_suppressed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    replans: int = 0
    over_cap_jobs: int = 0
    update_calls: int = 0
    update_calls_succeeded: int = 0
    distinct_tokens: int = 0
    applied_on_service: int = 0
    unconfirmed: int = 0  # changes applied whose answer never reached registrar (a read timeout, then a refusal)
    lost_answers: int = 0  # read timeouts injected into UpdateModelPackage: each may leave one change unconfirmed
    decided_twice: list[str] = field(default_factory=list)
    outside_reads: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    botocore_retries: int = 0
    dead_lettered: int = 0
    expected_dead: int = 0  # published events that must end in a dead-letter queue (forged, of blocked versions)
    unexpected_dead: list[str] = field(default_factory=list)  # dead-lettered, though they should have been handled
    doomed_but_handled: list[str] = field(default_factory=list)  # forged or blocked, and yet handled
    unbound_writes: list[str] = field(default_factory=list)  # an unbound job's outcome that wrote more than a refusal
    lost: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    leftover: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    decision_events: int = 0  # Registrar Decision events a subscriber received
    decisions_unannounced: list[str] = field(default_factory=list)  # writes applied without a decision event
    decisions_doubled: list[str] = field(default_factory=list)  # decision ids received more than once
    decision_copies: int = 0  # events received beyond the first of their decision id
    decisions_unwritten: list[str] = field(default_factory=list)  # decision events of writes never applied
    publish_faults: int = 0  # PutEvents attempts of the decisions failed by the injector
    # PutEvents answers lost to a read timeout after EventBridge took the event: botocore sends it again, and
    # EventBridge (which does not deduplicate) delivers both; each may double one decision, with the same id.
    publish_lost_answers: int = 0

    decisions: int = 0  # ``updated`` outcomes: a verdict written, or a compilation attached or recorded
    # Writes registrar made: outcomes that carried a request (decisions, over-cap records, refusal records), and
    # the holds written on blocked versions before their events failed (no outcome is logged for those).
    writes: int = 0
    holds_before_failure: int = 0

    @property
    def throughput(self) -> float:
        return (self.handled_published + self.handled_echoes) / self.seconds if self.seconds else 0.0

    def problems(self) -> list[str]:
        """Every broken promise: lost events, wrong versions, dead letters, a change applied twice."""
        found = [f"lost: {event}" for event in self.lost]
        found += [f"wrongly decided: {line}" for line in self.wrong]
        found += [f"dead-lettered, though it should have been handled: {event}" for event in self.unexpected_dead]
        found += [f"forged or blocked, and yet handled: {event}" for event in self.doomed_but_handled]
        found += [f"an unbound job wrote more than its refusal: {line}" for line in self.unbound_writes]
        if self.leftover:
            found.append(f"{self.leftover} message(s) left in a queue")
        if self.update_calls_succeeded != self.writes:
            found.append(f"{self.update_calls_succeeded} successful UpdateModelPackage calls for {self.writes} writes")
        found += [f"decision written twice on {arn}" for arn in self.decided_twice]
        if self.applied_on_service != self.distinct_tokens + self.unconfirmed or self.unconfirmed > self.lost_answers:
            found.append(
                f"{self.applied_on_service} changes applied for {self.distinct_tokens} confirmed ClientTokens and "
                f"{self.unconfirmed} unconfirmed ({self.lost_answers} answers lost)"
            )
        if self.outside_reads:
            found.append(f"{self.outside_reads} report read(s) outside the allowed locations")
        found += [f"a write without its Registrar Decision: {token}" for token in self.decisions_unannounced]
        if self.decision_copies > self.publish_lost_answers:
            found += [f"a Registrar Decision published twice: {token}" for token in self.decisions_doubled]
        found += [f"a Registrar Decision of a write never applied: {token}" for token in self.decisions_unwritten]
        return found

    def lines(self) -> list[str]:
        """The printed report."""
        c = self.config
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults_by_kind.items())) or "none"
        outcomes = ", ".join(f"{kind} {n}" for kind, n in sorted(self.outcomes.items()))
        verdicts = ", ".join(f"{kind} {n}" for kind, n in sorted(self.verdicts.items()))
        return [
            f"registrar burst — {self.published} events, {c.duplicates:.0%} duplicates, out of order, "
            f"{c.workers} workers, {c.faults:.0%} injected faults, seed {c.seed}",
            f"  versions                  {len(self.versions)} "
            f"({sum(len(v.jobs) for v in self.versions)} compilation jobs, "
            f"{self.same_second_pairs} pairs finishing in the same second)",
            f"  events published          {self.published} ({self.unique_events} unique, "
            f"{self.duplicates_published} duplicates, {self.stale_published} stale, "
            f"{self.compilation_events} compilation, {self.forged_published} forged)",
            f"  forged events             {self.forged_published} ({self.forged_published - self.foreign_published} "
            f"decoys naming a real job's ARN, {self.foreign_published} of another account): "
            f"{len(self.doomed_but_handled)} handled (must be 0)",
            f"  unbound jobs              {self.unbound_jobs} tagged with a version they did not evaluate or compile "
            f"({self.unbound_published} events): refused {self.refusals} times, "
            f"{len(self.unbound_writes)} decided or attached anything (must be 0)",
            f"  events handled            {self.handled_published} published + {self.handled_echoes} "
            "emitted by registrar's own writes",
            f"  deliveries                {self.deliveries} ({self.redeliveries} redeliveries after a failed attempt)",
            f"  outcomes                  {outcomes}",
            f"  verdicts                  {verdicts}",
            f"  decisions                 {self.decisions} ({self.writes} writes: with the refusal records and "
            f"{self.holds_before_failure} holds written before a deployment error)",
            f"  updates applied           {self.applied_on_service} on the service "
            f"({self.update_calls} UpdateModelPackage calls, {self.update_calls_succeeded} succeeded, "
            f"{self.distinct_tokens} distinct ClientTokens, {self.unconfirmed} applied with the answer lost)",
            f"  decision events           {self.decision_events} for {self.applied_on_service} writes applied: "
            f"{len(self.decisions_unannounced)} lost, {len(self.decisions_unwritten)} of writes never applied "
            f"(each must be 0), {self.decision_copies} copies of {len(self.decisions_doubled)} decisions (at most the "
            f"{self.publish_lost_answers} PutEvents answers lost after EventBridge took the event), through "
            f"{self.publish_faults} failed "
            "PutEvents attempts",
            f"  duplicates suppressed     {self.duplicates_suppressed} records answered by Powertools Idempotency "
            f"({self.job_duplicates_published} of the duplicates are of job events, whose subject no write changes)",
            f"  re-plans                  {self.replans} (refused update planned again from fresh state)",
            f"  over the cap              {self.over_cap_jobs} compilation job(s) reported, not attached",
            f"  injected faults           {sum(self.faults_by_kind.values())} ({faults})",
            f"  retries                   {self.botocore_retries} by botocore, {self.redeliveries} by SQS",
            f"  DLQ count                 {self.dead_lettered} ({self.expected_dead} expected: forged events and "
            f"events of versions whose report registrar may not read; {len(self.unexpected_dead)} others, must be 0)",
            f"  lost events               {len(self.lost)} (must be 0)",
            f"  wrongly decided versions  {len(self.wrong)} (must be 0)",
            f"  throughput                {self.throughput:.1f} events/s ({self.seconds:.1f} s)",
            f"  peak memory               {self.peak_rss_mb:.0f} MiB (max RSS of the process, emulator included)",
        ]


# Scenario -----------------------------------------------------------------------------------------------


def plan_versions(config: BurstConfig) -> Plan:
    """The versions and jobs of a burst of ``config.events``.

    The unique events (``events`` less the duplicates and the forged ones) are one creation event per
    version, one event per processing job, one per compilation job, one per unbound job, and a few
    stale repeats.
    """
    rng = random.Random(config.seed)
    forged = round(config.events * config.forged)
    unique = config.events - round(config.events * config.duplicates) - forged
    compilations = max(CAP_JOBS + 4, round(unique * 0.25))
    processing = max(len(CREDIT_KINDS), round(unique * 0.05))
    unbound = round(unique * config.unbound)
    stale = max(1, round(unique * 0.04))
    churn = unique - compilations - 2 * processing - stale - unbound
    if churn < 20:
        raise ValueError(f"{config.events} events are too few for a burst; use at least 150")
    versions: list[Version] = []
    for index in range(churn):
        kind, _, status, verdict = _pick(rng, CHURN_KINDS)
        if index == 0:
            kind, status, verdict = "pass", "Approved", "Approved"  # the capped version is a passing one
        group = f"sandbox-{index % 2}" if kind == "sandbox" else f"churn-{index % CHURN_GROUPS}"
        versions.append(Version(f"v{index}", group, kind, status, verdict is not None, verdict))
    for index in range(processing):
        kind, status, verdict = CREDIT_KINDS[index % len(CREDIT_KINDS)]
        versions.append(Version(f"c{index}", "credit-risk", kind, status, True, verdict))
    # Compilations: CAP_JOBS on the first version, the rest on the following compiled churn versions.
    compiled = [v for v in versions if v.group.startswith("churn-") and v.kind != "human"]
    cap_version = compiled[0]
    cap_version.capped = True
    cap_version.jobs = [
        Job(f"cap-{n}", HOSTABLE_TARGETS[n % len(HOSTABLE_TARGETS)], False, cap_version.label) for n in range(CAP_JOBS)
    ]
    left = compilations - CAP_JOBS
    for version in compiled[1:]:
        if left <= 0:
            break
        take = min(left, rng.choice((2, 3, 4)))
        version.jobs = [
            Job(f"{version.label}-{n}", target, fail, version.label)
            for n, (target, fail) in enumerate(ORDINARY_JOBS[:take])
        ]
        left -= take
    return Plan(versions, stale, processing, _plan_unbound(rng, versions, unbound), forged)


def _plan_unbound(rng: random.Random, versions: list[Version], count: int) -> list[UnboundJob]:
    """``count`` jobs tagged with versions they did not evaluate or compile: half evaluations, half compilations.

    Evaluations alternate between a passing one on a version that must not pass and a failed one on a
    version that must not fail; compilations go to the capped version first (its slots are full of its own
    jobs), then to passing churn versions (Approved ones).
    """
    passing_on = [v for v in versions if v.kind in UNBOUND_PASSING_ON]
    failed_on = [v for v in versions if v.kind in UNBOUND_FAILED_ON and not v.capped]
    approved = [v for v in versions if v.kind == "pass"]
    jobs: list[UnboundJob] = []
    for n in range(count):
        if n % 2 == 0:
            fail = n % 4 == 2
            target = rng.choice(failed_on if fail else passing_on)
            job = UnboundJob(f"unbound-eval-{n}", "processing", target.label, fail=fail)
        else:
            target = approved[0] if n == 1 else rng.choice(approved)
            device = HOSTABLE_TARGETS[n % len(HOSTABLE_TARGETS)]
            job = UnboundJob(f"unbound-neo-{n}", "compilation", target.label, device=device)
        target.unbound.append(job)
        jobs.append(job)
    return jobs


def _pick(
    rng: random.Random, kinds: tuple[tuple[str, float, str, str | None], ...]
) -> tuple[str, float, str, str | None]:
    point = rng.random() * sum(share for _, share, _, _ in kinds)
    for kind in kinds:
        point -= kind[1]
        if point < 0:
            return kind
    return kinds[-1]


class Setup:
    """What a data scientist's pipeline does, with plain clients of their own (no faults, not counted)."""

    def __init__(self, endpoint: str, region: str) -> None:
        clients = emulator_clients(endpoint, region=region, access_key="burst", secret_key="burst")
        self.sagemaker = clients.sagemaker
        self.s3 = clients.s3
        self.sqs = clients.sqs
        self.events = clients.events

    def upload(self, bucket: str, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{bucket}/{key}"

    def describe(self, arn: str) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_model_package(ModelPackageName=arn)
        described.pop("ResponseMetadata", None)
        return described


def _report_uri(setup: Setup, version: Version) -> str | None:
    key = f"evaluations/{version.group}/{version.label}/evaluation.json"
    reports = {
        "pass": (REPORTS / "passing.json").read_bytes(),
        "human": (REPORTS / "passing.json").read_bytes(),
        "sandbox": (REPORTS / "passing.json").read_bytes(),
        "fail": (REPORTS / "failing.json").read_bytes(),
        "nan": (REPORTS / "nan-metric.json").read_bytes(),
        "garbage": b'{"binary_classification_metrics": {"auc": {"value": 0.99}',
    }
    if version.kind == "missing":
        return f"s3://{REPORT_BUCKET}/{key}"
    if version.kind == "outside":
        # A passing report, but outside the allowed locations: it must never be read, let alone trusted.
        return setup.upload(OUTSIDE_BUCKET, key, (REPORTS / "passing.json").read_bytes())
    if version.kind in reports:
        return setup.upload(REPORT_BUCKET, key, reports[version.kind])
    return None


def _register(setup: Setup, version: Version) -> None:
    request: dict[str, Any] = {
        "ModelPackageGroupName": version.group,
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": XGBOOST_IMAGE,
                    "ModelDataUrl": f"s3://{ARTIFACT_BUCKET}/models/{version.label}/model.tar.gz",
                    "Framework": "XGBOOST",
                    "FrameworkVersion": "1.7",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }
    uri = _report_uri(setup, version)
    if uri is not None:
        request["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}}
    version.arn = str(setup.sagemaker.create_model_package(**request)["ModelPackageArn"])


def _evaluate(setup: Setup, version: Version) -> None:
    prefix = f"evaluations/credit-risk/{version.label}"
    report = "nan-metric.json" if version.kind == "credit-fail" else "processing.json"
    setup.upload(REPORT_BUCKET, f"{prefix}/evaluation.json", (REPORTS / report).read_bytes())
    create_processing_job(
        setup.sagemaker,
        f"burst-eval-{version.label}",
        version.arn,
        f"s3://{REPORT_BUCKET}/{prefix}/",
        role=ROLE_ARN,
        fail=version.kind == "credit-jobfailed",
    )


def _compile(setup: Setup, version: Version, job: Job) -> None:
    create_compilation_job(
        setup.sagemaker,
        job.name,
        job.target,
        f"s3://{ARTIFACT_BUCKET}/compiled/{job.name}/",
        role=ROLE_ARN,
        package_arn=version.arn,
        fail=job.fail,
    )
    described = setup.sagemaker.describe_compilation_job(CompilationJobName=job.name)
    job.arn = str(described["CompilationJobArn"])
    job.end_time = described.get("CompilationEndTime") or described.get("LastModifiedTime")


def _unbound(setup: Setup, version: Version, job: UnboundJob) -> None:
    """A job of another model tagged with ``version``: an evaluation in another team's scratch space, or a Neo job."""
    if job.kind == "processing":
        prefix = f"evaluations/other-team/scratch/{job.name}"
        report = "processing.json" if version.group == "credit-risk" else "passing.json"
        setup.upload(REPORT_BUCKET, f"{prefix}/evaluation.json", (REPORTS / report).read_bytes())
        create_processing_job(
            setup.sagemaker,
            job.name,
            version.arn,
            f"s3://{REPORT_BUCKET}/{prefix}/",
            role=ROLE_ARN,
            fail=job.fail,
            model_uri=job.model,
        )
        return
    create_compilation_job(
        setup.sagemaker,
        job.name,
        job.device,
        f"s3://{ARTIFACT_BUCKET}/compiled/{job.name}/",
        role=ROLE_ARN,
        input_config={
            "S3Uri": job.model,
            "Framework": "XGBOOST",
            "FrameworkVersion": "1.7",
            "DataInputConfig": '{"data": [1, 10]}',
        },
        tagged=version.arn,
    )
    described = setup.sagemaker.describe_compilation_job(CompilationJobName=job.name)
    job.arn = str(described["CompilationJobArn"])
    job.end_time = described.get("CompilationEndTime") or described.get("LastModifiedTime")


@contextlib.contextmanager
def _capture(setup: Setup) -> Iterator[list[dict[str, Any]]]:
    """Every ``aws.sagemaker`` event the emulator emits inside the block (it runs before the topology exists)."""
    url = setup.sqs.create_queue(QueueName=CAPTURE)["QueueUrl"]
    arn = setup.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    setup.events.put_rule(Name=CAPTURE, EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    setup.events.put_targets(Rule=CAPTURE, Targets=[{"Id": "capture", "Arn": arn}])
    captured: list[dict[str, Any]] = []
    try:
        yield captured
        while messages := setup.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            captured.extend(json.loads(message["Body"]) for message in messages)
            setup.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    finally:
        setup.events.remove_targets(Rule=CAPTURE, Ids=["capture"])
        setup.events.delete_rule(Name=CAPTURE)
        setup.sqs.delete_queue(QueueUrl=url)


def build_state(setup: Setup, versions: list[Version]) -> list[dict[str, Any]]:
    """Create every version, report and job; return the SageMaker events the emulator emitted for them."""
    for bucket in (REPORT_BUCKET, OUTSIDE_BUCKET, ARTIFACT_BUCKET):
        setup.s3.create_bucket(Bucket=bucket)
    for group in sorted({version.group for version in versions}):
        setup.sagemaker.create_model_package_group(ModelPackageGroupName=group)
    with _capture(setup) as captured:
        for version in versions:
            _register(setup, version)
            if version.kind == "human":
                # A person decides before registrar sees the version's (now stale) event.
                setup.sagemaker.update_model_package(
                    ModelPackageArn=version.arn, ModelApprovalStatus="Rejected", ApprovalDescription="by a human"
                )
            if version.group == "credit-risk":
                _evaluate(setup, version)
            for job in version.jobs:
                _compile(setup, version, job)
            for unbound in version.unbound:
                _unbound(setup, version, unbound)
    for event in captured:  # the processing jobs' ARNs, to know their outcomes by subject
        detail = event["detail"]
        for unbound in versions_unbound(versions):
            if detail.get("ProcessingJobName") == unbound.name:
                unbound.arn = str(detail.get("ProcessingJobArn"))
    return captured


def versions_unbound(versions: list[Version]) -> list[UnboundJob]:
    """Every unbound job of the burst."""
    return [job for version in versions for job in version.unbound]


@dataclass
class Entry:
    """One event of the burst: how it is published, and whether it must be handled or end in a DLQ.

    Attributes
    ----------
    request
        The PutEvents entry; or, with ``queue``, the EventBridge event itself.
    doomed
        Poison or blocked: it must fail on every receive and end in its flow's dead-letter queue.
    queue
        The flow whose queue it is sent to directly (an event no rule of this account routes), else ``None``.
    """

    request: dict[str, Any]
    doomed: bool = False
    queue: str | None = None


def compose_events(config: BurstConfig, plan: Plan, captured: list[dict[str, Any]]) -> tuple[list[Entry], BurstResult]:
    """The burst's events, shuffled: unique events, stale repeats, duplicates and forged events."""
    from registrar.bus import entry
    from registrar.events import MODEL_PACKAGE_STATE_CHANGE, CompilationJobStateChange, parse_timestamp

    versions = plan.versions
    rng = random.Random(config.seed + 1)
    result = BurstResult(config=config, versions=versions)
    creations = {
        e["detail"]["ModelPackageArn"]: e
        for e in captured
        if e["detail-type"] == "SageMaker Model Package State Change" and "UpdatedModelPackageFields" not in e["detail"]
    }
    processing = [e for e in captured if e["detail-type"] == "SageMaker Processing Job State Change"]
    blocked = {version.arn for version in versions if version.blocked}
    unbound = versions_unbound(versions)
    unbound_processing = {job.name for job in unbound if job.kind == "processing"}

    def sagemaker_entry(event: dict[str, Any]) -> Entry:
        request = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event.get("resources", []),
        }
        return Entry(request, doomed=event["detail"].get("ModelPackageArn") in blocked)

    unique = [sagemaker_entry(creations[version.arn]) for version in versions]
    unique += [sagemaker_entry(event) for event in processing]
    result.unbound_published = sum(1 for e in processing if e["detail"].get("ProcessingJobName") in unbound_processing)
    churn = [v for v in versions if v.group.startswith("churn-")]
    for version in rng.sample(churn, min(plan.stale, len(churn))):
        # An older event for the same version: it names the same version, read back whatever time it claims,
        # and must change nothing more.
        event = copy.deepcopy(creations[version.arn])
        modified = parse_timestamp(event["detail"]["LastModifiedTime"])
        if modified is not None:
            event["detail"]["LastModifiedTime"] = (modified - timedelta(seconds=1)).isoformat()
        unique.append(sagemaker_entry(event))
        result.stale_published += 1
    jobs: list[Job] = []
    for version in versions:
        for job in version.jobs:
            detail = CompilationJobStateChange(
                CompilationJobName=job.name,
                CompilationJobArn=job.arn,
                CompilationJobStatus="FAILED" if job.fail else "COMPLETED",
                LastModifiedTime=job.end_time,
            )
            unique.append(Entry(entry(detail)))
            result.compilation_events += 1
            jobs.append(job)
        ends = [str(job.end_time)[:19] for job in version.jobs]
        result.same_second_pairs += sum(1 for a, b in itertools.pairwise(ends) if a == b)
    for tagged in unbound:
        if tagged.kind == "compilation":
            detail = CompilationJobStateChange(
                CompilationJobName=tagged.name,
                CompilationJobArn=tagged.arn,
                CompilationJobStatus="COMPLETED",
                LastModifiedTime=tagged.end_time,
            )
            unique.append(Entry(entry(detail)))
            result.compilation_events += 1
            result.unbound_published += 1
    result.unbound_jobs = len(unbound)
    duplicates = [copy.deepcopy(rng.choice(unique)) for _ in range(config.events - plan.forged - len(unique))]
    forged = forged_events(rng, plan.forged, jobs, list(creations.values()))
    entries = unique + duplicates + forged
    rng.shuffle(entries)
    result.unique_events = len(unique)
    result.duplicates_published = len(duplicates)
    result.job_duplicates_published = sum(
        1 for d in duplicates if d.request["DetailType"] != MODEL_PACKAGE_STATE_CHANGE
    )
    result.forged_published = len(forged)
    result.foreign_published = sum(1 for f in forged if f.queue is not None)
    return entries, result


def forged_events(rng: random.Random, count: int, jobs: list[Job], creations: list[dict[str, Any]]) -> list[Entry]:
    """``count`` forged events: two thirds decoys, a third events of another account.

    A decoy is a ``Compilation Job State Change`` naming another job (or one that does not exist) with a
    real job's ARN and time: acted on by name and deduplicated by ARN, it would hide the real job's event.
    An event of another account is a real event, model package or compilation, rewritten as that
    account's: the deployed rules do not route it, so it is sent to the flow's queue directly.
    """
    forged: list[Entry] = []
    for n in range(count):
        if n % 3 != 2:
            real = rng.choice(jobs)
            other = rng.choice([job for job in jobs if job.name != real.name] or [real])
            name = other.name if n % 2 == 0 else f"decoy-{n}"
            detail = {
                "CompilationJobName": name,
                "CompilationJobArn": real.arn,
                "CompilationJobStatus": "FAILED" if real.fail else "COMPLETED",
                "LastModifiedTime": real.end_time.isoformat(),
            }
            request = {
                "Source": "registrar",
                "DetailType": "Compilation Job State Change",
                "Detail": json.dumps(detail),
                "Resources": [real.arn],
            }
            forged.append(Entry(request, doomed=True))
            continue
        if n % 2 == 0:
            event = copy.deepcopy(rng.choice(creations))
            flow = "approval"
        else:
            job = rng.choice(jobs)
            detail = {
                "CompilationJobName": job.name,
                "CompilationJobArn": job.arn,
                "CompilationJobStatus": "FAILED" if job.fail else "COMPLETED",
                "LastModifiedTime": job.end_time.isoformat(),
            }
            event = {"detail-type": "Compilation Job State Change", "source": "registrar", "detail": detail}
            flow = "neo"
        foreign = json.loads(json.dumps(event).replace(":123456789012:", f":{OTHER_ACCOUNT}:"))
        foreign.update(
            {
                "version": "0",
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "account": OTHER_ACCOUNT,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": event.get("region", "us-east-1"),
                "resources": [],
            }
        )
        forged.append(Entry(foreign, doomed=True, queue=flow))
    return forged


def publish(setup: Setup, entries: list[Entry], topology: Any) -> tuple[set[str], set[str]]:
    """PutEvents, ten at a time, and the events no rule routes straight to their queues.

    Returns the ids of the events published, and those of the ones that must end in a dead-letter queue.
    """
    ids: set[str] = set()
    doomed: set[str] = set()
    bus = [entry for entry in entries if entry.queue is None]
    for start in range(0, len(bus), 10):
        batch = bus[start : start + 10]
        response = setup.events.put_events(Entries=[entry.request for entry in batch])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused entries: {response['Entries']}")
        for sent, answer in zip(batch, response["Entries"], strict=True):
            ids.add(answer["EventId"])
            if sent.doomed:
                doomed.add(answer["EventId"])
    for entry in entries:
        if entry.queue is not None:
            setup.sqs.send_message(
                QueueUrl=topology.flows[entry.queue].queue_url, MessageBody=json.dumps(entry.request)
            )
            ids.add(entry.request["id"])
            doomed.add(entry.request["id"])
    return ids, doomed


# Running ------------------------------------------------------------------------------------------------


def _environment(endpoint: str, region: str, table: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "burst",
        "AWS_SECRET_ACCESS_KEY": "burst",
        "REGISTRAR_POLICY_FILE": str(POLICY_FILE),
        "REGISTRAR_TABLE_NAME": table,
        "REGISTRAR_EVENT_BUS_NAME": "default",
        "REGISTRAR_REPORT_LOCATIONS": f"s3://{REPORT_BUCKET}/evaluations/",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@contextlib.contextmanager
def _lambda_environment(variables: dict[str, str]) -> Iterator[None]:
    """The process configured as the deployed functions are, in a fresh container; everything put back afterwards."""
    from registrar import observability
    from registrar_dev.support import fresh_container

    saved = dict(os.environ)
    os.environ.update(variables)
    fresh_container()
    try:
        with quiet_logs(observability.logger.name):  # thousands of events: the report below says what happened
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        observability.metrics.clear_metrics()  # disabled metrics are kept, not flushed: drop the burst's
        fresh_container()


@dataclass(frozen=True)
class Handled:
    """One outcome a function logged, and the subject it was deduplicated on (``None``: settled before that)."""

    outcome: Any
    subject: str | None


# What a refusal may write: its own record on the version, nothing else (registrar.approval.decide.REFUSED_KEY,
# registrar.neo.service.REFUSED_KEY).
REFUSAL_RECORDS = frozenset({"registrar:refused", "registrar:neo:refused"})


def is_decision(outcome: Any) -> bool:
    """Whether the outcome carried a request deciding something: ``updated``, or an over-cap record that writes.

    The outcome is read back from its log line, which carries its request; a refusal's record is not a decision.
    """
    return outcome.request is not None and outcome.verdict != "Refused"


def is_refusal_or_nothing(outcome: Any) -> bool:
    """Whether an unbound job's outcome changed nothing but, at most, the record of its refusal."""
    request = outcome.request
    if request is None:
        return outcome.outcome != "updated"
    written = {key for key in request if key not in ("ModelPackageArn", "ClientToken")}
    return (
        outcome.verdict == "Refused"
        and written == {"CustomerMetadataProperties"}
        and set(request["CustomerMetadataProperties"]) <= REFUSAL_RECORDS
    )


class _Ledger:
    """What crossed the Lambda boundary and the botocore boundary, counted from threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: Counter[str] = Counter()
        self.succeeded: set[str] = set()
        self.outcomes: list[Handled] = []
        self.invocation = threading.local()
        self.suppressed = 0
        self.update_calls = 0
        self.outside_reads = 0
        self.busy = 0

    def call(self, service: str, operation: str, params: dict[str, Any]) -> None:
        with self.lock:
            if operation == "UpdateModelPackage":
                self.update_calls += 1
            if service == "s3" and params.get("Bucket") == OUTSIDE_BUCKET:
                self.outside_reads += 1

    def outcome(self, outcome: Any, subject: str | None) -> None:
        with self.lock:
            self.outcomes.append(Handled(outcome, subject))
        # Logged in the worker's thread, inside the invocation handling the record.
        if getattr(self.invocation, "logged", None) is not None:
            self.invocation.logged += 1

    def answered(self, succeeded: int, logged: int) -> None:
        """Count an invocation's records answered from the idempotency store.

        A record logs at most one outcome, and none when Powertools answers it from a stored result;
        ``succeeded - logged`` is exact when no record failed, and a lower bound otherwise.
        """
        with self.lock:
            self.suppressed += max(0, succeeded - logged)


def _handler(lambda_handler: Any, ledger: _Ledger) -> Any:
    """The deployed handler as an event source mapping calls it, with the burst's bookkeeping around it."""

    def handle(event: dict[str, Any], context: Any) -> Any:
        ids = {record["messageId"]: json.loads(record["body"]).get("id", "") for record in event["Records"]}
        with ledger.lock:
            ledger.busy += 1
            for event_id in ids.values():
                ledger.deliveries[event_id] += 1
        ledger.invocation.logged = 0
        try:
            response = lambda_handler(event, context) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            if context.expired():  # the runner fails the whole batch, as Lambda would at its timeout
                failed = set(ids)
            ledger.answered(len(ids) - len(failed), ledger.invocation.logged)
        except Exception:
            failed = set(ids)
            raise
        finally:
            ledger.invocation.logged = None
            with ledger.lock:
                ledger.succeeded.update(event_id for message_id, event_id in ids.items() if message_id not in failed)
                ledger.busy -= 1
        return response

    return handle


def _drain(config: BurstConfig, topology: Any, sqs: Any, ledger: _Ledger) -> float:
    """Run the workers until every queue is empty and nothing is in flight; returns the seconds it took."""
    from handlers import approval, neo_registration
    from registrar_cli.queues import Queue
    from registrar_dev.runner import LocalEventSourceMapping

    flows = (("approval", approval.handler), ("neo", neo_registration.handler))
    queues = {name: Queue(url=topology.flows[name].queue_url, client=sqs) for name, _ in flows}
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        mappings = [
            LocalEventSourceMapping(
                queue=queues[name],
                queue_arn=topology.flows[name].queue_arn,
                handler=_handler(handler, ledger),
                function_name=f"registrar-{name}",
                batch_size=config.batch_size,
                # Lambda's remaining time bounds Powertools' in-progress records, and an invocation that
                # outlives it fails its batch; the deployed visibility timeout is 6 x the function timeout,
                # and the local one may not be shorter: the function timeout is the visibility timeout here.
                timeout_seconds=config.visibility_timeout,
            )
            for name, handler in flows
        ]
        try:
            while not stop.is_set():
                if sum(mapping.poll_once() for mapping in mappings) == 0:
                    time.sleep(0.05)
        except BaseException as error:  # a broken runner must not look like a quiet queue
            errors.append(error)
            stop.set()

    started = time.monotonic()
    threads = [threading.Thread(target=work, name=f"burst-worker-{n}", daemon=True) for n in range(config.workers)]
    for thread in threads:
        thread.start()
    quiet = 0
    while time.monotonic() - started < config.timeout and not stop.is_set():
        time.sleep(0.25)
        pending = sum(sum(queue.depth()) for queue in queues.values())
        with ledger.lock:
            busy = ledger.busy
        quiet = quiet + 1 if pending == 0 and busy == 0 else 0
        if quiet >= 3:
            break
    seconds = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("a burst worker failed") from errors[0]
    return seconds


def _dead_letters(setup: Setup, topology: Any) -> dict[str, str]:
    """Every message of the dead-letter queues, emptied: event id -> what the event is about."""
    dead: dict[str, str] = {}
    for flow in topology.flows.values():
        for url in (flow.dead_letter_url, flow.rule_dead_letter_url):
            while messages := setup.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    event = json.loads(message["Body"])
                    detail = event.get("detail") or {}
                    named = next((str(detail[key]) for key in _NAMES if detail.get(key)), "?")
                    dead[event.get("id", message["MessageId"])] = f"{event.get('detail-type')} {named}"
                setup.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
    return dead


_NAMES = ("ModelPackageArn", "ProcessingJobName", "CompilationJobName")


def check_versions(setup: Setup, versions: list[Version], outcomes: list[Handled]) -> list[str]:
    """Every way a version's final state differs from what the policy and its jobs demand."""
    from registrar.neo.spec import specification_name

    # A compilation's subject is "<job ARN>|<status>|<time>" (registrar.neo.service.Target.subject).
    over_cap = {str(h.subject).split("|")[0] for h in outcomes if h.outcome.verdict == "OverCap"}
    wrong: list[str] = []
    for version in versions:
        described = setup.describe(version.arn)
        status = described.get("ModelApprovalStatus")
        where = f"{version.label} ({version.group}, {version.kind})"
        if status != version.expected_status:
            wrong.append(f"{where}: {status}, expected {version.expected_status}")
        description = str(described.get("ApprovalDescription", ""))
        if version.verdict is not None and not description.startswith(f"registrar: {version.verdict}"):
            wrong.append(f"{where}: description {description[:40]!r}, expected registrar's {version.verdict}")
        if version.verdict is None and description.startswith("registrar:"):
            wrong.append(f"{where}: registrar wrote a description on a version it must not decide")
        specs = [spec["Name"] for spec in described.get("AdditionalInferenceSpecifications", [])]
        if len(specs) != len(set(specs)):
            wrong.append(f"{where}: a specification is attached twice")
        expected = {specification_name(job.name, job.target): job for job in version.jobs if job.hostable}
        if version.capped:
            if len(specs) != 15 or not set(specs) <= set(expected):
                wrong.append(f"{where}: {len(specs)} specifications, expected its jobs' 15")
            unaccounted = [job.name for name, job in expected.items() if name not in specs and job.arn not in over_cap]
            if unaccounted:
                wrong.append(f"{where}: jobs neither attached nor reported over the cap: {unaccounted}")
        elif set(specs) != set(expected):
            wrong.append(f"{where}: specifications {sorted(specs)}, expected {sorted(expected)}")
        metadata = described.get("CustomerMetadataProperties", {})
        for job in version.jobs:
            if not job.hostable and f"registrar:neo:{job.target}" not in metadata:
                wrong.append(f"{where}: {job.name} ({job.target}) is not recorded")
        # A refused job's reason is on its version: always a compilation's; an evaluation's when it came while
        # the version was still to be decided (a decided one is left as it is, unread).
        compilations = [job.name for job in version.unbound if job.kind == "compilation"]
        if compilations and not any(
            str(metadata.get("registrar:neo:refused", "")).startswith(f"refused {name}:") for name in compilations
        ):
            wrong.append(f"{where}: no refusal of {compilations} recorded")
        evaluations = {job.arn for job in version.unbound if job.kind == "processing"}
        refused = any(str(h.subject).split("|")[0] in evaluations and h.outcome.verdict == "Refused" for h in outcomes)
        if refused and "registrar:refused" not in metadata:
            wrong.append(f"{where}: an evaluation was refused, but no refusal is recorded")
    return wrong


def run_burst(config: BurstConfig, endpoint: str, region: str = "us-east-1") -> BurstResult:
    """Run one burst against the emulator at ``endpoint`` (reset it first); see the module docstring."""
    from registrar import aws
    from registrar_dev.faults import DEFAULT_SERVICES, FaultInjector
    from registrar_dev.outcomes import listening
    from registrar_dev.support import fresh_container
    from registrar_dev.topology import IDEMPOTENCY_TABLE, build_topology

    plan = plan_versions(config)
    versions = plan.versions
    setup = Setup(endpoint, region)
    captured = build_state(setup, versions)
    entries, result = compose_events(config, plan, captured)
    ledger = _Ledger()
    with _lambda_environment(_environment(endpoint, region, IDEMPOTENCY_TABLE)):
        topology = build_topology(
            endpoint_url=endpoint,
            region=region,
            visibility_timeout=config.visibility_timeout,
            function_timeout=config.visibility_timeout,
        )
        for flow in topology.flows.values():
            dead_letter_arn = setup.sqs.get_queue_attributes(
                QueueUrl=flow.dead_letter_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            policy = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(config.max_receive_count)}
            setup.sqs.set_queue_attributes(QueueUrl=flow.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})
        decisions_queue = _subscribe_to_decisions(setup)
        fresh_container()  # registrar's clients (and flows) are built afresh, with the injector's hooks
        weights: Any = config.weights
        injector = FaultInjector(
            rate=config.faults,
            weights=weights,
            seed=config.seed,
            keep_requests=("UpdateModelPackage",),
            services=DEFAULT_SERVICES | {"eventbridge"},  # PutEvents of the decisions fails too
        ).install()
        # One fault of every kind is scripted first: which calls the random ones strike depends on how the
        # workers' threads interleave, so a rare kind (a conflict strikes UpdateModelPackage only) may be missed.
        for kind in injector.weights:
            injector.fail_next(kind, operation="UpdateModelPackage" if kind == "conflict" else None)
        aws.observe_calls(ledger.call)
        try:
            with listening(ledger.outcome):
                published, doomed = publish(setup, entries, topology)
                result.seconds = _drain(config, topology, setup.sqs, ledger)
        finally:
            injector.uninstall()
        result.leftover = sum(
            sum(
                int(v)
                for v in setup.sqs.get_queue_attributes(
                    QueueUrl=flow.queue_url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"].values()
            )
            for flow in topology.flows.values()
        )
        dead = _dead_letters(setup, topology)
    result.published = len(entries)
    result.dead_lettered = len(dead)
    result.expected_dead = len(doomed)
    result.unexpected_dead = sorted(
        f"{event} ({dead[event]}, {ledger.deliveries[event]} deliveries)" for event in set(dead) - doomed
    )
    result.doomed_but_handled = sorted(doomed & ledger.succeeded)
    result.handled_published = len(ledger.succeeded & published)
    result.handled_echoes = len(ledger.succeeded - published)
    result.lost = sorted(published - ledger.succeeded - set(dead))
    result.deliveries = sum(ledger.deliveries.values())
    result.redeliveries = sum(n - 1 for n in ledger.deliveries.values() if n > 1)
    outcomes = [handled.outcome for handled in ledger.outcomes]
    result.duplicates_suppressed = ledger.suppressed
    result.outcomes = Counter(o.outcome for o in outcomes)
    result.decisions = sum(1 for o in outcomes if is_decision(o))
    blocked = {version.arn for version in versions if version.blocked}
    result.holds_before_failure = sum(
        1
        for _, request in injector.stats.requests
        if request.get("ModelPackageArn") in blocked
        and str(request.get("ApprovalDescription", "")).startswith("registrar: Held")
    )
    result.writes = sum(1 for o in outcomes if o.request is not None) + result.holds_before_failure
    unbound = {job.arn: job for job in versions_unbound(versions)}
    unbound_outcomes = [h for h in ledger.outcomes if str(h.subject).split("|")[0] in unbound]
    result.refusals = sum(1 for h in unbound_outcomes if h.outcome.verdict == "Refused")
    result.unbound_writes = [
        f"{str(h.subject).split('|')[0]}: {h.outcome.outcome} {h.outcome.verdict} {h.outcome.request}"
        for h in unbound_outcomes
        if not is_refusal_or_nothing(h.outcome)
    ]
    result.verdicts = Counter(o.verdict for o in outcomes if o.verdict and o.outcome == "updated")
    result.replans = sum(1 for o in outcomes if any("re-planned" in r for r in o.reasons))
    result.over_cap_jobs = len({h.subject for h in ledger.outcomes if h.outcome.verdict == "OverCap"})
    result.update_calls = ledger.update_calls
    result.update_calls_succeeded = injector.stats.succeeded["sagemaker.UpdateModelPackage"]
    confirmed = {str(request.get("ClientToken")) for _, request in injector.stats.requests}
    applied = _applied_updates(region)
    result.distinct_tokens = len(confirmed)
    result.applied_on_service = len(applied)
    result.unconfirmed = len(set(applied) - confirmed)
    result.lost_answers = injector.stats.injected_into("UpdateModelPackage", "read_timeout")
    decisions_per_version = Counter(arn for arn, request in applied.values() if request.get("ApprovalDescription"))
    result.decided_twice = sorted(arn for arn, n in decisions_per_version.items() if n > 1)
    result.outside_reads = ledger.outside_reads
    result.faults_by_kind = injector.stats.by_kind()
    result.botocore_retries = injector.stats.retries
    received = Counter(_received_decisions(setup, decisions_queue))
    result.decision_events = sum(received.values())
    result.decisions_unannounced = sorted(set(applied) - set(received))
    result.decisions_doubled = sorted(token for token, n in received.items() if n > 1)
    result.decision_copies = sum(n - 1 for n in received.values())
    result.decisions_unwritten = sorted(set(received) - set(applied))
    result.publish_faults = injector.stats.injected_into("PutEvents")
    result.publish_lost_answers = injector.stats.injected_into("PutEvents", "read_timeout")
    result.wrong = check_versions(setup, versions, ledger.outcomes)
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _subscribe_to_decisions(setup: Setup) -> str:
    """A rule for every Registrar Decision into a queue of its own, as a subscriber would; returns its URL."""
    from registrar.decisions.contract import DECISION_PATTERN
    from registrar.patterns import for_account
    from registrar_dev.support import ACCOUNT

    queue_url: str = setup.sqs.create_queue(QueueName="burst-decisions")["QueueUrl"]
    arn = setup.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    setup.events.put_rule(Name="burst-decisions", EventPattern=json.dumps(for_account(DECISION_PATTERN, ACCOUNT)))
    setup.events.put_targets(Rule="burst-decisions", Targets=[{"Id": "subscriber", "Arn": arn}])
    return queue_url


def _received_decisions(setup: Setup, queue_url: str) -> list[str]:
    """The ``decision_id`` of every Registrar Decision the subscriber's queue received (read until empty)."""
    ids: list[str] = []
    empty = 0
    while empty < 3:  # three empty looks: moto counts visible and in-flight messages a moment apart
        messages = setup.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            ids.append(json.loads(message["Body"])["detail"]["decision_id"])
            setup.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return ids


def _applied_updates(region: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """ClientToken -> (package ARN, request) of every UpdateModelPackage the emulator applied.

    A token seen again is not applied again (``registrar_dev.emulator.sagemaker``, fix 5): this is what
    SageMaker actually changed, whatever the client saw of it.
    """
    from moto.sagemaker.models import sagemaker_backends

    from registrar_dev.emulator import ACCOUNT_ID

    backend: Any = sagemaker_backends[ACCOUNT_ID][region]  # the emulator's backend class (moto's stubs know moto's)
    tokens = backend.update_model_package_tokens
    return {token: (arn, json.loads(fingerprint)) for token, (fingerprint, arn) in tokens.items()}


def _mix(text: str) -> dict[str, float]:
    from registrar_dev.faults import FAULT_KINDS

    weights: dict[str, float] = {}
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(f"unknown fault kind {kind.strip()!r}; known: {', '.join(FAULT_KINDS)}")
        weights[kind.strip()] = float(weight or 1)
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n\n")[0])
    defaults = BurstConfig()
    parser.add_argument("--events", type=int, default=defaults.events)
    parser.add_argument("--duplicates", type=float, default=defaults.duplicates)
    parser.add_argument("--faults", type=float, default=defaults.faults)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--mix",
        type=_mix,
        default=None,
        metavar="KIND=WEIGHT,...",
        help="relative weight of each fault kind (default: throttling, server_error, read_timeout, "
        "connection_error and conflict alike; conflict strikes UpdateModelPackage only)",
    )
    args = parser.parse_args(argv)
    config = BurstConfig(
        events=args.events,
        duplicates=args.duplicates,
        faults=args.faults,
        workers=args.workers,
        seed=args.seed,
        weights=args.mix if args.mix is not None else DEFAULT_MIX,
    )
    warnings.filterwarnings("ignore", message="No application metrics to publish")  # metrics are off here
    from registrar_dev.emulator import start

    print(f"registrar burst: registering versions and publishing {config.events} events…", file=sys.stderr)
    with start() as emulator, contextlib.redirect_stdout(io.StringIO()):  # Powertools prints EMF on stdout
        result = run_burst(config, emulator.endpoint, emulator.region)
    for line in result.lines():
        print(line)
    problems = result.problems()
    for problem in problems[:20]:
        print(f"  ✘ {problem}")
    print("every event accounted for, every version where its policy says ✔" if not problems else "burst FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
