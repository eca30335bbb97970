"""AWS calls per event, counted at the botocore level, for every sample under ``events/`` and for a sweep.

Each sample goes through its Lambda handler as the approval or Neo queue delivers it (an SQS batch of
one record, with the idempotency table) against the embedded emulator holding the state its README
documents; :func:`registrar.aws.observe_calls` counts every call registrar's clients make (botocore's
``before-parameter-build``: once per API call, retries not counted again), and each outcome is read from
the ``event handled`` line the handler logs (:func:`registrar_dev.outcomes.listening`). The approval
samples share one state and run in file order after ``passing``, so ``duplicate`` arrives after
``passing`` was applied; each Neo sample runs alone on a fresh state (``failed`` after
``completed-ml-c5`` is shown too: the same record key, so one more DescribeCompilationJob decides which
record is newer).

A duplicate is deduplicated on its subject, the target as read back from AWS: it costs the reads that
resolve it and writes nothing. ``duplicate`` (of ``passing``) reads its version once, finds it changed by
registrar's own write (a new subject) and decided (``unchanged``); a job's event delivered again (``... again``)
reads its job, and its version, and is answered by the idempotency store.

The sweep lists 1,000 finished compilation jobs of which 10 are new, through registrar's Registry and
EventBus on botocore clients whose HTTP layer is answered in memory (``before-send``), so what is
counted is the requests botocore would send: the ListCompilationJobs pages, and PutEvents.

Run alone with ``python -m bench.calls``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import (
    POLICY_FILE,
    REGION,
    Figure,
    aws_environment,
    environment,
    exit_status,
    quiet,
    report,
    sqs_batch,
)
from bench.state import Clients, build_approval_state, build_neo_state, sample
from registrar_dev.support import APPROVAL_SAMPLES, NEO_SAMPLES

TABLE = "registrar-bench-calls"
IDEMPOTENCY = ("dynamodb",)

# What each sample may call, besides the idempotency store (the budgets, and for the samples it does
# not name, the calls registrar.approval.service.ApprovalFlow and registrar.neo.service.NeoFlow document).
_PASSING = ("sagemaker:DescribeModelPackage", "s3:GetObject", "sagemaker:UpdateModelPackage")
# What resolving an event reads (its subject is read back from AWS): a package event, a job's, a compilation's.
_PACKAGE_READ = ("sagemaker:DescribeModelPackage",)
_JOB = ("sagemaker:DescribeProcessingJob", "sagemaker:ListTags", "sagemaker:DescribeModelPackage")
_NEO_READ = ("sagemaker:DescribeCompilationJob", "sagemaker:DescribeModelPackage")
_NEO = (*_NEO_READ, "sagemaker:UpdateModelPackage")
ALLOWED: dict[str, tuple[str, ...]] = {
    "approval/passing": _PASSING,
    "approval/failing": _PASSING,
    "approval/missing-report": _PASSING,
    "approval/nan-metric": _PASSING,
    "approval/human-decided": _PACKAGE_READ,
    "approval/unmatched-group": _PACKAGE_READ,
    # A duplicate: the resolve step's reads, no write.
    "approval/duplicate": _PACKAGE_READ,
    "approval/processing-completed": (*_JOB, "s3:GetObject", "sagemaker:UpdateModelPackage"),
    "approval/failed-job": (*_JOB, "sagemaker:UpdateModelPackage"),
    "approval/processing-completed again": _JOB,
    "neo/completed-ml-c5": _NEO,
    "neo/completed-ml-c5 again": _NEO_READ,
    "neo/completed-ml-inf2": (*_NEO, "sagemaker:ListTags"),
    "neo/edge-jetson-nano": (*_NEO, "sagemaker:ListTags"),
    "neo/failed": _NEO,
    "neo/unlinked": ("sagemaker:DescribeCompilationJob", "sagemaker:ListTags"),
}
# events/*/README.md: the outcome each sample has against its documented state.
EXPECTED = {
    "approval/passing": "updated",
    "approval/failing": "updated",
    "approval/missing-report": "updated",
    "approval/nan-metric": "updated",
    "approval/human-decided": "skipped",
    "approval/unmatched-group": "skipped",
    "approval/duplicate": "unchanged",
    "approval/processing-completed": "updated",
    "approval/failed-job": "updated",
    "approval/processing-completed again": "deduplicated",
    "neo/completed-ml-c5": "updated",
    "neo/completed-ml-c5 again": "deduplicated",
    "neo/completed-ml-inf2": "updated",
    "neo/edge-jetson-nano": "updated",
    "neo/failed": "updated",
    "neo/unlinked": "skipped",
}

SWEEP_JOBS = 1_000
SWEEP_NEW = {"COMPLETED": 8, "FAILED": 1, "STOPPED": 1}
PAGE_SIZE = 100


@dataclass
class Case:
    """What handling one sample called."""

    name: str
    outcome: str
    calls: Counter[str]

    @property
    def own(self) -> Counter[str]:
        """The calls other than the idempotency store's."""
        return Counter({key: n for key, n in self.calls.items() if key.split(":")[0] not in IDEMPOTENCY})

    @property
    def store(self) -> Counter[str]:
        """The idempotency store's calls."""
        return Counter({key: n for key, n in self.calls.items() if key.split(":")[0] in IDEMPOTENCY})


