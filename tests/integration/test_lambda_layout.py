"""The layer synth builds, run: a handler imported from the staged function code and the layer alone, end to end.

The layer is built from requirements/runtime.txt with botocore's data pruned, as for Lambda, but for this
machine (infra.lambda_layout); the child runs ``python -S``, so nothing of the development environment
can stand in for what the layer lacks. A first run on a cold cache downloads the wheels from PyPI.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

import boto3
import pytest

from infra.lambda_layout import LambdaLayout, build_layout
from infra.layer import KEPT_SERVICES
from registrar.approval.policy import deployable_json
from registrar.aws import OPERATIONS
from registrar_dev.emulator import Emulator
from registrar_dev.support import (
    create_compilation_job,
    create_idempotency_table,
    create_processing_job,
    emulator_client,
    emulator_credentials,
    sqs_event,
)
from tests.conftest import EVENTS

BUCKET = "registrar-test-artifacts"
TABLE = "registrar-layout-idempotency"
PARAMETER = "/registrar/layout-policy"
ROLE = "arn:aws:iam::123456789012:role/registrar-test"
WORKLOAD = "111111111111"
WORKLOAD_BUCKET = "registrar-test-workload-reports"
APPROVAL_ROLE = "registrar-approval-us-east-1"

# The child: import the handler, report what it imported from where, handle the event it is given.
CHILD = """\
import json, sys
from handlers.{module} import handler
import boto3, botocore, pydantic

class Context:
    function_name = "registrar-layout"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:registrar-layout"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/registrar-layout"
    log_stream_name = "layout"
    def get_remaining_time_in_millis(self):
        return 60000

