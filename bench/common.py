"""What every benchmark shares: figures beside their budgets, the sample events and the emulator scenario."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import os
import pathlib
import platform
import statistics
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registrar_dev.support import create_idempotency_table, emulator_clients, sqs_record

ROOT = pathlib.Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
EVENTS = ROOT / "events"
POLICY_FILE = EVENTS / "policy.yaml"
REPORTS = EVENTS / "approval" / "reports"
BUCKET = "registrar-demo-reports"
GROUP = "churn-model"
REGION = "us-east-1"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@dataclass(frozen=True)
class Figure:
    """One measured figure and its budget.

    Attributes
    ----------
    name
        What was measured (``cold start ratio``).
    value
        The measurement, in ``unit``.
    unit
        ``ms``, ``x``, ``KiB``, ``MB``, ``calls``...
    budget
        The largest acceptable value; ``None`` for a figure reported for information only.
    detail
        A short note printed after the verdict (medians, what was counted).
    passed
        Overrides the comparison with the budget when a figure can miss it otherwise (a call that is
        not allowed at all, even within the count).
    """

    name: str
    value: float
    unit: str
    budget: float | None = None
    detail: str = ""
    passed: bool | None = None

    @property
    def ok(self) -> bool:
        """Whether the value is within its budget (always true without a budget)."""
        if self.passed is not None:
            return self.passed
        return self.budget is None or self.value <= self.budget

    def line(self) -> str:
        """``figure  value  budget  OK/MISSED  detail``, aligned."""
        shown = _number if self.unit != "x" else (lambda number: f"{number:.2f}")
        budget = "-" if self.budget is None else f"≤ {shown(self.budget)} {self.unit}".rstrip()
        verdict = "info" if self.budget is None else ("OK" if self.ok else "MISSED")
        value = f"{shown(self.value)} {self.unit}".rstrip()
        text = f"{self.name:<52} {value:>14}  {budget:>16}  {verdict:<6}"
        return f"{text}  {self.detail}".rstrip()


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def header() -> str:
    """The column titles of :meth:`Figure.line`."""
    return f"{'figure':<52} {'value':>14}  {'budget':>16}  {'verdict':<6}"


def report(title: str, figures: Sequence[Figure], *, notes: Iterable[str] = ()) -> None:
    """Print a benchmark's figures under its title, then any notes (tables, what was measured)."""
    print(f"\n== {title}", flush=True)
    for note in notes:
        print(note)
    print(header())
    for figure in figures:
        print(figure.line(), flush=True)


def exit_status(figures: Iterable[Figure]) -> int:
    """0 when every figure is within its budget, 1 otherwise."""
    return 0 if all(figure.ok for figure in figures) else 1


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank: ``percentile(v, 0.95)`` is p95).

    The nearest rank is the smallest value with at least ``fraction`` of the values at or below it:
    the 95th of 100, the 190th of 200, the 950th of 1,000.
    """
    ordered = sorted(values)
    # rounded first so that float error (0.07 * 100 == 7.000000000000001) cannot move the rank up by one
    rank = max(1, min(len(ordered), math.ceil(round(fraction * len(ordered), 9))))
    return float(ordered[rank - 1])


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> tuple[float, float, float]:
    """The median and quartiles (nearest rank) of ``numerators[i] / denominators[i]``.

    For measurements taken in pairs (one of each contender per round): a slow spell of the machine
    slows both members of a pair, so their ratio varies less than the ratio of two medians taken
    over the whole run.

    Raises
    ------
    ValueError
        When the sequences are empty or of different lengths.
    """
    if not numerators or len(numerators) != len(denominators):
        raise ValueError(f"need pairs: {len(numerators)} numerators, {len(denominators)} denominators")
    ratios = [top / bottom for top, bottom in zip(numerators, denominators, strict=True)]
    return median(ratios), percentile(ratios, 0.25), percentile(ratios, 0.75)


def machine() -> str:
    """One line naming this machine: CPU model, cores, Python."""
    model = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()} ({sys.platform})"


def load_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/``."""
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return event


def package_arn(group: str, version: int) -> str:
    """The ARN the emulator gives version ``version`` of ``group``."""
    return f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{group}/{version}"


def passing_event(arn: str, *, group: str = GROUP) -> dict[str, Any]:
    """``events/approval/passing.json``, about the package ``arn`` instead."""
    event = copy.deepcopy(load_event("approval/passing.json"))
    event["resources"] = [arn]
    event["detail"]["ModelPackageArn"] = arn
    event["detail"]["ModelPackageGroupName"] = group
    event["detail"]["ModelPackageVersion"] = int(arn.rsplit("/", 1)[1])
    return event


