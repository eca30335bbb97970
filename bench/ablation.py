"""What each cold-start device saves: registrar's whole cold start, with and without it, in fresh processes.

Each line runs registrar's approval function as ``bench.cold_start`` does (a fresh ``python -S``
process importing the handler from the function code and the layer as synth builds them, handling
one passing evaluation from the approval queue against the emulator, its policy from SSM), once with
the device and once without, alternating, and reports the medians of the children's CPU time and the
median of the rounds' own differences. The devices: Lambda's bytecode shipped with the code, botocore's
data pruned in the layer, the garbage collector paused during the cold start, Parser's models kept out
(the batch utility imported before pydantic), the policy deployed as JSON.
Not part of ``make bench``; docs/performance.md quotes its output.

Run with ``python -m bench.ablation [--runs N]`` (a few minutes).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from bench.cold_start import PARAMETER, TABLE, Contender, run_once
from bench.common import (
    POLICY_FILE,
    Figure,
    Scenario,
    exit_status,
    median,
    passing_event,
    registrar_environment,
    report,
    sqs_batch,
)
from infra.lambda_layout import LambdaLayout, build_layout
from registrar.approval.policy import deployable_json

RUNS = 11
YAML_PARAMETER = "/registrar/approval-policy-yaml"
HANDLER = "from handlers.approval import handler"


@dataclass(frozen=True)
class Device:
    """A cold-start device: what the child imports and where from, with it and without it."""

    name: str
    with_: tuple[str, LambdaLayout, dict[str, str]]
    without: tuple[str, LambdaLayout, dict[str, str]]


def devices(endpoint: str) -> list[Device]:
    """Each device, as the deployed function has it and as it would be without."""
    deployed = build_layout(bytecode=True)
    environment = registrar_environment(endpoint, TABLE, policy_parameter=PARAMETER)
    return [
        Device(
            "bytecode shipped with the layer and the function code",
            (HANDLER, deployed, environment),
            (HANDLER, build_layout(bytecode=False), environment),
        ),
        Device(
            "botocore's data pruned: services, operations, endpoints, inflated",
            (HANDLER, deployed, environment),
            (HANDLER, build_layout(bytecode=True, services=None), environment),
        ),
        Device(
            "garbage collector paused while importing and during the first event",
            (HANDLER, deployed, environment),
            (
                "import contextlib, handlers\nhandlers.collector_paused = contextlib.nullcontext\n" + HANDLER,
                deployed,
                environment,
            ),
        ),
        Device(
            "Parser's models not loaded (own envelope, batch utility before pydantic)",
            (HANDLER, deployed, environment),
            ("import aws_lambda_powertools.utilities.parser.models\n" + HANDLER, deployed, environment),
        ),
        Device(
            "policy deployed as JSON, read without PyYAML",
            (HANDLER, deployed, environment),
            (HANDLER, deployed, {**environment, "REGISTRAR_POLICY_PARAMETER": YAML_PARAMETER}),
        ),
    ]


def _contender(name: str, spec: tuple[str, LambdaLayout, dict[str, str]]) -> Contender:
    import_line, layout, environment = spec
    return Contender(
        name=name,
        import_line=import_line,
        path=layout.python_path(),
        environment=environment,
        budgeted=False,
        event=lambda arn: sqs_batch([passing_event(arn)]),
        check=lambda reported: reported["result"] == {"batchItemFailures": []},
    )


def measure(scenario: Scenario, device: Device, runs: int) -> tuple[float, float, float]:
    """Median CPU seconds with and without the device, and the median of the rounds' differences."""
    with_, without = _contender("with", device.with_), _contender("without", device.without)
    differences: list[float] = []
    for round_ in range(runs + 1):
        order = (with_, without) if round_ % 2 == 0 else (without, with_)
        cpu = {}
        for contender in order:
            arn = scenario.passing_package()
            _, seconds, reported = run_once(contender, contender.event(arn))
            if not contender.check(reported) or scenario.status(arn) != "Approved":
                raise RuntimeError(f"{device.name} ({contender.name}) did not approve {arn}: {reported}")
            cpu[contender.name] = seconds
        if round_:  # the first round warms the caches
            with_.cpu.append(cpu["with"])
            without.cpu.append(cpu["without"])
            differences.append(cpu["without"] - cpu["with"])
    return median(with_.cpu), median(without.cpu), median(differences)


def run(runs: int = RUNS) -> list[Figure]:
    """Measure every device against a new emulator and print the figures."""
    from registrar_dev.emulator import start

    with start(emit_events=False) as emulator:
        scenario = Scenario(emulator.endpoint)
        scenario.bucket()
        scenario.table(TABLE)
        scenario.policy_parameter(PARAMETER, deployable_json(POLICY_FILE))
        scenario.policy_parameter(YAML_PARAMETER, POLICY_FILE.read_text(encoding="utf-8"))
        figures = []
        for device in devices(emulator.endpoint):
            with_, without, saved = measure(scenario, device, runs)
            figures.append(
                Figure(
                    device.name,
                    1000 * saved,
                    "ms",
                    detail=f"CPU {1000 * without:.0f} ms without, {1000 * with_:.0f} ms with (medians of {runs})",
                )
            )
    report(f"cold-start devices: CPU saved per cold start, {runs} rounds each, alternating", figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.ablation``: print what each device saves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"rounds per device (default {RUNS})")
    args = parser.parse_args(argv)
    return exit_status(run(args.runs))


if __name__ == "__main__":
    sys.exit(main())