result = handler(json.loads(sys.argv[1]), Context())
dev_only = ("moto", "registrar_dev", "registrar_cli", "aws_cdk")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in dev_only)
print("RESULT " + json.dumps({{
    "result": result,
    "botocore": [botocore.__version__, botocore.__file__],
    "boto3": boto3.__version__,
    "pydantic": pydantic.__version__,
    "loaded": loaded,
}}))
"""


@pytest.fixture(scope="module")
def layout() -> LambdaLayout:
    return build_layout()


def run_handler(
    layout: LambdaLayout, emulator: Emulator, module: str, event: dict[str, Any], **variables: str
) -> dict[str, Any]:
    environment = layout.environment(
        {
            "AWS_ENDPOINT_URL": emulator.endpoint,
            "AWS_REGION": emulator.region,
            "AWS_DEFAULT_REGION": emulator.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "registrar-tests",
            "REGISTRAR_TABLE_NAME": TABLE,
            "REGISTRAR_POLICY_PARAMETER": PARAMETER,
            "REGISTRAR_REPORT_LOCATIONS": f"s3://{BUCKET}/",
            "REGISTRAR_MANAGED_GROUPS": "churn-*",
            **variables,
        }
    )
    done = subprocess.run(
        layout.command(CHILD.format(module=module), json.dumps(event)),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


@pytest.fixture
def deployed_state(aws: Emulator, make_package: Callable[..., str]) -> Callable[[], str]:
    """The table and the SSM policy as the stack deploys them; returns a factory of passing churn versions."""
    create_idempotency_table(boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name=aws.region), TABLE)
    boto3.client("ssm", endpoint_url=aws.endpoint, region_name=aws.region).put_parameter(
        Name=PARAMETER, Value=deployable_json(EVENTS / "policy.yaml"), Type="String"
    )
    s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name=aws.region)
    s3.create_bucket(Bucket=BUCKET)
    report = (EVENTS / "approval" / "reports" / "passing.json").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="churn-model/evaluation.json", Body=report)
    return lambda: make_package("churn-model")


def test_the_approval_handler_runs_on_the_layer_alone_with_the_sdk_the_tests_run(
    layout: LambdaLayout, aws: Emulator, deployed_state: Callable[[], str]
) -> None:
    # GIVEN a passing version, the deployed table and policy, and the layer built from the lock file
    arn = deployed_state()
    event = json.loads((EVENTS / "approval" / "passing.json").read_text())
    event["detail"]["ModelPackageArn"] = arn
    # WHEN the approval handler, imported from the staged function code and the layer only, handles it
    reported = run_handler(layout, aws, "approval", sqs_event([json.dumps(event)]))
    # THEN the version is Approved, with the very botocore and pydantic this test environment runs, from the layer
    assert reported["result"] == {"batchItemFailures": []}
    sagemaker = boto3.client("sagemaker", endpoint_url=aws.endpoint, region_name=aws.region)
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
    version, location = reported["botocore"]
    assert version == metadata.version("botocore")
    assert location.startswith(str(layout.layer))
    assert reported["boto3"] == metadata.version("boto3")
    assert reported["pydantic"] == metadata.version("pydantic")
    # AND nothing of the development tools was imported
    assert reported["loaded"] == []


def test_the_neo_handler_runs_on_the_layer_alone(
    layout: LambdaLayout, aws: Emulator, deployed_state: Callable[[], str]
) -> None:
    # GIVEN a compilation job of a churn version's own model, announced as the sweeper announces it
    arn = deployed_state()
    sagemaker = boto3.client("sagemaker", endpoint_url=aws.endpoint, region_name=aws.region)
    create_compilation_job(sagemaker, "churn-layout-ml-c5", "ml_c5", f"s3://{BUCKET}/neo/", role=ROLE, package_arn=arn)
    job = sagemaker.describe_compilation_job(CompilationJobName="churn-layout-ml-c5")
    event = json.loads((EVENTS / "neo" / "completed-ml-c5.json").read_text())
    event["detail"].update(CompilationJobName=job["CompilationJobName"], CompilationJobArn=job["CompilationJobArn"])
    # WHEN the Neo handler, from the staged code and the layer only, handles it
    reported = run_handler(layout, aws, "neo_registration", sqs_event([json.dumps(event)]))
    # THEN the compiled model is attached to the version
    assert reported["result"] == {"batchItemFailures": []}
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    assert [spec["Name"].startswith("neo-ml-c5-") for spec in package["AdditionalInferenceSpecifications"]] == [True]


def test_the_approval_handler_reads_a_workload_accounts_evidence_through_its_role_on_the_layer_alone(
    layout: LambdaLayout, aws: Emulator, deployed_state: Callable[[], str], make_package: Callable[..., str]
) -> None:
    # GIVEN the registry's credit-risk version, and in a workload account the evidence role trusting the approval
    # function's role, a bucket with the evaluation's report and the evaluation job that wrote it
    deployed_state()
    arn = make_package("credit-risk")
    iam = emulator_client("iam", aws.endpoint)
    iam.create_role(
        RoleName=APPROVAL_ROLE, AssumeRolePolicyDocument=json.dumps(trust({"Service": "lambda.amazonaws.com"}))
    )
    caller = f"arn:aws:iam::{aws.account_id}:role/{APPROVAL_ROLE}"
    evidence_trust = trust({"AWS": f"arn:aws:iam::{aws.account_id}:root"}, {"ArnEquals": {"aws:PrincipalArn": caller}})
    workload = {
        service: emulator_client(service, aws.endpoint, account=WORKLOAD) for service in ("iam", "s3", "sagemaker")
    }
    workload["iam"].create_role(
        RoleName="registrar-evidence-reader", AssumeRolePolicyDocument=json.dumps(evidence_trust)
    )
    workload["s3"].create_bucket(Bucket=WORKLOAD_BUCKET)
    report = (EVENTS / "approval" / "reports" / "processing.json").read_bytes()
    workload["s3"].put_object(Bucket=WORKLOAD_BUCKET, Key="credit-risk-w/evaluation/evaluation.json", Body=report)
    model = "s3://registrar-test-artifacts/credit-risk/model.tar.gz"
    output = f"s3://{WORKLOAD_BUCKET}/credit-risk-w/evaluation"
    create_processing_job(workload["sagemaker"], "credit-risk-w", arn, output, role=ROLE, model_uri=model)
    job = workload["sagemaker"].describe_processing_job(ProcessingJobName="credit-risk-w")
    event = json.loads(
        (EVENTS / "approval" / "processing-completed.json").read_text().replace(aws.account_id, WORKLOAD)
    )
    event["detail"].update(ProcessingJobName="credit-risk-w", ProcessingJobArn=job["ProcessingJobArn"])
    event["resources"] = [job["ProcessingJobArn"]]
    # WHEN the approval handler, from the staged code and the layer only, running as its function role, handles
    # the workload's forwarded event
    credentials = emulator_credentials(aws.endpoint, caller)
    reported = run_handler(
        layout,
        aws,
        "approval",
        sqs_event([json.dumps(event)]),
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
        REGISTRAR_MANAGED_GROUPS="credit-risk",
        REGISTRAR_REGISTRY_ACCOUNT=aws.account_id,
        REGISTRAR_WORKLOAD_ACCOUNTS=json.dumps(
            {
                WORKLOAD: {
                    "report_locations": [f"s3://{WORKLOAD_BUCKET}/"],
                    "neo_output_locations": ["s3://registrar-test-workload-compiled/"],
                }
            }
        ),
    )
    # THEN the layer's botocore assumed the evidence role, read the job and the report there, and approved the version
    assert reported["result"] == {"batchItemFailures": []}
    sagemaker = boto3.client("sagemaker", endpoint_url=aws.endpoint, region_name=aws.region)
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved", described.get("ApprovalDescription")
    assert described["CustomerMetadataProperties"]["registrar:evidence"].startswith(f"s3://{WORKLOAD_BUCKET}/")


def trust(principal: dict[str, str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """A role's trust policy: ``principal`` may assume it, under ``condition``."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return {"Version": "2012-10-17", "Statement": [{**statement, **({"Condition": condition} if condition else {})}]}


