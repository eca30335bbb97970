"""Cold start: process start → first event handled, registrar's approval function against a hand-written one.

Each run is a fresh Python process that imports a handler and handles one passing-evaluation event
against the same running emulator. Both get what the approval queue delivers (an SQS batch of one
record) and both run as Lambda runs them, without site-packages (``python -S``):

- registrar's ``handlers.approval`` imports from the function code and the layer as synth builds them,
  built for this machine and compiled by this interpreter as synth compiles them for Lambda's
  (:mod:`infra.lambda_layout`: the lock file's SDK, botocore's data pruned), with its deployed
  settings: the policy as compact JSON in an SSM parameter, the idempotency table, report locations;
- the budget's baseline, ``bench/handwritten.py``, does the same work with the same guarantees in plain
  boto3 (four clients at import, the policy read from SSM, a conditional PutItem and an UpdateItem,
  Describe, GetObject, Update), importing boto3 from this environment's site-packages as a Lambda
  function would import the runtime's own;
- ``bench/handwritten_bare.py``, the old bare baseline, is printed for information.

The parent times each run from ``Popen`` to the line the child prints as the handler returns, so
interpreter start-up, every import, client creation and the AWS calls are all inside the figure.
The contenders alternate (and alternate which goes first), each version is a fresh package, and one
unmeasured run of each warms the OS caches first. The budget is judged on the median of the rounds'
own ratios: both members of a round run within a second of each other, so the machine's drift over
the run cancels out.

Run alone with ``python -m bench.cold_start [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    POLICY_FILE,
    ROOT,
    Figure,
    Scenario,
    aws_environment,
    exit_status,
    median,
    paired_ratios,
    passing_event,
    registrar_environment,
    report,
    sqs_batch,
)
from infra.lambda_layout import LambdaLayout, build_layout
from registrar.approval.policy import deployable_json

RUNS = 21
BUDGET_RATIO = 1.0
# Modules registrar's approval function must not load for a passing evaluation: each was a tenth of a second
# or more of its cold start (docs/performance.md). Powertools' batch utility loads the whole Parser package when
# pydantic is imported before it; the X-Ray SDK comes with Powertools' Tracer.
UNWANTED = ("aws_lambda_powertools.utilities.parser", "aws_xray_sdk", "moto", "registrar_dev", "registrar_cli")
TABLE = "registrar-bench-idempotency"
PARAMETER = "/registrar/approval-policy"
HANDLED = "bench-handled"
DONE = "bench-done "

# The child: the same code for both handlers but the import line. It says it has handled the event
# the moment the handler returns (the parent stops its clock there), then reports, relative to the
# moment its own code starts (interpreter start-up is before that), when the import finished, and
# what it loaded: listing that is the benchmark's work, not the handler's, so it is after the mark.
CHILD = """\
import time
_started = time.perf_counter()
import json, sys
{import_line}
_imported = time.perf_counter()

class Context:
    function_name = "registrar-approval"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:registrar-approval"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/registrar-approval"
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 60000

result = handler(json.loads(sys.argv[1]), Context())
_handled = time.perf_counter()
_cpu = time.process_time()
sys.stdout.write("\\n{handled}\\n")
sys.stdout.flush()
_loaded = [name for name in {unwanted!r} if name in sys.modules]
_sources = sorted({{getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}} - {{""}})
sys.stdout.write("\\n{done}" + json.dumps({{"result": result, "import": _imported - _started,
                                             "handle": _handled - _imported, "cpu": _cpu,
                                             "loaded": _loaded, "sources": _sources}}) + "\\n")
