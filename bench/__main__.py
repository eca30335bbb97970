"""``make bench``: every benchmark, each figure beside its budget; exit 1 when one is missed.

The cold start runs first, while nothing else of the benchmark has warmed or loaded the machine; the
work-per-event, AWS-call and several-accounts benchmarks share one in-process emulator; the latency benchmark starts an
emulator process of its own; the hostile-report benchmark parses each report in a fresh process; the decision
page renders in process and loads once in Debian's chromium; the size benchmark synthesizes the CDK app last.
``make bench-burst`` (``python -m bench.burst``) is separate and not run here.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time

from bench import accounts, calls, cold_start, hostile_reports, latency, size, work
from bench import page as decision_page
from bench.common import Figure, exit_status, header, machine


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and print a summary of all figures; 1 when any is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=cold_start.RUNS, help="cold-start runs of each handler")
    parser.add_argument("--iterations", type=int, default=work.ITERATIONS, help="work-per-event iterations")
    parser.add_argument("--events", type=int, default=latency.EVENTS, help="latency events")
    parser.add_argument("--no-synth", action="store_true", help="measure the cdk.out already there")
    args = parser.parse_args(argv)

    started = time.monotonic()
    print(f"registrar benchmarks — {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine: {machine()}")
    figures: list[Figure] = []
    from registrar_dev.emulator import start

    with start(emit_events=False) as emulator:
        figures += cold_start.run(emulator.endpoint, args.runs)
        figures += work.run(emulator.endpoint, emulator, args.iterations)
        figures += calls.run(emulator.endpoint, emulator)
        figures += accounts.run(emulator.endpoint, emulator)
    figures += latency.run(args.events)
    figures += hostile_reports.run()
    figures += decision_page.run()
    figures += size.run(synthesize=not args.no_synth)

    print(f"\n== summary ({time.monotonic() - started:.0f} s)")
    print(header())
    for figure in figures:
        print(figure.line())
    missed = [figure.name for figure in figures if not figure.ok]
    print(
        f"\n{len(figures) - len(missed)} of {len(figures)} figures within budget"
        + (f"; MISSED: {', '.join(missed)}" if missed else "")
    )
    return exit_status(figures)


if __name__ == "__main__":
    sys.exit(main())