def test_the_deployment_handler_runs_on_the_layer_alone(
    layout: LambdaLayout, aws: Emulator, deployed_state: Callable[[], str]
) -> None:
    # GIVEN an endpoint serving a churn version, and its IN_SERVICE event as SageMaker sends it
    arn = deployed_state()
    sagemaker = boto3.client("sagemaker", endpoint_url=aws.endpoint, region_name=aws.region)
    sagemaker.create_model(ModelName="churn-layout", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arn}])
    sagemaker.create_endpoint_config(
        EndpointConfigName="churn-layout",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "churn-layout",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    endpoint = sagemaker.create_endpoint(EndpointName="churn-layout", EndpointConfigName="churn-layout")["EndpointArn"]
    event = json.loads((EVENTS / "deployment" / "in-service.json").read_text())
    event["resources"] = [endpoint]
    event["detail"].update(EndpointName="churn-layout", EndpointArn=endpoint, EndpointConfigName="churn-layout")
    # WHEN the deployment handler, from the staged code and the layer only, handles it
    reported = run_handler(layout, aws, "deployment", sqs_event([json.dumps(event)]))
    # THEN the version records where it went live
    assert reported["result"] == {"batchItemFailures": []}
    metadata = sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]
    assert metadata["registrar:deployed:churn-layout"].startswith("live since ")


def test_the_sweeper_runs_on_the_layer_alone(
    layout: LambdaLayout, aws: Emulator, deployed_state: Callable[[], str]
) -> None:
    # GIVEN a finished compilation job of a churn version
    arn = deployed_state()
    sagemaker = boto3.client("sagemaker", endpoint_url=aws.endpoint, region_name=aws.region)
    create_compilation_job(sagemaker, "churn-layout-sweep", "ml_c5", f"s3://{BUCKET}/neo/", role=ROLE, package_arn=arn)
    # WHEN the sweeper, from the staged code and the layer only, runs on its schedule
    reported = run_handler(layout, aws, "sweeper", {"source": "aws.events", "detail-type": "Scheduled Event"})
    # THEN it listed the job, announced it on the bus, and kept its watermark in the table
    assert reported["result"]["found"] >= 1
    assert reported["result"]["published"] >= 1
    assert reported["result"]["watermark"] is not None