def sqs_batch(
    events: Sequence[dict[str, Any]], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:approval"
) -> dict[str, Any]:
    """The SQS event Lambda passes a function for ``events`` delivered by an EventBridge rule."""
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1741079727000",
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1741079727000",
    }
    records = [
        sqs_record(
            json.dumps(event),
            queue_arn=queue_arn,
            message_id=f"00000000-0000-0000-0000-{index:012d}",
            receipt_handle=f"handle-{index}",
            attributes=attributes,
            region=REGION,
        )
        for index, event in enumerate(events)
    ]
    return {"Records": records}


def aws_environment(endpoint: str) -> dict[str, str]:
    """The AWS variables a process needs to reach the emulator at ``endpoint`` (fake credentials)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in this process for the block, and forget registrar's clients on entry and exit."""
    from registrar import aws

    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    aws.reset_clients()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.reset_clients()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow what handlers run in this process print: EMF metric lines, Powertools' warnings, log lines."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), quiet_logs():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def quiet_logs(name: str = "registrar") -> Iterator[None]:
    """The handlers of logger ``name`` that print (Powertools' own) print nothing below CRITICAL inside the block.

    The logger's level is left alone, and so are the handlers that listen: outcomes are read from the
    ``registrar`` logger's INFO lines (``registrar_dev.outcomes.listening``). Powertools' handler keeps
    the ``sys.stdout`` it found when registrar was first imported, which ``redirect_stdout`` may not be.
    """
    handlers = [handler for handler in logging.getLogger(name).handlers if isinstance(handler, logging.StreamHandler)]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def registrar_environment(
    endpoint: str, table_name: str, *, policy_parameter: str | None = None, policy_file: str | None = None
) -> dict[str, str]:
    """The approval function's environment as the stack deploys it, pointed at the emulator.

    The stack names an SSM parameter holding the policy (``policy_parameter``); ``policy_file`` names
    a file instead (the CLI's and the local topology's way; the default, ``events/policy.yaml``, when
    neither is given). Tracing is off: there is no X-Ray daemon to send segments to
    (``docs/performance.md`` gives the cost of the X-Ray SDK when tracing is on).
    """
    policy = (
        {"REGISTRAR_POLICY_PARAMETER": policy_parameter}
        if policy_parameter
        else {"REGISTRAR_POLICY_FILE": policy_file or str(POLICY_FILE)}
    )
    return {
        **aws_environment(endpoint),
        "POWERTOOLS_SERVICE_NAME": "registrar",
        "POWERTOOLS_METRICS_NAMESPACE": "registrar",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **policy,
        "REGISTRAR_TABLE_NAME": table_name,
        "REGISTRAR_REPORT_LOCATIONS": f"s3://{BUCKET}/",
        "REGISTRAR_MANAGED_GROUPS": "churn-*,fraud-*,credit-risk",
    }


class Clients:
    """Plain botocore clients of the emulator at ``endpoint`` (a session of their own).

    Parameters
    ----------
    endpoint
        The emulator's endpoint.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        clients = emulator_clients(endpoint, region=REGION, access_key="bench", secret_key="bench")
        self.sagemaker: Any = clients.sagemaker
        self.s3: Any = clients.s3
        self.dynamodb: Any = clients.dynamodb
        self._groups: set[str] = set()

    def group(self, name: str) -> None:
        """Create model package group ``name`` unless this object already did."""
        if name not in self._groups:
            self.sagemaker.create_model_package_group(ModelPackageGroupName=name)
            self._groups.add(name)

    def table(self, name: str) -> None:
        """Create an idempotency table shaped as the stack's (partition key ``id``)."""
        create_idempotency_table(self.dynamodb, name)

    def policy_parameter(self, name: str, text: str) -> None:
        """Store ``text`` as the SSM parameter ``name``, as the stack stores the approval policy."""
        import botocore.session

        ssm: Any = botocore.session.Session().create_client(
            "ssm",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True)


class Scenario(Clients):
    """Model versions with passing reports on a running emulator, created with separate plain clients.

    Parameters
    ----------
    endpoint
        The emulator's endpoint.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        self._count = 0
        self._report = (REPORTS / "passing.json").read_bytes()

    def bucket(self) -> None:
        """Create the reports bucket (once)."""
        self.s3.create_bucket(Bucket=BUCKET)

    def passing_package(self, group: str = GROUP) -> str:
        """A new PendingManualApproval version of ``group`` whose quality report passes the demo policy."""
        self.group(group)
        self._count += 1
        key = f"{group}/evaluations/{self._count}/evaluation.json"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=self._report, ContentType="application/json")
        return str(
            self.sagemaker.create_model_package(
                ModelPackageGroupName=group,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/{group}/model.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelMetrics={
                    "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}"}}
                },
            )["ModelPackageArn"]
        )

    def status(self, arn: str) -> str:
        """The version's ModelApprovalStatus."""
        return str(self.sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"])