def _listing(calls: Counter[str]) -> str:
    if not calls:
        return "none"
    return ", ".join(f"{key.split(':')[1]}{f' x{n}' if n > 1 else ''}" for key, n in calls.items())


class _Context:
    function_name = "registrar-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:registrar-bench"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/registrar-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@contextlib.contextmanager
def lambda_environment(endpoint: str, table: str) -> Iterator[None]:
    """The handlers' environment pointed at the emulator, output swallowed; a fresh Lambda container.

    Everything registrar caches per process (settings, flows, clients) is forgotten on entry and on
    exit, so nothing built here outlives the block. The log lines are swallowed by quieting the
    logger's handlers (:func:`bench.common.quiet`), not its level: the outcomes are read from them.
    """
    variables = {
        **aws_environment(endpoint),
        "REGISTRAR_POLICY_FILE": str(POLICY_FILE),
        "REGISTRAR_TABLE_NAME": table,
        "POWERTOOLS_SERVICE_NAME": "registrar",
        "POWERTOOLS_METRICS_NAMESPACE": "registrar",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with environment(variables), quiet():
        _forget()
        try:
            yield
        finally:
            _forget()


def _forget() -> None:
    from registrar_dev.support import fresh_container

    fresh_container()


class _Recorder:
    """Counts registrar's calls (``observe_calls``) and the outcomes its handlers log, inside its block."""

    def __init__(self) -> None:
        from registrar import aws

        self.calls: Counter[str] = Counter()
        self.outcomes: list[str] = []
        aws.observe_calls(self._call)

    def __enter__(self) -> _Recorder:
        from registrar_dev.outcomes import listening

        self._listening = listening(self._outcome)
        self._listening.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._listening.__exit__(None, None, None)

    def _call(self, service: str, operation: str, params: dict[str, Any]) -> None:
        self.calls[f"{service}:{operation}"] += 1

    def _outcome(self, outcome: Any, subject: str | None) -> None:
        self.outcomes.append(str(outcome.outcome))

    def handle(self, name: str, handler: Any, event: dict[str, Any]) -> Case:
        """Deliver ``event`` to ``handler`` in an SQS batch of one; what it called and its outcome."""
        self.calls.clear()
        self.outcomes.clear()
        response = handler(sqs_batch([event]), _Context())
        if response.get("batchItemFailures"):
            raise RuntimeError(f"{name}: the handler failed the record: {response}")
        outcome = self.outcomes[0] if self.outcomes else "deduplicated"
        return Case(name=name, outcome=outcome, calls=Counter(self.calls))


def event_cases(endpoint: str, emulator: Any) -> list[Case]:
    """Every sample through its handler against its documented state; raises when an outcome is not the README's."""
    cases: list[Case] = []
    with lambda_environment(endpoint, TABLE):
        from handlers import approval, neo_registration

        emulator.reset()
        clients = Clients(endpoint)
        build_approval_state(clients)
        clients.table(TABLE)
        with _Recorder() as recorder:
            for name in APPROVAL_SAMPLES:
                cases.append(recorder.handle(f"approval/{name}", approval.handler, sample("approval", name)))
            again = "processing-completed"
            cases.append(recorder.handle(f"approval/{again} again", approval.handler, sample("approval", again)))
        for name in (*NEO_SAMPLES, "completed-ml-c5+failed", "completed-ml-c5 again"):
            emulator.reset()
            _forget()
            clients = Clients(endpoint)
            build_neo_state(clients)
            clients.table(TABLE)
            with _Recorder() as recorder:
                if name == "completed-ml-c5+failed":
                    recorder.handle("neo/completed-ml-c5", neo_registration.handler, sample("neo", "completed-ml-c5"))
                    case = recorder.handle(name, neo_registration.handler, sample("neo", "failed"))
                    cases.append(Case(name="neo/failed after completed-ml-c5", outcome=case.outcome, calls=case.calls))
                elif name == "completed-ml-c5 again":
                    recorder.handle("neo/completed-ml-c5", neo_registration.handler, sample("neo", "completed-ml-c5"))
                    cases.append(
                        recorder.handle(f"neo/{name}", neo_registration.handler, sample("neo", "completed-ml-c5"))
                    )
                else:
                    cases.append(recorder.handle(f"neo/{name}", neo_registration.handler, sample("neo", name)))
    for case in cases:
        expected = EXPECTED.get(case.name)
        if expected is not None and case.outcome != expected:
            raise RuntimeError(f"{case.name}: outcome {case.outcome}, events/ README says {expected}")
    return cases


# The sweep --------------------------------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


class InMemoryNeo:
    """Compilation jobs and a bus answered in memory at botocore's HTTP layer (``before-send``).

    ListCompilationJobs filters (``StatusEquals``, ``LastModifiedTimeAfter``), sorts by CreationTime
    and pages (``MaxResults``, ``NextToken``) as the service does; PutEvents accepts every entry.

    Parameters
    ----------
    jobs
        Job summaries: name, status, creation and last modification times.
    """

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.calls: Counter[str] = Counter()
        self.listed = 0

    def client(self, service: str) -> Any:
        """A botocore client of ``service`` whose requests never leave the process."""
        import botocore.session

        client = botocore.session.Session().create_client(
            service, region_name=REGION, aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        client.meta.events.register("before-call", self._count)
        client.meta.events.register("before-send", self._answer)
        return client

    def _count(self, model: Any, **_kwargs: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def _answer(self, request: Any, **_kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        target = request.headers["X-Amz-Target"].decode().split(".")[-1]
        body = json.loads(request.body or b"{}")
        answer = self._list(body) if target == "ListCompilationJobs" else self._put_events(body)
        payload = json.dumps(answer).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, 200, headers, _Raw(payload))

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        after = float(body.get("LastModifiedTimeAfter", 0))
        matching = sorted(
            (
                job
                for job in self.jobs
                if job["CompilationJobStatus"] == body.get("StatusEquals") and job["LastModifiedTime"] > after
            ),
            key=lambda job: (job["CreationTime"], job["CompilationJobName"]),
        )
        start = int(body.get("NextToken", 0))
        size = int(body.get("MaxResults", PAGE_SIZE))
        page = matching[start : start + size]
        self.listed += len(page)
        answer: dict[str, Any] = {"CompilationJobSummaries": page}
        if start + size < len(matching):
            answer["NextToken"] = str(start + size)
        return answer

    @staticmethod
    def _put_events(body: dict[str, Any]) -> dict[str, Any]:
        entries = body.get("Entries", [])
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"event-{i}"} for i in range(len(entries))]}