def test_the_decision_page_handler_runs_on_the_layer_alone(
    layout: LambdaLayout, aws: Emulator, deployed_state: Callable[[], str]
) -> None:
    # GIVEN a held churn version, the links' signing keys in Secrets Manager, and a link to the version
    import base64
    from datetime import UTC, datetime, timedelta

    from registrar.decisions.links import DEFAULT_SIGNING_SECRET, SigningKey, mint, new_capability
    from registrar_cli.serve import function_url_event

    arn = deployed_state()
    key = SigningKey("layout", b"l" * 32)
    secret = {"current": {"id": key.key_id, "key": base64.b64encode(key.secret).decode()}}
    boto3.client("secretsmanager", endpoint_url=aws.endpoint, region_name=aws.region).create_secret(
        Name=DEFAULT_SIGNING_SECRET, SecretString=json.dumps(secret)
    )
    capability = new_capability(arn, "alice@example.com", ttl=timedelta(days=1), now=datetime.now(UTC))
    domain = "abcdefgh.lambda-url.us-east-1.on.aws"
    event = function_url_event(
        "GET", f"/decide?token={mint(capability, key)}", [("host", domain)], b"", domain=domain, source_ip="192.0.2.1"
    )
    # WHEN the page's handler, from the staged code and the layer only, answers the link
    reported = run_handler(layout, aws, "decision_page", event)
    # THEN the layer's Jinja2 rendered the version's page, with its headers, and no development tool was imported
    result = reported["result"]
    assert result["statusCode"] == 200, result["body"][:500]
    assert "churn-model" in result["body"] and 'value="approve"' in result["body"]
    assert result["headers"]["Content-Security-Policy"].startswith("default-src 'none'; style-src 'sha256-")
    assert reported["loaded"] == []


def test_the_layers_botocore_knows_only_the_services_registrar_calls(layout: LambdaLayout) -> None:
    # GIVEN the layer's pruned botocore WHEN a client of a kept service and of another are made
    code = """\
import botocore.session, botocore.exceptions
session = botocore.session.get_session()
print(sorted(session.get_available_services()))
session.create_client("sagemaker", region_name="us-east-1")
try:
    session.create_client("sqs", region_name="us-east-1")
except botocore.exceptions.UnknownServiceError:
    print("sqs unknown")
"""
    done = subprocess.run(
        layout.command(code), env=layout.environment({}), capture_output=True, text=True, check=True, timeout=60
    )
    # THEN botocore lists exactly the kept services, and refuses the other one with its own error
    services, refused = done.stdout.splitlines()
    assert ast.literal_eval(services) == sorted(KEPT_SERVICES)  # a list literal printed by the child
    assert refused == "sqs unknown"


