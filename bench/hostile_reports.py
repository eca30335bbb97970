"""Hostile reports: peak memory and CPU of parsing the worst reports a function may be given (issue #14).

A report is read whole (at most 5 MiB) and parsed in the approval function; its shape is bounded before it
is parsed (:func:`registrar.reports.check_structure`: at most 50,000 values, 64 levels). Each case below is
the worst of its kind within those bounds, parsed by :func:`registrar.reports.parse_report` in a fresh Python
process of its own, which reports its peak RSS (``ru_maxrss``) and the CPU time of the parse; a baseline
process parses an ordinary report (``events/approval/reports/passing.json``) the same way. Budgets: the
peak at most 64 MiB above the baseline's, the parse at most 0.5 s of CPU.

- 5 MiB of ``[{},{},...]``: the report of the issue (it took a handler from 84 to 340 MiB and 5.8 s of
  CPU); refused by its count of values before it is parsed.
- 50,000 values in the most memory-hungry shape found: objects of one key nested 63 deep (every value but
  the chains' leaves is a dict of its own), each key unique and as long as 5 MiB allows, each holding one
  4-byte character (so that Python keeps every character of it in 4 bytes). The same shape with ASCII keys,
  for comparison.
- depth 64: arrays nested 64 deep, as many as 50,000 values allow.
- a single 5 MiB string, with one 4-byte character (so that every character takes 4 bytes once decoded).
- 5 MiB of integers of 4,300 digits (the most Python's ``int`` converts; conversion is quadratic in them).

Each case runs ``--runs`` times (its own process each time); the figure is the largest peak and the median
CPU time. The inputs are written to a temporary directory first (their making is not measured).

Run alone with ``python -m bench.hostile_reports [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import FUNCTIONS, REPORTS, Figure, exit_status, median, report
from registrar.reports import DEFAULT_MAX_BYTES, MAX_NESTING, MAX_VALUES, check_structure

RUNS = 3
RSS_BUDGET_MIB = 64
CPU_BUDGET_S = 0.5
WIDE = "\U0001f600"  # 4 bytes in UTF-8; one in a string makes Python store each of its characters in 4 bytes
INT_DIGITS = 4300  # sys.int_info.default_max_str_digits: the longest integer json.loads converts

# The child: import the parser, read the report, parse it; print the peak RSS and the parse's CPU time.
CHILD = """
import json, pathlib, resource, sys, time
from registrar.errors import RegistrarError
from registrar.reports import decode, parse_text
data = pathlib.Path(sys.argv[1]).read_bytes()
started = time.process_time()
try:
    # As ReportStore.read does: the bytes decoded, then dropped, then the text parsed.
    text = decode(data, "s3://bucket/report.json")
    del data
    parse_text(text, "s3://bucket/report.json")
    outcome = "parsed"
except RegistrarError as error:
    outcome = "refused: " + str(error).replace("report s3://bucket/report.json ", "")
cpu = time.process_time() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mib": peak, "cpu_s": cpu, "outcome": outcome}))
"""
# Starts the children. Linux keeps a process's peak RSS across exec, and a forked child starts from its
# parent's current RSS: started by this (large) benchmark process, a child would report the benchmark's size.
# Started by a small process of its own, each reports its own peak. The cases run round-robin, ``runs`` rounds.
LAUNCHER = """
import json, subprocess, sys
child, runs, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for _ in range(runs):
    for path in paths:
        done = subprocess.run([sys.executable, "-c", child, path], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"parsing {path} failed (exit {done.returncode}): {done.stderr[-2000:]}")
        print(json.dumps({"path": path, **json.loads(done.stdout.strip().splitlines()[-1])}), flush=True)