def sweep_jobs(now: datetime, watermark: datetime) -> list[dict[str, Any]]:
    """1,000 finished jobs: the new ones (``SWEEP_NEW``) after ``watermark``, the rest hours before it."""
    jobs: list[dict[str, Any]] = []
    old = SWEEP_JOBS - sum(SWEEP_NEW.values())
    statuses = [status for status, n in SWEEP_NEW.items() for _ in range(n)]
    for index in range(SWEEP_JOBS):
        if index < old:
            modified = watermark - timedelta(hours=48) + timedelta(minutes=2 * index)
            status = ("COMPLETED", "COMPLETED", "FAILED", "STOPPED")[index % 4]
        else:
            modified = watermark + timedelta(seconds=20 * (index - old + 1))
            status = statuses[index - old]
        jobs.append(
            {
                "CompilationJobName": f"job-{index:04d}",
                "CompilationJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:compilation-job/job-{index:04d}",
                "CompilationJobStatus": status,
                "CompilationTargetDevice": "ml_c5",
                "CreationTime": (modified - timedelta(minutes=10)).timestamp(),
                "LastModifiedTime": modified.timestamp(),
            }
        )
    assert all(job["LastModifiedTime"] <= now.timestamp() for job in jobs)
    return jobs


def sweep_case() -> tuple[Figure, str]:
    """One sweep over 1,000 jobs, 10 of them new: the ListCompilationJobs pages it reads against those it needs."""
    from registrar.bus import EventBus
    from registrar.neo.sweep import DEFAULT_OVERLAP, sweep
    from registrar.registry import Registry
    from registrar.watermark import MemoryWatermark

    now = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    mark = now - timedelta(minutes=15)
    fake = InMemoryNeo(sweep_jobs(now, mark))
    result = sweep(
        registry=Registry(client=fake.client("sagemaker")),
        bus=EventBus(client=fake.client("events")),
        watermark=MemoryWatermark(mark),
        now=now,
        lookback=timedelta(hours=1),
    )
    new = sum(SWEEP_NEW.values())
    if result.published != new:
        raise RuntimeError(f"the sweep published {result.published} events, expected {new}")
    # One page per status at least (a status without new jobs still answers with an empty page).
    needed = sum(max(1, -(-n // PAGE_SIZE)) for n in SWEEP_NEW.values())
    pages = fake.calls["sagemaker:ListCompilationJobs"]
    figure = Figure(
        f"AWS calls, sweep of {SWEEP_JOBS:,} jobs ({new} new): list pages",
        pages,
        "calls",
        needed,
        detail=(
            f"{fake.listed} jobs listed, PutEvents x{fake.calls['events:PutEvents']}; watermark - "
            f"{int(DEFAULT_OVERLAP.total_seconds() // 60)} min overlap"
        ),
    )
    line = f"{'sweep (1,000 jobs, 10 new)':<38} {f'{result.published} sent':<13} {'-':<20} {_listing(fake.calls)}"
    return figure, line


def figures(cases: list[Case]) -> list[Figure]:
    """One figure per budgeted sample: its calls besides the idempotency store's, against the allowed calls."""
    result = []
    for case in cases:
        allowed = ALLOWED.get(case.name)
        if allowed is None:
            continue
        extra = case.own - Counter(allowed)
        made = sum(case.own.values())
        detail = f"NOT ALLOWED: {_listing(extra)}" if extra else ""
        result.append(
            Figure(
                f"AWS calls, {case.name}",
                made,
                "calls",
                len(allowed),
                detail=detail,
                passed=None if not extra else False,
            )
        )
    return result


def table(cases: list[Case]) -> list[str]:
    """The per-sample table printed above the figures."""
    lines = [f"{'sample':<38} {'outcome':<13} {'idempotency store':<20} SageMaker / S3 calls, in order"]
    for case in cases:
        lines.append(f"{case.name:<38} {case.outcome:<13} {_listing(case.store):<20} {_listing(case.own)}")
    return lines


def run(endpoint: str | None = None, emulator: Any = None) -> list[Figure]:
    """Count the calls of every sample (on the emulator at ``endpoint``, or a new one) and of a sweep."""
    if endpoint is None or emulator is None:
        from registrar_dev.emulator import start

        with start(emit_events=False) as started:
            return run(started.endpoint, started)
    cases = event_cases(endpoint, emulator)
    sweep_figure, sweep_line = sweep_case()
    result = [*figures(cases), sweep_figure]
    report("AWS calls per event (botocore level)", result, notes=[*table(cases), sweep_line, ""])
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.calls``: exit 1 when a sample calls more than its budget allows."""
    return exit_status(run())


if __name__ == "__main__":
    sys.exit(main())