# One call of each operation the layer keeps, with the parameters its request needs.
CALLS: dict[str, dict[str, dict[str, Any]]] = {
    "dynamodb": {
        "DeleteItem": {"TableName": "t", "Key": {"id": {"S": "k"}}},
        "GetItem": {"TableName": "t", "Key": {"id": {"S": "k"}}},
        "PutItem": {"TableName": "t", "Item": {"id": {"S": "k"}}, "ConditionExpression": "attribute_not_exists(id)"},
        "UpdateItem": {
            "TableName": "t",
            "Key": {"id": {"S": "k"}},
            "UpdateExpression": "SET a = :a",
            "ExpressionAttributeValues": {":a": {"N": "1"}},
        },
    },
    "events": {"PutEvents": {"Entries": [{"Source": "registrar", "DetailType": "d", "Detail": "{}"}]}},
    "s3": {"GetObject": {"Bucket": "registrar-reports", "Key": "churn/1/evaluation.json", "IfMatch": '"e"'}},
    "sagemaker": {
        "DescribeCompilationJob": {"CompilationJobName": "j"},
        "DescribeEndpoint": {"EndpointName": "e"},
        "DescribeEndpointConfig": {"EndpointConfigName": "c"},
        "DescribeModel": {"ModelName": "m"},
        "DescribeModelPackage": {"ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/c/1"},
        "DescribeProcessingJob": {"ProcessingJobName": "p"},
        "ListCompilationJobs": {"StatusEquals": "COMPLETED", "LastModifiedTimeAfter": 1_700_000_000},
        "ListModelPackages": {"ModelPackageGroupName": "churn", "ModelApprovalStatus": "Approved"},
        "ListTags": {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/p"},
        "UpdateModelPackage": {
            "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/c/1",
            "ModelApprovalStatus": "Approved",
            "CustomerMetadataProperties": {"registrar:verdict": "Approved"},
            "ClientToken": "0000-token",
        },
    },
    "secretsmanager": {"GetSecretValue": {"SecretId": "registrar/decision-links"}},
    "sesv2": {
        "SendEmail": {
            "FromEmailAddress": "registrar@example.com",
            "Destination": {"ToAddresses": ["lead@example.com"]},
            "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        }
    },
    "sts": {
        "AssumeRole": {"RoleArn": "arn:aws:iam::111111111111:role/registrar-evidence-reader", "RoleSessionName": "r"}
    },
    "ssm": {
        "GetParameter": {"Name": "/registrar/policy"},
        "GetParameters": {"Names": ["/registrar/policy"]},
        "GetParametersByPath": {"Path": "/registrar"},
    },
}
SETTINGS: tuple[dict[str, bool], ...] = ({}, {"use_fips_endpoint": True}, {"use_dualstack_endpoint": True})
REGIONS = ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1")
# Builds each request with a botocore (whichever is on the path) and prints what would be sent, sending nothing.
REQUESTS = """\
import json, sys
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.awsrequest import AWSResponse

calls, settings, regions = json.loads(sys.argv[1])
seen = []

def capture(request, **kwargs):
    varying = ("X-Amz-Date", "Authorization", "User-Agent", "amz-sdk-invocation-id", "amz-sdk-request",
               "X-Amz-Content-SHA256", "Content-Length")
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items() if k not in varying}
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    seen.append([request.method, request.url, sorted(headers.items()), body])
    raise RuntimeError("sent")  # nothing leaves the process

session = botocore.session.get_session()
session.set_credentials("AKIDEXAMPLE", "secret")
for service, operations in calls.items():
    for region in regions:
        for setting in settings:
            try:
                config = Config(retries={"max_attempts": 1}, **setting)
                client = session.create_client(service, region_name=region, config=config)
            except Exception as error:
                seen.append([service, region, setting, "no client: " + type(error).__name__])
                continue
            client.meta.events.register("before-send", capture)
            for operation, params in sorted(operations.items()):
                try:
                    getattr(client, xform_name(operation))(**params)
                except RuntimeError:
                    pass
                except Exception as error:
                    seen.append([service, operation, region, setting, type(error).__name__])
print(json.dumps(seen))
"""


def built_requests(command: list[str], environment: dict[str, str]) -> list[Any]:
    arguments = json.dumps([CALLS, list(SETTINGS), list(REGIONS)])
    done = subprocess.run([*command, arguments], env=environment, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    requests: list[Any] = json.loads(done.stdout.splitlines()[-1])
    return requests


def test_the_layers_trimmed_botocore_builds_the_requests_whole_botocore_builds(layout: LambdaLayout) -> None:
    # GIVEN every operation the layer keeps, in four partitions' regions, plain, FIPS and dual-stack
    assert {service: set(operations) for service, operations in CALLS.items()} == {
        service: set(operations) for service, operations in OPERATIONS.items()
    }
    # WHEN the layer's botocore (pruned, trimmed) and this environment's whole botocore build each request
    trimmed = built_requests(layout.command(REQUESTS), layout.environment({}))
    whole = built_requests([sys.executable, "-c", REQUESTS], {"PATH": os.environ["PATH"]})
    # THEN they are the same requests, URL, headers and body, to the byte
    assert len(trimmed) >= len(REGIONS) * len(SETTINGS) * sum(len(o) for o in CALLS.values()) // 2
    assert trimmed == whole
