"""The `registrar` command line: exit statuses and messages, `policy check`, `emulator` and `redrive`.

Exit status: 0 updated/unchanged/skipped, 2 for an invalid event, policy or argument (one line on stderr),
1 for an AWS failure.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from registrar import aws as aws_clients
from registrar.settings import PREFIX
from registrar_cli import main as cli
from registrar_dev.emulator import Emulator
from registrar_dev.faults import FaultInjector
from registrar_dev.support import CallCounter
from tests.integration.scenario import (
    POLICY,
    ROOT,
    Clients,
    approval_event_path,
    build_approval_state,
    build_neo_state,
    job_arn,
    neo_event_path,
    read_event,
    run_cli,
)

CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens on loopback port 9
BROKEN_POLICY = """\
version: 1
rules:
  - groups: ["churn-*"]
    approve_when:
      - metric: binary_classification_metrics.auc.value
        min: high
    on_failure: reject
"""


def run_plain(*argv: str) -> tuple[int, str, str]:
    """Run ``registrar`` in this process for commands that print text, not JSON."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def one_line(stderr: str) -> str:
    """The one line a failing command writes on stderr."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# Invalid input: exit 2, one line on stderr ---------------------------------------------------------


def test_event_file_that_is_not_json_exits_2_with_one_line(tmp_path: pathlib.Path) -> None:
    # GIVEN an event file that is not JSON
    path = tmp_path / "event.json"
    path.write_text("{not json")

    # WHEN it is applied
    status, printed, stderr = run_cli("apply", str(path), "--policy", str(POLICY))

    # THEN the command exits 2, prints nothing on stdout, and says why in one line naming the file
    assert (status, printed) == (2, [])
    assert one_line(stderr).startswith(f"registrar: {path}: not JSON")


def test_event_of_wrong_shape_exits_2_with_one_line(tmp_path: pathlib.Path) -> None:
    # GIVEN a model package event without the package's ARN
    event = read_event(approval_event_path("passing"))
    del event["detail"]["ModelPackageArn"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))

    # WHEN it is applied
    status, _, stderr = run_cli("apply", str(path), "--policy", str(POLICY))

    # THEN the command exits 2 with one line naming the missing field
    assert status == 2
    assert "detail.ModelPackageArn" in one_line(stderr)


def test_event_of_wrong_shape_prints_invalid_outcome(tmp_path: pathlib.Path) -> None:
    # GIVEN an event of a detail-type registrar does not handle
    event = read_event(approval_event_path("passing"))
    event["detail-type"] = "SageMaker Training Job State Change"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))

    # WHEN it is planned
    _, printed, _ = run_cli("plan", str(path), "--policy", str(POLICY))

    # THEN stdout carries the result object, with outcome invalid and the reason
    assert printed == [
        {
            "outcome": "invalid",
            "model_package_arn": None,
            "request": None,
            "reasons": [
                "event: detail-type 'SageMaker Training Job State Change' is not an event registrar handles "
                "(Compilation Job State Change, SageMaker Endpoint State Change, "
                "SageMaker Model Package State Change, SageMaker Processing Job State Change)"
            ],
        }
    ]


def test_approval_event_without_policy_exits_2(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no --policy and no REGISTRAR_POLICY (nor any other policy setting), and the sample's state
    for variable in ("REGISTRAR_POLICY", "REGISTRAR_POLICY_FILE", "REGISTRAR_POLICY_PARAMETER"):
        monkeypatch.delenv(variable, raising=False)
    build_approval_state(Clients.of(aws))

    # WHEN an approval event is applied
    status, printed, stderr = run_cli("apply", str(approval_event_path("passing")))

    # THEN the command exits 2 with one line saying no policy is configured
    assert (status, printed) == (2, [])
    assert "no approval policy" in one_line(stderr)


def test_job_that_does_not_exist_exits_2(aws: Emulator) -> None:
    # GIVEN an emulator without the compilation job the event names
    # WHEN the event is applied
    status, [printed], _ = run_cli("apply", str(neo_event_path("completed-ml-c5")))

    # THEN the outcome is invalid and the command exits 2
    assert (status, printed["outcome"]) == (2, "invalid")
    assert "churn-model-1-ml-c5 not found" in printed["reasons"][0]


def test_processing_job_that_does_not_exist_exits_2(aws: Emulator) -> None:
    # GIVEN an emulator without the processing job the event names (credit-risk-evaluation-1)
    # WHEN the event is applied
    status, [printed], _ = run_cli("apply", str(approval_event_path("processing-completed")), "--policy", str(POLICY))

    # THEN the outcome is invalid (it names nothing that exists; no retry finds it), and the command exits 2
    assert (status, printed["outcome"]) == (2, "invalid")
    assert "processing job credit-risk-evaluation-1 cannot be described" in printed["reasons"][0]


def test_compilation_event_naming_another_jobs_arn_is_invalid(aws: Emulator, tmp_path: pathlib.Path) -> None:
    # GIVEN the state of events/neo, and completed-ml-c5.json whose CompilationJobArn names another job
    # (a decoy's name with the real job's ARN: its duplicate key would have been the real job's)
    build_neo_state(Clients.of(aws))
    event = read_event(neo_event_path("completed-ml-c5"))
    event["detail"]["CompilationJobArn"] = job_arn("churn-model-1-ml-inf2")
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    calls = CallCounter().start()

    # WHEN it is planned
    status, [printed], stderr = run_cli("plan", str(path))

    # THEN the event is invalid (exit 2, one line), before any call to SageMaker
    assert (status, printed["outcome"], printed["request"]) == (2, "invalid", None)
    assert "'churn-model-1-ml-c5' is not the job its ARN names" in printed["reasons"][0]
    assert job_arn("churn-model-1-ml-inf2") in one_line(stderr)
    assert calls.count() == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            '{"detail-type": "Café"}'.encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at offset 20): save the event as UTF-8",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply to read"),
    ],
    ids=["latin-1", "deeply nested"],
)
def test_event_file_that_cannot_be_decoded_exits_2_with_one_line(
    tmp_path: pathlib.Path, content: bytes, says: str
) -> None:
    # GIVEN an event file in Latin-1, or nested deeper than Python's recursion limit
    path = tmp_path / "event.json"
    path.write_bytes(content)

    # WHEN it is planned
    status, printed, stderr = run_cli("plan", str(path), "--policy", str(POLICY), "--endpoint-url", CLOSED_PORT)

    # THEN the command exits 2 with one line naming the file and what is wrong with it, not a traceback
    assert (status, printed) == (2, [])
    assert one_line(stderr) == f"registrar: {path}: {says}"


def test_event_file_with_a_utf8_bom_is_read(aws: Emulator, tmp_path: pathlib.Path) -> None:
    # GIVEN the sample's state, and passing.json saved with a byte order mark (as some Windows editors do)
    build_approval_state(Clients.of(aws))
    path = tmp_path / "event.json"
    path.write_bytes(b"\xef\xbb\xbf" + approval_event_path("passing").read_bytes())

    # WHEN it is planned
    status, printed, stderr = run_cli("plan", str(path), "--policy", str(POLICY))

    # THEN it is planned as without the mark
    assert (status, [line["outcome"] for line in printed]) == (0, ["updated"]), stderr


@pytest.mark.parametrize(
    ("event", "field"),
    [(approval_event_path("passing"), "time"), (neo_event_path("completed-ml-c5"), "detail.LastModifiedTime")],
)
def test_event_with_an_out_of_range_timestamp_exits_2_with_one_line(
    tmp_path: pathlib.Path, event: pathlib.Path, field: str
) -> None:
    # GIVEN an event whose timestamp is 1e300 epoch seconds
    raw = read_event(event)
    if field == "time":
        raw["time"] = 1e300
    else:
        raw["detail"]["LastModifiedTime"] = 1e300
    path = tmp_path / "event.json"
    path.write_text(json.dumps(raw))

    # WHEN it is planned THEN the command exits 2 with one line naming the field
    status, _, stderr = run_cli("plan", str(path), "--policy", str(POLICY), "--endpoint-url", CLOSED_PORT)
    assert status == 2
    assert f"event: {field}: " in one_line(stderr)


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("REGISTRAR_SWEEP_LOOKBACK_MINUTES", "abc", "Input should be a valid integer"),
        ("REGISTRAR_TABLE_NAME", "", "cannot be empty: unset the variable instead"),
        ("REGISTRAR_REPORT_LOCATIONS", ",", "has an empty entry"),
        ("REGISTRAR_REPORT_LOCATIONS", "s3://Reports/*", "'Reports' is not a valid S3 bucket name"),
        (f"{PREFIX}REPORT_LOCATION", "s3://reports/", "not a registrar setting (did you mean"),  # no S
    ],
)
@pytest.mark.parametrize("command", ["sweep", "plan"])
def test_invalid_settings_exit_2_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, command: str, variable: str, value: str, rule: str
) -> None:
    # GIVEN a REGISTRAR_* variable that breaks a rule, or is no setting at all
    monkeypatch.setenv(variable, value)
    event = [str(approval_event_path("passing")), "--policy", str(POLICY)] if command == "plan" else []

    # WHEN the command runs
    status, printed, stderr = run_cli(command, *event, "--endpoint-url", CLOSED_PORT)

    # THEN it exits 2 before any AWS call, printing nothing, with one line naming the variable and the rule
    assert (status, printed) == (2, [])
    line = one_line(stderr)
    assert line.startswith(f"registrar: invalid settings: {variable}")
    assert rule in line


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["sweep", "--since", "inf"], "argument --since: 'inf' is not an ISO-8601 time"),
        (["sweep", "--since", "1e300"], "argument --since: '1e300' is not an ISO-8601 time"),
        (["sweep", "--since", "9999-01-01T00:00:00Z"], "argument --since: '9999-01-01T00:00:00Z' is in the future"),
        (["plan", "EVENT", "--endpoint-url", "notaurl"], "argument --endpoint-url: 'notaurl' is not an http:// or"),
        (["plan", "EVENT", "--endpoint-url", "ftp://127.0.0.1:9"], "'ftp://127.0.0.1:9' is not an http:// or https://"),
        (["plan", "EVENT", "--endpoint-url", "http://"], "argument --endpoint-url: 'http://' is not an http://"),
        (["sweep", "--endpoint-url", "http://127.0.0.1:99999"], "Port out of range 0-65535"),
        (["redrive", "q", "--endpoint-url", "http://exa mple"], "'exa mple' is not a valid host name"),
        (["plan", "EVENT", "--region", "us east 1"], "argument --region: 'us east 1' is not an AWS region name"),
        (["emulator", "--port", "-1"], "argument --port: '-1' is not a port number in 0-65535"),
        (["sweep", "--since"], "argument --since: expected one argument"),
    ],
)
def test_invalid_argument_exits_2_with_one_line_naming_it(argv: list[str], says: str) -> None:
    # GIVEN an argument that breaks its rule
    argv = [str(approval_event_path("passing")) if arg == "EVENT" else arg for arg in argv]

    # WHEN the command runs
    status, _, stderr = run_plain(*argv)

    # THEN it exits 2 with one line naming the command, the argument and the rule, and where to read more
    assert status == 2
    line = one_line(stderr)
    assert line.startswith(f"registrar {argv[0]}: ")
    assert says in line
    assert line.endswith(f"(see registrar {argv[0]} --help)")


def test_invalid_aws_endpoint_url_variable_exits_2_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN AWS_ENDPOINT_URL that is not a URL, and no --endpoint-url
    monkeypatch.setenv("AWS_ENDPOINT_URL", "notaurl")

    # WHEN an event is planned THEN the command exits 2 with one line naming the variable
    status, printed, stderr = run_cli("plan", str(approval_event_path("passing")), "--policy", str(POLICY))
    assert (status, printed) == (2, [])
    assert one_line(stderr).startswith("registrar: AWS_ENDPOINT_URL: 'notaurl' is not an http:// or https:// URL")


# AWS failure: exit 1 -----------------------------------------------------------------------------


def test_aws_failure_exits_1_with_one_line() -> None:
    # GIVEN an endpoint nothing listens on
    # WHEN an event is planned against it (the client retries, then gives up)
    status, printed, stderr = run_cli(
        "plan", str(approval_event_path("passing")), "--policy", str(POLICY), "--endpoint-url", CLOSED_PORT
    )

    # THEN the command exits 1 with one line saying the AWS call failed
    assert (status, printed) == (1, [])
    assert one_line(stderr).startswith("registrar: AWS call failed: Could not connect to the endpoint URL")


def test_a_policy_parameter_that_does_not_exist_exits_1_with_one_line(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the policy named by an SSM parameter that does not exist (as deployed, but mistyped)
    for variable in ("REGISTRAR_POLICY", "REGISTRAR_POLICY_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("REGISTRAR_POLICY_PARAMETER", "/registrar/no-such-policy")
    build_approval_state(Clients.of(aws))

    # WHEN an approval event is planned
    status, printed, stderr = run_cli("plan", str(approval_event_path("passing")))

    # THEN SSM's answer is the one line (an AWS failure, exit 1), not Powertools' traceback
    assert (status, printed) == (1, [])
    line = one_line(stderr)
    assert line.startswith("registrar: AWS call failed:") and "ParameterNotFound" in line


def test_the_policy_parameter_is_read_from_the_endpoint_given(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the policy in the emulator's SSM, as the stack stores it, and the endpoint given only by --endpoint-url
    from registrar.approval.policy import deployable_json

    clients = Clients.of(aws)
    build_approval_state(clients)
    boto3.client(
        "ssm", endpoint_url=aws.endpoint, region_name=aws.region, aws_access_key_id="t", aws_secret_access_key="t"
    ).put_parameter(Name="/registrar/cli-policy", Value=deployable_json(POLICY), Type="String")
    for variable in ("REGISTRAR_POLICY", "REGISTRAR_POLICY_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("REGISTRAR_POLICY_PARAMETER", "/registrar/cli-policy")
    aws_clients.reset_clients()  # no client of an earlier test, made from the environment's endpoint

    # WHEN passing.json is planned with --endpoint-url
    status, printed, stderr = run_cli("plan", str(approval_event_path("passing")), "--endpoint-url", aws.endpoint)

    # THEN the policy was read there too: the version is planned as the policy says
    assert (status, [line["outcome"] for line in printed]) == (0, ["updated"]), stderr


def test_region_from_aws_region_alone(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the sample's state, and the region given only by AWS_REGION (as the --region help says is enough)
    build_approval_state(Clients.of(aws))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", aws.region)

    # WHEN passing.json is planned
    status, printed, stderr = run_cli("plan", str(approval_event_path("passing")), "--policy", str(POLICY))

    # THEN it is planned as with AWS_DEFAULT_REGION
    assert (status, [line["outcome"] for line in printed]) == (0, ["updated"]), stderr


# registrar policy check --------------------------------------------------------------------------


def test_policy_check_exits_0_and_explains_each_rule() -> None:
    # GIVEN the demo policy, three rules
    # WHEN it is checked
    status, stdout, _ = run_plain("policy", "check", str(POLICY))

    # THEN the command exits 0 and prints one plain sentence per rule, naming its groups, thresholds and failure
    rules = [line for line in stdout.splitlines() if line.startswith("rule ")]
    assert status == 0
    assert [line.split(":", 1)[0] for line in rules] == [
        "rule 1 (groups churn-*)",
        "rule 2 (groups fraud-*)",
        "rule 3 (groups credit-risk)",
    ]
    assert "approve when auc (binary_classification_metrics.auc.value) ≥ 0.85" in rules[0]
    assert "otherwise reject" in rules[0]
    assert "otherwise hold for a human" in rules[2]


def test_broken_policy_exits_2_naming_the_line(tmp_path: pathlib.Path) -> None:
    # GIVEN a policy whose threshold on line 6 is not a number
    path = tmp_path / "policy.yaml"
    path.write_text(BROKEN_POLICY)

    # WHEN it is checked
    status, _, stderr = run_plain("policy", "check", str(path))

    # THEN the command exits 2 with one line naming the file, the line and the field
    assert status == 2
    assert one_line(stderr).startswith(f"registrar: {path}:6: rules.0.approve_when.0.min")


# registrar emulator ------------------------------------------------------------------------------

ENDPOINT_LINE = re.compile(r"endpoint: (http://127\.0\.0\.1:([0-9]+))")


@dataclass
class EmulatorProcess:
    process: subprocess.Popen[str]
    first_line: str

    @property
    def endpoint(self) -> str:
        match = ENDPOINT_LINE.fullmatch(self.first_line)
        assert match is not None, self.first_line
        return match.group(1)


def start_emulator_process() -> EmulatorProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", "registrar_cli.main", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    return EmulatorProcess(process, process.stdout.readline().rstrip("\n"))


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[EmulatorProcess]:
    """`registrar emulator --port 0` running as its own process."""
    started = start_emulator_process()
    yield started
    stop(started.process)


def test_emulator_prints_endpoint_first(emulator_process: EmulatorProcess) -> None:
    # GIVEN/WHEN `registrar emulator --port 0` started
    # THEN its first line is the endpoint on loopback, on the free port it picked
    match = ENDPOINT_LINE.fullmatch(emulator_process.first_line)
    assert match is not None and int(match.group(2)) > 0


def test_emulator_keeps_approval_status_on_metadata_only_update(emulator_process: EmulatorProcess) -> None:
    # GIVEN an Approved package, created by a plain boto3 script against the emulator process
    sagemaker = boto3.client("sagemaker", endpoint_url=emulator_process.endpoint, region_name="us-east-1")
    sagemaker.create_model_package_group(ModelPackageGroupName="cli-emulator")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="cli-emulator",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]

    # WHEN the script updates only its metadata
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"team": "ml"})

    # THEN, as in SageMaker (unlike plain moto), the approval status is kept and the metadata set
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert (described["ModelApprovalStatus"], described["CustomerMetadataProperties"]) == ("Approved", {"team": "ml"})


def test_emulator_exits_0_on_sigint() -> None:
    # GIVEN `registrar emulator --port 0` serving
    started = start_emulator_process()
    try:
        assert ENDPOINT_LINE.fullmatch(started.first_line)

        # WHEN it receives SIGINT
        started.process.send_signal(signal.SIGINT)

        # THEN it stops with exit status 0
        assert started.process.wait(timeout=15) == 0
    finally:
        stop(started.process)


# registrar emulator and demo without the development extra ----------------------------------------

# `registrar` with some modules missing: a finder ahead of every other refuses them as the import system does when
# none finds a module (ModuleNotFoundError naming it). Nothing registrar imports has been imported yet.
WITHOUT_MODULES = """
import sys

