"""Work per event: CPU time of parse → read → decide → validate → plan, with AWS replaced by in-memory fakes.

For every sample under ``events/``, the flow its detail-type is routed to (``registrar_cli.flows``: the
approval or the Neo flow) first handles the event once against the emulator holding the README's state,
in plan mode (nothing written), while the responses its botocore clients receive are recorded in call
order (``after-call``). The event is then handled again ``ITERATIONS`` times by the same code with
in-memory clients that replay those responses: the JSON event text is parsed and validated,
DescribeModelPackage (and the job, tags, report) are read into registrar's models, the policy is looked
up as the approval flow does on every event, the decision is made, the request is validated and planned.
Only the AWS round-trips and botocore's own serialisation are left out. The time is the measuring
thread's CPU time (``time.thread_time_ns``), so the emulator's threads in the same process do not count.

Run alone with ``python -m bench.work [--iterations N]``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    EVENTS,
    POLICY_FILE,
    Figure,
    aws_environment,
    environment,
    exit_status,
    median,
    percentile,
    report,
)
from bench.state import Clients, build_approval_state, build_neo_state
from registrar_dev.support import APPROVAL_SAMPLES, NEO_SAMPLES

ITERATIONS = 1_000
WARM_UP = 50
BUDGET_MS = 2.0


@dataclass
class Response:
    """One recorded botocore response: the parsed answer, or the error it raised."""

    service: str
    operation: str
    parsed: dict[str, Any]
    body: bytes | None = None
    error: bool = False


@dataclass
class Script:
    """The responses of one handling, replayed in order."""

    responses: list[Response] = field(default_factory=list)
    position: int = 0

    def next(self, service: str, method: str) -> Response:
        """The next response, which must be for ``service``'s ``method``."""
        from botocore import xform_name

        response = self.responses[self.position]
        if response.service != service or xform_name(response.operation) != method:
            raise AssertionError(f"replay expected {response.service}.{response.operation}, got {service}.{method}")
        self.position += 1
        return response


class _Body:
    """What a StreamingBody offers registrar: ``read(n)`` and ``close()``."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, amount: int | None = None) -> bytes:
        return self._stream.read(amount)

    def close(self) -> None:
        self._stream.close()


class _Exceptions:
    def __init__(self) -> None:
        from botocore.exceptions import ClientError

        self.ClientError = ClientError


class _Paginator:
    def __init__(self, client: ReplayClient, method: str) -> None:
        self._client = client
        self._method = method

    def paginate(self, **_kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._client.call(self._method)
            yield page
            if not page.get("NextToken"):
                return


class ReplayClient:
    """A stand-in for a botocore client of ``service`` that answers from a :class:`Script`.

    Parameters
    ----------
    service
        ``sagemaker`` or ``s3``.
    script
        The recorded responses, shared by every client of one handling.
    """

    def __init__(self, service: str, script: Script) -> None:
        self.service = service
        self.script = script
        self.exceptions = _Exceptions()

    def call(self, method: str) -> dict[str, Any]:
        """Answer ``method`` with the next recorded response (a copy), or raise its error."""
        response = self.script.next(self.service, method)
        if response.error:
            raise self.exceptions.ClientError(copy.deepcopy(response.parsed), response.operation)  # type: ignore[arg-type]
        parsed = copy.deepcopy(response.parsed)
        if response.body is not None:
            parsed["Body"] = _Body(response.body)
        return parsed

    def get_paginator(self, method: str) -> _Paginator:
        """A paginator over the recorded pages of ``method``."""
        return _Paginator(self, method)

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda **_kwargs: self.call(method)


def _recorder(script: Script) -> Callable[..., None]:
    def after_call(parsed: dict[str, Any], model: Any, http_response: Any, **_kwargs: Any) -> None:
        kept = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
        body = None
        if "Body" in kept:
            from botocore.response import StreamingBody

            body = kept.pop("Body").read()
            parsed["Body"] = StreamingBody(io.BytesIO(body), len(body))  # registrar still reads it while recording
        service = model.service_model.service_name
        error = http_response.status_code >= 300
        script.responses.append(Response(service, model.name, copy.deepcopy(kept), body, error))

    return after_call


@dataclass
class Case:
    """One sample: its event text, its recorded responses and the outcome recorded against the emulator."""

    name: str
    text: str
    script: Script
    outcome: str
    times_ns: list[int] = field(default_factory=list)


@dataclass
class Flows:
    """The approval and the Neo flow on the given clients; :meth:`handle` picks one by the event's detail-type."""

    approval: Any
    neo: Any

    def handle(self, raw: Any, *, apply: bool) -> Any:
        """Parse ``raw`` with its flow's parser and handle it with that flow (as ``registrar_cli.flows.handle``)."""
        from registrar.approval import service as approval
        from registrar.neo import service as neo
        from registrar_cli.flows import flow_name

        if flow_name(raw) == "neo":
            return self.neo.handle(neo.parse(raw), apply=apply)
        return self.approval.handle(approval.parse(raw), apply=apply)


