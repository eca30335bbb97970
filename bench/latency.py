"""Latency through the local topology: event published → package updated, for 200 passing evaluations.

An emulator runs in a process of its own (as AWS would be: not sharing this interpreter), with the
deployed flow built on it (``registrar_dev.topology``: the CDK app's rule patterns, the approval
queue with its DLQ, the idempotency table). A publisher thread registers 200 model versions with
passing reports at a steady rate; SageMaker (the emulator) publishes each one's ``Model Package State
Change`` on the bus as it is created, the rule routes it to the approval queue, and a runner thread
polls the queue as a Lambda event source mapping does (long polling, batches of up to 10, partial
batch failures) and invokes the approval handler. The latency of a version runs from just before its
CreateModelPackage call to the moment the handler's UpdateModelPackage returned (the ``event handled``
line it logs next, read by :func:`registrar_dev.outcomes.listening`). Five versions handled first warm
the handler up and are not counted.

The issue sets no budget for this figure; the budgets here are registrar's own: an event source
mapping that long-polls hands a record over at once, so a p95 near a second means events wait (a
batching window, a poll that sleeps, a handler that got slow).

Run alone with ``python -m bench.latency [--events N]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from typing import Any

from bench.common import (
    BUCKET,
    IMAGE,
    POLICY_FILE,
    REGION,
    REPORTS,
    Figure,
    aws_environment,
    environment,
    exit_status,
    median,
    percentile,
    quiet,
    report,
)

EVENTS = 200
WARM_UP = 5
INTERVAL_SECONDS = 0.1  # 10 registrations a second
GROUP = "churn-latency"
TIMEOUT_SECONDS = 120.0
BUDGET_P50_MS = 250
BUDGET_P95_MS = 1000


class Emulator:
    """``registrar_dev.emulator.serve`` in a child process; ``endpoint`` once it listens."""

    def __init__(self) -> None:
        code = "from registrar_dev.emulator import serve; serve('127.0.0.1', 0)"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("endpoint: "):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.endpoint = line.removeprefix("endpoint: ")

    def stop(self) -> None:
        """Stop the child (SIGTERM, as ``registrar emulator`` expects) and wait for it."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class Publisher:
    """Registers versions with passing reports through a botocore session of its own."""

    def __init__(self, endpoint: str) -> None:
        import botocore.session

        session = botocore.session.Session()
        options: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        self.sagemaker: Any = session.create_client("sagemaker", **options)
        self.s3: Any = session.create_client("s3", **options)
        self.published: dict[str, float] = {}

    def prepare(self, count: int) -> None:
        """The bucket, the group and one passing report per version to come (not timed)."""
        self.s3.create_bucket(Bucket=BUCKET)
        self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        body = (REPORTS / "passing.json").read_bytes()
        for index in range(count):
            self.s3.put_object(Bucket=BUCKET, Key=self.key(index), Body=body, ContentType="application/json")

    @staticmethod
    def key(index: int) -> str:
        """The report key of the ``index``-th version."""
        return f"{GROUP}/{index}/evaluation.json"

    def publish(self, index: int) -> str:
        """Register the ``index``-th version (SageMaker publishes its event); remember when."""
        started = time.perf_counter()
        arn = str(
            self.sagemaker.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/{GROUP}/model.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelMetrics={
                    "ModelQuality": {
                        "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{self.key(index)}"}
                    }
                },
            )["ModelPackageArn"]
        )
        self.published[arn] = started
        return arn


def measure(endpoint: str, events: int = EVENTS) -> list[float]:
    """Publish ``WARM_UP + events`` versions at a steady rate; the counted ones' latencies in seconds."""
    from registrar_dev.topology import IDEMPOTENCY_TABLE

    variables = {
        **aws_environment(endpoint),
        "REGISTRAR_POLICY_FILE": str(POLICY_FILE),
        "REGISTRAR_TABLE_NAME": IDEMPOTENCY_TABLE,
        "REGISTRAR_REPORT_LOCATIONS": f"s3://{BUCKET}/",
        "POWERTOOLS_SERVICE_NAME": "registrar",
        "POWERTOOLS_METRICS_NAMESPACE": "registrar",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    # Metric and log lines swallowed (the logger's handlers quieted, not its level: the outcomes are read from it).
    with environment(variables), quiet():
        from bench.calls import _forget

        _forget()
        from handlers import approval
        from registrar import aws
        from registrar_cli.queues import Queue
        from registrar_dev.outcomes import listening
        from registrar_dev.runner import LocalEventSourceMapping
        from registrar_dev.topology import build_topology

        topology = build_topology(endpoint_url=endpoint, region=REGION)
        flow = topology.flows["approval"]
        mapping = LocalEventSourceMapping(
            queue=Queue(url=flow.queue_url, client=aws.client("sqs")),
            queue_arn=flow.queue_arn,
            handler=approval.handler,
            function_name="registrar-approval",
            region=REGION,
        )
        publisher = Publisher(endpoint)
        publisher.prepare(WARM_UP + events)
        updated: dict[str, float] = {}
        done = threading.Event()

        def listen(outcome: Any, subject: str | None) -> None:
            if outcome.outcome == "updated" and outcome.model_package_arn:
                updated[outcome.model_package_arn] = time.perf_counter()
                if len(updated) >= WARM_UP + events:
                    done.set()

        def poll() -> None:
            while not done.is_set():
                mapping.poll_once(wait_seconds=1)

        runner = threading.Thread(target=poll, name="event-source-mapping", daemon=True)
        try:
            with listening(listen):
                runner.start()
                try:
                    warm = [publisher.publish(index) for index in range(WARM_UP)]
                    _wait(lambda: all(arn in updated for arn in warm), "the warm-up versions")
                    counted = []
                    next_at = time.perf_counter()
                    for index in range(WARM_UP, WARM_UP + events):
                        next_at += INTERVAL_SECONDS
                        counted.append(publisher.publish(index))
                        time.sleep(max(0.0, next_at - time.perf_counter()))
                    _wait(done.is_set, f"{events} versions")
                finally:
                    done.set()
                    runner.join(timeout=5)
        finally:
            _forget()
        if mapping.failed_records:
            raise RuntimeError(f"{mapping.failed_records} records failed")
        return [updated[arn] - publisher.published[arn] for arn in counted]


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} were not all updated within {TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.05)


def figures(latencies: list[float]) -> list[Figure]:
    """p50 and p95 of the latencies, in milliseconds."""
    milliseconds = [1000 * seconds for seconds in latencies]
    detail = f"{len(milliseconds)} events, one every {1000 * INTERVAL_SECONDS:.0f} ms, max {max(milliseconds):.0f} ms"
    return [
        Figure("latency published → updated, p50", median(milliseconds), "ms", BUDGET_P50_MS, detail=detail),
        Figure("latency published → updated, p95", percentile(milliseconds, 0.95), "ms", BUDGET_P95_MS),
    ]


def run(events: int = EVENTS) -> list[Figure]:
    """Start an emulator process, measure, stop it, and print the figures."""
    emulator = Emulator()
    try:
        result = figures(measure(emulator.endpoint, events))
    finally:
        emulator.stop()
    report("latency through the local topology (rule → queue → polling runner → handler)", result)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.latency``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS, help=f"versions counted ({EVENTS})")
    args = parser.parse_args(argv)
    return exit_status(run(args.events))


if __name__ == "__main__":
    sys.exit(main())