missing = set(sys.argv[1].split(","))
assert not missing & {name.split(".")[0] for name in sys.modules}, "already imported"


class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in missing:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Missing())
from registrar_cli.main import main

sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("command", [["emulator", "--port", "0"], ["demo"]], ids=["emulator", "demo"])
@pytest.mark.parametrize(
    "missing",
    [
        "registrar_dev",  # an install without the development package at all
        "moto",  # `pip install .`: the development package is installed (tools/ is packaged), moto is not
    ],
)
def test_a_development_command_without_the_dev_extra_exits_2_with_one_line(missing: str, command: list[str]) -> None:
    # GIVEN `registrar` where `missing` cannot be imported
    # WHEN a command of the development extra runs
    finished = subprocess.run(
        [sys.executable, "-c", WITHOUT_MODULES, missing, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )

    # THEN it exits 2 with one line naming the command, the missing module and how to install it; nothing on stdout
    assert (finished.returncode, finished.stdout) == (2, ""), finished.stderr
    line = one_line(finished.stderr)
    assert line.startswith(
        f"registrar: `registrar {command[0]}` needs the development extra ({missing} is not installed)"
    )
    assert "pip install 'registrar[dev]'" in line


# registrar redrive -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redriven:
    status: int
    printed: list[dict[str, Any]]
    stderr: str
    source_url: str
    dlq_url: str
    sent: list[str]  # the bodies put in the DLQ
    source_bodies: list[str]  # the bodies in the source queue afterwards
    dlq_depth: tuple[int, int]  # (visible, in flight) in the DLQ afterwards


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [message["Body"] for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.fixture
def redriven(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> Redriven:
    """A source queue whose redrive policy names a DLQ holding 3 messages; `registrar redrive DLQ --endpoint-url`."""
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    dlq_url = sqs.create_queue(QueueName="registrar-neo-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source_url = sqs.create_queue(
        QueueName="registrar-neo",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
    )["QueueUrl"]
    sent = [json.dumps({"record": index}) for index in range(3)]
    for message in sent:
        sqs.send_message(QueueUrl=dlq_url, MessageBody=message)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only --endpoint-url points at the emulator

    status, printed, stderr = run_cli("redrive", "registrar-neo-dlq", "--endpoint-url", aws.endpoint)

    attributes = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    depth = (int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"]))
    return Redriven(status, printed, stderr, source_url, dlq_url, sent, drain(sqs, source_url), depth)


def test_redrive_moves_every_dlq_message_to_the_source_queue(redriven: Redriven) -> None:
    # GIVEN 3 messages in the dead-letter queue of registrar-neo
    # WHEN `registrar redrive registrar-neo-dlq --endpoint-url ...` ran
    # THEN it exited 0, the 3 bodies are in the source queue, and the DLQ is empty
    assert redriven.status == 0
    assert sorted(redriven.source_bodies) == sorted(redriven.sent)
    assert redriven.dlq_depth == (0, 0)


def test_redrive_prints_one_line_per_moved_message(redriven: Redriven) -> None:
    # GIVEN 3 messages in the dead-letter queue of registrar-neo
    # WHEN `registrar redrive` ran
    # THEN it printed one JSON line per message, from the DLQ to the source, and the count on stderr
    assert [(line["from"], line["to"]) for line in redriven.printed] == [(redriven.dlq_url, redriven.source_url)] * 3
    assert len({line["message_id"] for line in redriven.printed}) == 3
    assert one_line(redriven.stderr) == "registrar: moved 3 message(s)"


def test_redrive_to_a_named_queue_moves_a_rule_targets_dlq(aws: Emulator) -> None:
    # GIVEN a rule target's DLQ (no queue's redrive policy names it) holding 2 events, and the flow's queue
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    rule_dlq = sqs.create_queue(QueueName="registrar-approval-rule-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName="registrar-approval")["QueueUrl"]
    sent = [json.dumps({"event": index}) for index in range(2)]
    for message in sent:
        sqs.send_message(QueueUrl=rule_dlq, MessageBody=message)

    # WHEN `registrar redrive registrar-approval-rule-dlq --to registrar-approval` runs
    status, printed, _ = run_cli(
        "redrive", "registrar-approval-rule-dlq", "--to", "registrar-approval", "--endpoint-url", aws.endpoint
    )

    # THEN both events are in the flow's queue and the DLQ is empty
    assert status == 0
    assert len(printed) == 2
    assert sorted(drain(sqs, queue)) == sorted(sent)
    assert drain(sqs, rule_dlq) == []


def test_redrive_without_a_source_says_to_name_one(aws: Emulator) -> None:
    # GIVEN a DLQ no queue names, and no --to
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    sqs.create_queue(QueueName="registrar-neo-rule-dlq")

    # WHEN redrive runs THEN it refuses with exit 2 and says what to do
    status, _, stderr = run_cli("redrive", "registrar-neo-rule-dlq", "--endpoint-url", aws.endpoint)
    assert status == 2
    assert "name the source" in stderr


def dlq_with_messages(aws: Emulator, count: int) -> tuple[Any, str, str]:
    """A queue registrar-approval and its DLQ registrar-approval-dlq holding ``count`` messages: (sqs, dlq, source)."""
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=aws.region)
    dlq_url = sqs.create_queue(QueueName="registrar-approval-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source_url = sqs.create_queue(
        QueueName="registrar-approval",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
    )["QueueUrl"]
    for index in range(count):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"record": index}))
    return sqs, dlq_url, source_url


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.mark.timeout(30)  # moving a queue onto itself used to loop for ever
@pytest.mark.parametrize(("queue", "to"), [("name", "name"), ("name", "url"), ("url", "name")])
def test_redrive_of_a_queue_onto_itself_is_refused_at_once(aws: Emulator, queue: str, to: str) -> None:
    # GIVEN a DLQ holding 2 messages
    sqs, dlq_url, _ = dlq_with_messages(aws, 2)
    spelt = {"name": "registrar-approval-dlq", "url": dlq_url}

    # WHEN it is redriven onto itself, by name or URL
    status, printed, stderr = run_cli("redrive", spelt[queue], "--to", spelt[to], "--endpoint-url", aws.endpoint)

    # THEN it is refused with exit 2 and one line, and the DLQ was not touched
    assert (status, printed) == (2, [])
    assert one_line(stderr).startswith(f"registrar: cannot redrive {spelt[queue]} onto itself")
    assert depth(sqs, dlq_url) == (2, 0)


def test_redrive_to_a_url_that_is_no_queue_exits_2(aws: Emulator) -> None:
    # GIVEN a DLQ holding a message, and a URL where no queue is
    sqs, dlq_url, _ = dlq_with_messages(aws, 1)
    nowhere = dlq_url.replace("registrar-approval-dlq", "no-such-queue")

    # WHEN the DLQ is redriven to that URL
    status, printed, stderr = run_cli("redrive", dlq_url, "--to", nowhere, "--endpoint-url", aws.endpoint)

    # THEN it is refused with exit 2 and one line naming the URL, and the message stays in the DLQ
    assert (status, printed) == (2, [])
    assert one_line(stderr) == f"registrar: no queue at {nowhere}"
    assert depth(sqs, dlq_url) == (1, 0)


class Watched(io.StringIO):
    """stdout that notes, as each line is written, how many messages the source queue holds."""

    def __init__(self, sqs: Any, url: str) -> None:
        super().__init__()
        self.sqs, self.url = sqs, url
        self.source_depths: list[int] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.source_depths.append(depth(self.sqs, self.url)[0])
        return super().write(text)


def test_redrive_prints_each_message_as_it_moves(aws: Emulator) -> None:
    # GIVEN a DLQ holding 3 messages, and stdout watching the source queue
    sqs, _, source_url = dlq_with_messages(aws, 3)
    out, err = Watched(sqs, source_url), io.StringIO()

    # WHEN the DLQ is redriven
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["redrive", "registrar-approval-dlq", "--endpoint-url", aws.endpoint])

    # THEN each line was printed as its message reached the source queue, not all at the end
    assert status == 0
    assert out.source_depths == [1, 2, 3]
    assert len(out.getvalue().splitlines()) == 3
    assert one_line(err.getvalue()) == "registrar: moved 3 message(s)"