sys.stdout.flush()
"""


@dataclass
class Contender:
    """One handler under test: how its child imports it, what it is given and what it must do."""

    name: str
    import_line: str
    path: str
    environment: dict[str, str]
    budgeted: bool
    event: Callable[[str], dict[str, Any]]
    check: Callable[[dict[str, Any]], bool]
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    handles: list[float] = field(default_factory=list)
    loaded: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)


def _child_environment(extra: dict[str, str], path: str) -> dict[str, str]:
    layout = LambdaLayout(function=ROOT, layer=ROOT)  # only for its environment rules: PATH and locale kept
    environment = layout.environment(extra)
    environment["PYTHONPATH"] = path
    return environment


def run_once(contender: Contender, event: dict[str, Any]) -> tuple[float, float, dict[str, Any]]:
    """Start a fresh interpreter that handles ``event``; return its wall time, CPU time and what it reported.

    The wall time runs from ``Popen`` to the line the child prints as the handler returns; the CPU
    time is the child's own (user + system) at that moment, less sensitive to other load on the machine.

    Raises
    ------
    RuntimeError
        The child failed, or never reported the event handled.
    """
    code = CHILD.format(import_line=contender.import_line, handled=HANDLED, done=DONE, unwanted=UNWANTED)
    env = _child_environment(contender.environment, contender.path)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-S", "-c", code, json.dumps(event)],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            cwd=ROOT,
        )
        assert child.stdout is not None
        reported: dict[str, Any] | None = None
        elapsed: float | None = None
        for raw in child.stdout:
            line = raw.decode(errors="replace")
            if line.rstrip("\n") == HANDLED:
                elapsed = time.perf_counter() - started
            elif line.startswith(DONE):
                reported = json.loads(line[len(DONE) :])
                break
        child.stdout.read()
        child.wait()
        if reported is None or elapsed is None or child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(
                f"{contender.name} child failed (exit {child.returncode}): {errors.read().decode()[-3000:]}"
            )
    return elapsed, float(reported["cpu"]), reported


def contenders(endpoint: str, layout: LambdaLayout) -> list[Contender]:
    """The hand-written handler with registrar's guarantees (the baseline), the bare one, and registrar's."""
    site_packages = sysconfig.get_paths()["purelib"]
    baseline_environment = {
        **aws_environment(endpoint),
        "REGISTRAR_TABLE_NAME": TABLE,
        "REGISTRAR_POLICY_PARAMETER": PARAMETER,
    }
    return [
        Contender(
            name="hand-written, same guarantees",
            import_line="from handwritten import handler",
            path=f"{ROOT / 'bench'}:{site_packages}",
            environment=baseline_environment,
            event=lambda arn: sqs_batch([passing_event(arn)]),
            check=lambda reported: "Approved" in reported["result"].get("decided", {}).values(),
            budgeted=False,
        ),
        Contender(
            name="registrar as deployed",
            import_line="from handlers.approval import handler",
            path=layout.python_path(),
            environment=registrar_environment(endpoint, TABLE, policy_parameter=PARAMETER),
            event=lambda arn: sqs_batch([passing_event(arn)]),
            check=lambda reported: reported["result"] == {"batchItemFailures": []},
            budgeted=True,
        ),
        Contender(
            name="hand-written, bare (information)",
            import_line="from handwritten_bare import handler",
            path=f"{ROOT / 'bench'}:{site_packages}",
            environment=aws_environment(endpoint),
            event=passing_event,
            check=lambda reported: reported["result"].get("status") == "Approved",
            budgeted=False,
        ),
    ]


def measure(endpoint: str, runs: int = RUNS) -> list[Contender]:
    """Alternate fresh-process runs of the handlers against the emulator; one warm-up run each first."""
    scenario = Scenario(endpoint)
    scenario.bucket()
    scenario.table(TABLE)
    scenario.policy_parameter(PARAMETER, deployable_json(POLICY_FILE))
    return _alternate(scenario, contenders(endpoint, build_layout(bytecode=True)), runs)


def _alternate(scenario: Scenario, all_: list[Contender], runs: int) -> list[Contender]:
    for round_ in range(runs + 1):
        order = all_ if round_ % 2 == 0 else list(reversed(all_))
        for contender in order:
            arn = scenario.passing_package()
            seconds, cpu, reported = run_once(contender, contender.event(arn))
            if not contender.check(reported) or scenario.status(arn) != "Approved":
                raise RuntimeError(f"{contender.name} did not approve {arn}: {reported}")
            if round_ == 0:
                continue  # warm-up: bytecode caches, page cache
            contender.seconds.append(seconds)
            contender.cpu.append(cpu)
            contender.imports.append(reported["import"])
            contender.handles.append(reported["handle"])
            contender.loaded.update(reported["loaded"])
            contender.sources = reported["sources"]
    return all_


def figures(measured: list[Contender]) -> list[Figure]:
    """The medians of each handler, registrar's ratio to the fair baseline round by round (budgeted), and the rest."""
    baseline, registrar, bare = measured
    result = [
        Figure(
            f"cold start, {contender.name} (median of {len(contender.seconds)})",
            1000 * median(contender.seconds),
            "ms",
            detail=(
                f"CPU {1000 * median(contender.cpu):.0f} ms; import {1000 * median(contender.imports):.0f} ms + "
                f"first event {1000 * median(contender.handles):.0f} ms after interpreter start-up"
            ),
        )
        for contender in measured
    ]
    paired, lower, upper = paired_ratios(registrar.seconds, baseline.seconds)
    result.append(
        Figure(
            "cold start ratio, registrar / hand-written with the same guarantees",
            paired,
            "x",
            BUDGET_RATIO,
            detail=f"median of the {len(baseline.seconds)} rounds' own ratios; quartiles {lower:.2f}–{upper:.2f}",
        )
    )
    result.append(
        Figure(
            "cold start ratio, of the medians (information)",
            median(registrar.seconds) / median(baseline.seconds),
            "x",
            detail="registrar's median over the baseline's",
        )
    )
    cpu, cpu_lower, cpu_upper = paired_ratios(registrar.cpu, baseline.cpu)
    result.append(
        Figure(
            "cold start CPU-time ratio (information)",
            cpu,
            "x",
            detail=f"the children's own CPU time, round by round; quartiles {cpu_lower:.2f}–{cpu_upper:.2f}",
        )
    )
    bare_ratio, _, _ = paired_ratios(registrar.seconds, bare.seconds)
    result.append(
        Figure(
            "cold start ratio, registrar / bare hand-written (information)",
            bare_ratio,
            "x",
            detail="a handler with no policy read, no deduplication, two clients",
        )
    )
    result.append(
        Figure(
            "cold start, modules registrar must not load",
            len(registrar.loaded),
            "",
            0,
            detail=", ".join(sorted(registrar.loaded)) or f"none of {', '.join(UNWANTED)}",
        )
    )
    return result


def run(endpoint: str | None = None, runs: int = RUNS) -> list[Figure]:
    """Measure against the emulator at ``endpoint`` (or a new one) and print the figures."""
    if endpoint is None:
        from registrar_dev.emulator import start

        with start(emit_events=False) as emulator:
            return run(emulator.endpoint, runs)
    result = figures(measure(endpoint, runs))
    report(f"cold start: process start → first event handled, {runs} fresh processes each, alternating", result)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.cold_start``: exit 1 when the ratio is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"measured runs of each handler (default {RUNS})")
    args = parser.parse_args(argv)
    return exit_status(run(runs=args.runs))


if __name__ == "__main__":
    sys.exit(main())