def _flows(sagemaker: Any, s3: Any) -> Flows:
    from registrar import parameters
    from registrar.approval.service import ApprovalFlow
    from registrar.neo.service import NeoFlow
    from registrar.registry import Registry
    from registrar.reports import ReportStore
    from registrar.settings import Settings

    # The policy comes from the file as in a function: looked up on every event (kept while unchanged).
    settings = Settings(policy_file=str(POLICY_FILE), report_locations=["s3://registrar-demo-reports/"])
    registry = Registry(client=sagemaker)
    return Flows(
        approval=ApprovalFlow(
            registry=registry,
            reports=ReportStore(client=s3, allowed_locations=settings.report_locations),
            policy=functools.partial(parameters.load_policy, settings),
            managed_groups=tuple(settings.managed_groups),
        ),
        neo=NeoFlow(registry=registry, managed_groups=tuple(settings.managed_groups)),
    )


def record(
    endpoint: str, emulator: Any, family: str, names: tuple[str, ...], build: Callable[[Clients], None]
) -> list[Case]:
    """Handle each sample of ``family`` once against its documented state (plan mode), recording AWS's answers."""
    from registrar import aws

    emulator.reset()
    build(Clients(endpoint))
    cases = []
    for name in names:
        script = Script()
        sagemaker = aws.client("sagemaker", endpoint, "us-east-1")
        s3 = aws.client("s3", endpoint, "us-east-1")
        hooks = []
        for client in (sagemaker, s3):
            handler = _recorder(script)
            client.meta.events.register("after-call", handler)
            hooks.append((client, handler))
        text = (EVENTS / family / f"{name}.json").read_text()
        try:
            outcome = _flows(sagemaker, s3).handle(json.loads(text), apply=False)
        finally:
            for client, handler in hooks:
                client.meta.events.unregister("after-call", handler)
        cases.append(Case(name=f"{family}/{name}", text=text, script=script, outcome=outcome.outcome))
    return cases


def measure(cases: list[Case], iterations: int = ITERATIONS) -> None:
    """Handle each case ``iterations`` times against its replayed responses, timing each handling."""
    for case in cases:
        flows = _flows(ReplayClient("sagemaker", case.script), ReplayClient("s3", case.script))
        for index in range(WARM_UP + iterations):
            case.script.position = 0
            started = time.thread_time_ns()
            outcome = flows.handle(json.loads(case.text), apply=False)
            elapsed = time.thread_time_ns() - started
            if case.script.position != len(case.script.responses) or outcome.outcome != case.outcome:
                raise AssertionError(f"{case.name}: the replay did not follow the recorded handling")
            if index >= WARM_UP:
                case.times_ns.append(elapsed)


def figures(cases: list[Case]) -> list[Figure]:
    """Median and p95 of each sample (the p95 is budgeted), and the slowest p95 of all."""
    result = []
    for case in cases:
        times = [ns / 1e6 for ns in case.times_ns]
        result.append(
            Figure(
                f"work per event, {case.name} (p95)",
                percentile(times, 0.95),
                "ms",
                BUDGET_MS,
                detail=f"median {median(times):.2f} ms, {case.outcome}, {len(case.script.responses)} responses read",
            )
        )
    return result


def run(endpoint: str | None = None, emulator: Any = None, iterations: int = ITERATIONS) -> list[Figure]:
    """Record every sample on the emulator (``endpoint``, or a new one), then time its replays."""
    if endpoint is None or emulator is None:
        from registrar_dev.emulator import start

        with start(emit_events=False) as started:
            return run(started.endpoint, started, iterations)
    with environment(aws_environment(endpoint)):
        cases = [
            *record(endpoint, emulator, "approval", APPROVAL_SAMPLES, build_approval_state),
            *record(endpoint, emulator, "neo", NEO_SAMPLES, build_neo_state),
        ]
    measure(cases, iterations)
    result = figures(cases)
    report(
        f"work per event: parse → read → decide → validate → plan, CPU time, {iterations:,} iterations each",
        result,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.work``: exit 1 when a sample's p95 is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=ITERATIONS, help=f"timed handlings per sample ({ITERATIONS})")
    args = parser.parse_args(argv)
    return exit_status(run(iterations=args.iterations))


if __name__ == "__main__":
    sys.exit(main())