@pytest.fixture
def sampling_sqs(aws: Emulator) -> Iterator[list[int]]:
    """registrar's SQS client of the emulator, answering a short poll with nothing, as SQS may.

    A short poll (WaitTimeSeconds=0) asks only a sample of SQS's servers, which may hold none of the
    queue's messages; a long poll asks them all. Yields the WaitTimeSeconds of every ReceiveMessage.
    """
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    aws_clients.reset_clients()
    client = aws_clients.client("sqs", aws.endpoint)  # the very client the CLI gets for --endpoint-url
    waits: list[int] = []

    def note_wait(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["wait"] = params.get("WaitTimeSeconds", 0)
        waits.append(context["wait"])

    def sample(context: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if context.get("wait"):
            return None
        return AWSResponse(aws.endpoint, 200, HTTPHeaders(), None), {"ResponseMetadata": {"HTTPStatusCode": 200}}

    client.meta.events.register("before-parameter-build.sqs.ReceiveMessage", note_wait)
    client.meta.events.register("before-call.sqs.ReceiveMessage", sample)
    yield waits
    aws_clients.reset_clients()


def test_redrive_long_polls_so_an_empty_sample_does_not_end_it(aws: Emulator, sampling_sqs: list[int]) -> None:
    # GIVEN a DLQ holding 3 messages, on an SQS whose short polls may sample no message
    sqs, dlq_url, source_url = dlq_with_messages(aws, 3)

    # WHEN the DLQ is redriven
    status, printed, stderr = run_cli("redrive", "registrar-approval-dlq", "--endpoint-url", aws.endpoint)

    # THEN all 3 messages moved, every receive having long-polled
    assert status == 0
    assert (len(printed), one_line(stderr)) == (3, "registrar: moved 3 message(s)")
    assert depth(sqs, dlq_url) == (0, 0)
    assert len(drain(sqs, source_url)) == 3
    assert all(wait >= 1 for wait in sampling_sqs), sampling_sqs


def test_redrive_that_cannot_delete_loses_nothing_and_says_so(aws: Emulator) -> None:
    # GIVEN a DLQ holding 2 messages, whose deletes fail
    sqs, dlq_url, source_url = dlq_with_messages(aws, 2)
    aws_clients.reset_clients()  # clients copy the session's handlers when created: the injector first
    with FaultInjector(services={"sqs"}).install() as faults:
        for operation in ("DeleteMessage", "DeleteMessageBatch"):
            faults.always_fail("access_denied", service="sqs", operation=operation)

        # WHEN the DLQ is redriven
        status, printed, stderr = run_cli("redrive", "registrar-approval-dlq", "--endpoint-url", aws.endpoint)
    aws_clients.reset_clients()

    # THEN it stops at the first message, exits 1 with one line saying it is in both queues;
    # it was sent before the failed delete, so it is in the source queue and still in the DLQ: nothing lost
    assert (status, printed) == (1, [])
    line = one_line(stderr)
    assert line.startswith("registrar: AWS call failed after moving 0 message(s): message ")
    assert f"was sent to {source_url}" in line
    assert f"but is still in {dlq_url}" in line
    assert "AccessDenied" in line
    assert len(drain(sqs, source_url)) == 1
    assert sum(depth(sqs, dlq_url)) == 2
