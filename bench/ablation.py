"""What each cold-start measure saves, one at a time: CPU time in fresh processes, with and without it.

Each line runs two small programs ``RUNS`` times each, alternating, in fresh interpreters, and
reports the median CPU time (user + system) each took to run to its end, and the difference. The
programs do only what the measure is about (importing a module, creating clients, importing the
approval handler), so the differences add up only roughly to the whole cold start; the collector's
pause during the first event is measured by the cold-start benchmark itself. Not part of
``make bench``; ``docs/performance.md`` quotes its output.

Run with ``python -m bench.ablation [--runs N]`` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from bench.common import FUNCTIONS, POLICY_FILE, ROOT, median
from registrar.approval.policy import deployable_json

RUNS = 11
POLICY_JSON = "REGISTRAR_BENCH_POLICY_JSON"  # the deployed (JSON) form of events/policy.yaml, written by main()
_PRELUDE = """\
import os, sys, time
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
"""
_EPILOGUE = "\nprint(time.process_time())\n"


@dataclass(frozen=True)
class Measure:
    """A cold-start measure: a program without it and one with it."""

    name: str
    without: str
    with_: str


MEASURES = (
    Measure(
        "Tracer not created when tracing is off (no X-Ray SDK)",
        "from aws_lambda_powertools import Tracer\nTracer(service='registrar')",
        "import registrar.observability",
    ),
    Measure(
        "own EventBridge envelope instead of Powertools Parser's",
        "import pydantic\nfrom aws_lambda_powertools.utilities.parser.models import EventBridgeModel\n"
        "import registrar.events",
        "import pydantic\nimport registrar.events",
    ),
    Measure(
        "Powertools' batch utility imported before pydantic (else it loads Parser models)",
        "import pydantic\nimport aws_lambda_powertools.utilities.batch",
        "import aws_lambda_powertools.utilities.batch\nimport pydantic",
    ),
    Measure(
        "registrar's botocore clients vs boto3 clients (sagemaker, s3, dynamodb; boto3 imported in both)",
        "import boto3\nfor s in ('sagemaker', 's3', 'dynamodb'): boto3.client(s)",
        "import boto3\nfrom registrar import aws\nfor s in ('sagemaker', 's3', 'dynamodb'): aws.client(s)",
    ),
    # TODO(restructure): registrar's session no longer loads trimmed models through a Loader of its own
    # (functions/registrar/_data is going away): this measure now compares two plain sessions; rework or drop it.
    Measure(
        "of which: trimmed models, endpoints.json and loader (vs a plain botocore session)",
        "import botocore.session\ns = botocore.session.get_session()\n"
        "for n in ('sagemaker', 's3', 'dynamodb'): s.create_client(n)",
        "import botocore.session\nfrom registrar import aws\nfor s in ('sagemaker', 's3', 'dynamodb'): aws.client(s)",
    ),
    Measure(
        "the deployed policy is JSON, read without PyYAML (vs the YAML file)",
        "from registrar.approval.policy import parse_policy\nparse_policy(open('events/policy.yaml').read())",
        "import os\nfrom registrar.approval.policy import parse_policy\n"
        f"parse_policy(open(os.environ['{POLICY_JSON}']).read())",
    ),
    Measure(
        "PYDANTIC_DISABLE_PLUGINS=__all__ (no entry-point scan at the first model)",
        "import os\nos.environ.pop('PYDANTIC_DISABLE_PLUGINS', None)\nimport pydantic\n"
        "class A(pydantic.BaseModel):\n    x: int",
        "import os\nos.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\nimport pydantic\n"
        "class A(pydantic.BaseModel):\n    x: int",
    ),
    Measure(
        "collector paused while the approval handler imports (then frozen)",
        "import handlers, contextlib\nhandlers.collector_paused = contextlib.nullcontext\nimport handlers.approval",
        "import handlers.approval",
    ),
)


def _cpu(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(FUNCTIONS)}
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + code + _EPILOGUE], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def measure(item: Measure, runs: int = RUNS) -> tuple[float, float]:
    """Median CPU seconds without and with the measure, alternating fresh processes (one warm-up each)."""
    programs = (item.without, item.with_)
    times: tuple[list[float], list[float]] = ([], [])
    for round_ in range(runs + 1):
        for index in (0, 1) if round_ % 2 == 0 else (1, 0):
            seconds = _cpu(programs[index])
            if round_:
                times[index].append(seconds)
    return median(times[0]), median(times[1])


def main(argv: list[str] | None = None) -> int:
    """Print each measure's CPU time without and with it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as deployed:
        deployed.write(deployable_json(POLICY_FILE))
    os.environ[POLICY_JSON] = deployed.name
    print(f"{'measure':<96} {'without':>8} {'with':>8} {'saves':>8}")
    results = {}
    for item in MEASURES:
        without, with_ = measure(item, args.runs)
        results[item.name] = {"without_ms": round(1000 * without), "with_ms": round(1000 * with_)}
        print(f"{item.name:<96} {1000 * without:6.0f}ms {1000 * with_:6.0f}ms {1000 * (without - with_):6.0f}ms")
    print(json.dumps(results))
    os.unlink(deployed.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