"""


@dataclass(frozen=True)
class Case:
    """One report to parse: a name for the figures and how to make it."""

    name: str
    make: Callable[[], bytes]


@dataclass(frozen=True)
class Measured:
    """What the runs of one case measured."""

    case: Case
    size: int
    peak_mib: float  # the largest of the runs
    cpu_s: float  # the median of the runs
    outcome: str


def empty_objects(limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """``[{},{},...]`` as long as ``limit`` allows: the report of the issue."""
    return b"[" + b",".join([b"{}"] * ((limit - 1) // 3)) + b"]"


def nested_keys(*, wide: bool, depth: int = MAX_NESTING - 1, limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """Chains of one-key objects ``depth`` deep in a list, 50,000 values, each key unique and as long as fits.

    A chain is ``depth`` objects and its leaf (``0``): ``depth + 1`` values. With ``wide``, each key starts
    with a 4-byte character.
    """
    chains = (MAX_VALUES - 1) // (depth + 1)
    prefix = WIDE if wide else ""
    # Bytes: the list's brackets and commas, and per object '{"' key '":' and '}' (the leaf's byte too).
    per_object = (limit - 2 - (chains - 1) - chains) // (chains * depth)
    length = per_object - len('{"":}') - len(prefix.encode())
    parts = []
    number = 0
    for _ in range(chains):
        chain = "0"
        for _ in range(depth):
            key = f"{prefix}{number:07d}".ljust(length + len(prefix), "k")
            chain = f'{{"{key}":{chain}}}'
            number += 1
        parts.append(chain)
    return ("[" + ",".join(parts) + "]").encode()


def deep_arrays(depth: int = MAX_NESTING) -> bytes:
    """Arrays nested ``depth`` deep (the list included), as many chains as 50,000 values allow."""
    chain = "[" * (depth - 1) + "0" + "]" * (depth - 1)
    return ("[" + ",".join([chain] * ((MAX_VALUES - 1) // depth)) + "]").encode()


def one_string(limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """One JSON string of ``limit`` bytes, one 4-byte character in it."""
    wide = WIDE.encode()
    return b'"' + wide + b"x" * (limit - 2 - len(wide)) + b'"'


def long_integers(limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """A list of integers of 4,300 digits, as many as ``limit`` allows."""
    return ("[" + ",".join(["9" * INT_DIGITS] * ((limit - 2) // (INT_DIGITS + 1))) + "]").encode()


BASELINE = Case("an ordinary report (passing.json)", lambda: (REPORTS / "passing.json").read_bytes())
CASES = (
    Case("5 MiB of {} (the issue's)", empty_objects),
    Case("50,000 values, nested keys, 4-byte chars", lambda: nested_keys(wide=True)),
    Case("50,000 values, nested keys, ASCII", lambda: nested_keys(wide=False)),
    Case("depth 64, 50,000 values", deep_arrays),
    Case("one 5 MiB string, 4-byte chars", one_string),
    Case("5 MiB of 4,300-digit integers", long_integers),
)


def run_children(paths: list[pathlib.Path], runs: int) -> dict[str, list[dict[str, object]]]:
    """Parse each report ``runs`` times, each time in a fresh process; path -> what each run measured."""
    environment = {**os.environ, "PYTHONPATH": str(FUNCTIONS)}
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, CHILD, str(runs), *map(str, paths)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the parsing processes failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    answers: dict[str, list[dict[str, object]]] = {str(path): [] for path in paths}
    for line in done.stdout.splitlines():
        answer = json.loads(line)
        answers[answer.pop("path")].append(answer)
    return answers


def summary(case: Case, size: int, answers: list[dict[str, object]]) -> Measured:
    """The largest peak and the median CPU time of a case's runs."""
    outcomes = {str(answer["outcome"]) for answer in answers}
    return Measured(
        case=case,
        size=size,
        peak_mib=max(float(str(answer["peak_mib"])) for answer in answers),
        cpu_s=median([float(str(answer["cpu_s"])) for answer in answers]),
        outcome=" / ".join(sorted(outcomes)),
    )


def check_cases() -> None:
    """Each parsed case within the limits it claims: 5 MiB, 50,000 values, 64 levels."""
    for case in CASES[1:]:
        body = case.make()
        if len(body) > DEFAULT_MAX_BYTES:
            raise ValueError(f"{case.name}: {len(body)} bytes, more than a report may have")
        check_structure(body.decode(), case.name)  # raises when over the value count or the depth


def figures(baseline: Measured, measured: list[Measured]) -> list[Figure]:
    """Per case, its peak RSS above the baseline's and its CPU time, beside the budgets."""
    result = [Figure("hostile reports: baseline peak RSS", baseline.peak_mib, "MiB", None, "passing.json")]
    for item in measured:
        detail = f"{item.size / 1024 / 1024:.2f} MiB, {item.outcome}"
        above = item.peak_mib - baseline.peak_mib
        result.append(Figure(f"{item.case.name}: RSS", above, "MiB", RSS_BUDGET_MIB, detail))
        result.append(Figure(f"{item.case.name}: CPU", item.cpu_s, "s", CPU_BUDGET_S))
    return result


def run(runs: int = RUNS) -> list[Figure]:
    """Measure every case and the baseline, print the figures and return them."""
    check_cases()
    cases = (BASELINE, *CASES)
    with tempfile.TemporaryDirectory(prefix="registrar-hostile-") as directory:
        paths = [pathlib.Path(directory) / f"case-{number}.json" for number in range(len(cases))]
        sizes = []
        for case, path in zip(cases, paths, strict=True):
            body = case.make()
            path.write_bytes(body)
            sizes.append(len(body))
        answers = run_children(paths, runs)
    baseline, *measured = [
        summary(case, size, answers[str(path)]) for case, size, path in zip(cases, sizes, paths, strict=True)
    ]
    notes = [
        f"each case parsed {runs} times, each in a fresh process (largest peak RSS, median CPU time of the parse);",
        f"RSS above the baseline process's peak ({baseline.peak_mib:.1f} MiB), which parses passing.json the same way",
    ]
    result = figures(baseline, measured)
    report("hostile reports (registrar.reports, as ReportStore.read parses)", result, notes=notes)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.hostile_reports``: exit 1 when a case is over its budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="processes per case")
    args = parser.parse_args(argv)
    return exit_status(run(args.runs))


if __name__ == "__main__":
    sys.exit(main())
