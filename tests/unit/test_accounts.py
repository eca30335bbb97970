"""registrar.accounts: which accounts registrar trusts, and which credentials reach each."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from registrar import aws
from registrar.accounts import Accounts, UntrustedAccountError, arn_account
from registrar.errors import ConfigurationError
from registrar.reports import ReportRefusedError, ReportStore
from registrar.settings import Settings, WorkloadAccount

REGISTRY = "222222222222"
DEV = "111111111111"
PROD = "333333333333"
UNLISTED = "999999999999"

WORKLOADS = {
    DEV: WorkloadAccount(
        report_locations=["s3://dev-evaluations/reports/"], neo_output_locations=["s3://dev-evaluations/compiled/"]
    ),
    PROD: WorkloadAccount(
        report_locations=["s3://prod-evaluations/reports/"], neo_output_locations=["s3://prod-compiled/neo/"]
    ),
}


def trusted(**overrides: Any) -> Accounts:
    return Accounts(**{"registry": REGISTRY, "workloads": WORKLOADS, "region": "eu-west-1", **overrides})


# --- events ------------------------------------------------------------------------------------


@pytest.mark.parametrize("account", [REGISTRY, DEV, PROD])
def test_events_of_the_home_account_and_of_listed_workloads_are_accepted(account: str) -> None:
    assert trusted().event_refusal(account, home=REGISTRY) is None


def test_an_event_of_an_unlisted_account_is_refused_naming_who_is_trusted() -> None:
    reason = trusted().event_refusal(UNLISTED, home=REGISTRY)
    assert reason == (
        f"the event is about account {UNLISTED}: neither the account registrar runs in ({REGISTRY}) nor a listed "
        f"workload account ({DEV}, {PROD})"
    )


def test_with_one_account_the_refusal_reads_as_before() -> None:
    assert Accounts().event_refusal(UNLISTED, home=REGISTRY) == (
        f"the event is about account {UNLISTED}, this function runs in {REGISTRY}"
    )


# --- versions ----------------------------------------------------------------------------------


def test_a_version_of_the_registry_account_may_be_acted_on_whoever_named_it() -> None:
    arn = f"arn:aws:sagemaker:eu-west-1:{REGISTRY}:model-package/churn/3"
    assert trusted().version_refusal(arn, named_in=DEV) is None


@pytest.mark.parametrize("account", [DEV, UNLISTED])
def test_a_version_of_any_other_account_is_refused(account: str) -> None:
    arn = f"arn:aws:sagemaker:eu-west-1:{account}:model-package/churn/3"
    reason = trusted().version_refusal(arn, named_in=DEV)
    assert reason is not None and f"is in account {account}" in reason and REGISTRY in reason


def test_without_a_registry_account_the_naming_account_is_the_registry() -> None:
    arn = f"arn:aws:sagemaker:eu-west-1:{DEV}:model-package/churn/3"
    assert Accounts().version_refusal(arn, named_in=DEV) is None
    assert Accounts().version_refusal(arn, named_in=PROD) is not None


# --- evidence locations ------------------------------------------------------------------------


def test_a_report_belongs_to_the_workload_whose_locations_hold_it() -> None:
    accounts = trusted()
    assert accounts.owner_of_report("s3://dev-evaluations/reports/job/evaluation.json") == DEV
    assert accounts.owner_of_report("s3://prod-evaluations/reports/a.json") == PROD
    assert accounts.owner_of_report("s3://registry-reports/evaluations/a.json") is None
    # A prefix matches whole path segments only: a look-alike bucket is nobody's.
    assert accounts.owner_of_report("s3://dev-evaluations/reports-other/a.json") is None


def test_a_workload_job_must_write_compiled_models_to_its_own_locations() -> None:
    own = ["s3://registry-reports/compiled/"]
    assert trusted().neo_output_locations(DEV, own) == ["s3://dev-evaluations/compiled/"]
    assert trusted().neo_output_locations(PROD, own) == ["s3://prod-compiled/neo/"]
    assert trusted().neo_output_locations(REGISTRY, own) == own


# --- credentials -------------------------------------------------------------------------------


def test_the_evidence_role_is_named_in_the_workload_account_and_partition() -> None:
    assert trusted().role_arn(DEV) == f"arn:aws:iam::{DEV}:role/registrar-evidence-reader"
    china = trusted(region="cn-north-1", evidence_role="reader")
    assert china.role_arn(PROD) == f"arn:aws-cn:iam::{PROD}:role/reader"


@pytest.mark.parametrize("account", [UNLISTED, REGISTRY])
def test_an_account_not_listed_as_a_workload_is_never_assumed_into(account: str) -> None:
    with pytest.raises(UntrustedAccountError, match=f"account {account} is not a listed workload account"):
        trusted().role_arn(account)


def test_a_client_for_an_unlisted_account_is_refused_and_the_registry_gets_its_own() -> None:
    accounts = trusted()
    with pytest.raises(UntrustedAccountError, match=f"account {UNLISTED} is neither the registry account"):
        accounts.client("s3", UNLISTED)
    assert accounts.client("s3", REGISTRY) is aws.client("s3", None, "eu-west-1")
    assert accounts.client("s3", None) is aws.client("s3", None, "eu-west-1")


def test_a_workload_client_acts_as_the_evidence_role_and_shares_its_credentials_per_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset_clients()
    accounts = trusted()
    dev_s3, dev_sagemaker, prod_s3 = (
        accounts.client("s3", DEV),
        accounts.client("sagemaker", DEV),
        accounts.client("s3", PROD),
    )
    # One client per service and account, made once; the two services of one account share one credential set,
    # assumed lazily (no call yet: unit tests have no network) and refreshed before it expires.
    assert accounts.client("s3", DEV) is dev_s3
    assert dev_s3 is not aws.client("s3", None, "eu-west-1")
    dev_credentials = dev_s3._request_signer._credentials
    assert dev_credentials is dev_sagemaker._request_signer._credentials
    assert dev_credentials is not prod_s3._request_signer._credentials
    assert dev_credentials.method == "assume-role"
    aws.reset_clients()


# --- reports through the right account ---------------------------------------------------------


class _Routed(Accounts):
    """Accounts whose clients are stubbed S3 clients, one per account asked for."""

    def client(self, service: str, account: str | None) -> Any:
        return self.clients[account or "own"]

    @property
    def clients(self) -> dict[str, Any]:
        return self.__dict__.setdefault("_clients", {})


def _s3() -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_a_workload_report_is_read_through_that_account_and_the_registry_report_with_its_own() -> None:
    accounts = _Routed(registry=REGISTRY, workloads=WORKLOADS)
    own, own_stub = _s3()
    dev, dev_stub = _s3()
    accounts.clients.update({"own": own, DEV: dev})
    store = ReportStore(own, allowed_locations=["s3://registry-reports/evaluations/"], accounts=accounts)
    body = json.dumps({"auc": 0.9}).encode()
    for stub, bucket in ((dev_stub, "dev-evaluations"), (own_stub, "registry-reports")):
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(BytesIO(body), len(body)), "ContentLength": len(body), "ETag": '"e"'},
            {"Bucket": bucket, "Key": "reports/a.json", "ExpectedBucketOwner": DEV}
            if bucket.startswith("dev")
            else {"Bucket": bucket, "Key": "evaluations/a.json"},
        )
        stub.activate()
    assert store.read("s3://dev-evaluations/reports/a.json").document == {"auc": 0.9}
    assert store.read("s3://registry-reports/evaluations/a.json").document == {"auc": 0.9}
    dev_stub.assert_no_pending_responses()
    own_stub.assert_no_pending_responses()


def test_a_report_outside_every_configured_location_is_refused_before_any_call() -> None:
    store = ReportStore(_s3()[0], allowed_locations=["s3://registry-reports/evaluations/"], accounts=trusted())
    with pytest.raises(ReportRefusedError, match="outside the allowed report locations"):
        store.read("s3://someone-elses-bucket/reports/a.json")


# --- settings ----------------------------------------------------------------------------------


DEV_SETTINGS = {"report_locations": ["s3://dev-evaluations/reports/"], "neo_output_locations": ["s3://dev-compiled/"]}


def test_settings_read_the_accounts_from_the_environment() -> None:
    settings = Settings.from_environment(
        {
            "REGISTRAR_REGISTRY_ACCOUNT": REGISTRY,
            "REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps({DEV: DEV_SETTINGS}),
            "REGISTRAR_EVIDENCE_ROLE": "reader",
        }
    )
    accounts = Accounts.from_settings(settings)
    assert (accounts.registry, list(accounts.workloads), accounts.evidence_role) == (REGISTRY, [DEV], "reader")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REGISTRAR_REGISTRY_ACCOUNT", "12345", "REGISTRAR_REGISTRY_ACCOUNT: '12345' is not an AWS account id"),
        ("REGISTRAR_WORKLOAD_ACCOUNTS", "{nope", "REGISTRAR_WORKLOAD_ACCOUNTS: is not JSON"),
        ("REGISTRAR_WORKLOAD_ACCOUNTS", '{"1234": {}}', "REGISTRAR_WORKLOAD_ACCOUNTS.1234: '1234' is not an AWS"),
        (
            "REGISTRAR_WORKLOAD_ACCOUNTS",
            f'{{"{DEV}": {{"report_locations": ["http://x"]}}}}',
            f"REGISTRAR_WORKLOAD_ACCOUNTS.{DEV}.report_locations[0]: 'http://x' is not an s3://",
        ),
        ("REGISTRAR_EVIDENCE_ROLE", "no spaces", "REGISTRAR_EVIDENCE_ROLE: 'no spaces' is not an IAM role name"),
    ],
)
def test_bad_account_settings_name_the_variable_and_the_rule(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace(".", r"\.")):
        Settings.from_environment({variable: value})


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps({DEV: DEV_SETTINGS})},
            "REGISTRAR_WORKLOAD_ACCOUNTS: needs REGISTRAR_REGISTRY_ACCOUNT",
        ),
        (
            {
                "REGISTRAR_REGISTRY_ACCOUNT": REGISTRY,
                "REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps({DEV: {"report_locations": ["s3://dev-evaluations/r/"]}}),
            },
            f"REGISTRAR_WORKLOAD_ACCOUNTS.{DEV}.neo_output_locations: Field required",
        ),
        (
            {
                "REGISTRAR_REGISTRY_ACCOUNT": REGISTRY,
                "REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps(
                    {DEV: {"report_locations": ["s3://dev-evaluations/r/"], "neo_output_locations": []}}
                ),
            },
            f"REGISTRAR_WORKLOAD_ACCOUNTS.{DEV}.neo_output_locations: List should have at least 1 item",
        ),
        (
            {
                "REGISTRAR_REGISTRY_ACCOUNT": REGISTRY,
                "REGISTRAR_REPORT_LOCATIONS": "s3://shared-reports/registry/",
                "REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps(
                    {DEV: {"report_locations": ["s3://shared-reports/dev/"], "neo_output_locations": ["s3://dev-c/"]}}
                ),
            },
            f"bucket shared-reports is listed for the registry account and for account {DEV}",
        ),
        (
            {
                "REGISTRAR_REGISTRY_ACCOUNT": REGISTRY,
                "REGISTRAR_WORKLOAD_ACCOUNTS": json.dumps(
                    {
                        DEV: {"report_locations": ["s3://evals/"], "neo_output_locations": ["s3://dev-c/"]},
                        PROD: {"report_locations": ["s3://evals/prod/"], "neo_output_locations": ["s3://prod-c/"]},
                    }
                ),
            },
            f"bucket evals is listed for account {DEV} and for account {PROD}",
        ),
    ],
)
def test_workload_accounts_need_the_registry_their_locations_and_a_bucket_of_their_own(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace(".", r"\.")):
        Settings.from_environment(environment)


def test_arn_account_reads_the_account_field() -> None:
    assert arn_account(f"arn:aws:sagemaker:eu-west-1:{DEV}:compilation-job/x") == DEV
    assert arn_account("not-an-arn") is None
    assert arn_account(None) is None


def test_the_registry_never_describes_a_job_of_an_unlisted_account() -> None:
    from registrar.registry import Registry

    # No client is made nor call sent (unit tests have no network): refused first.
    with pytest.raises(UntrustedAccountError, match=f"account {UNLISTED} is neither the registry account"):
        Registry(accounts=trusted()).describe_processing_job("eval-1", account=UNLISTED)


def test_a_workload_reads_name_the_function_in_its_cloudtrail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "Registrar-ApprovalFunction1A2B3C")
    assert aws._session_name() == "Registrar-ApprovalFunction1A2B3C"
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    assert aws._session_name() == "registrar"


def test_a_refused_reports_reason_names_no_workloads_bucket() -> None:
    # The reason is written on the version and announced: other workloads' buckets stay out of it.
    store = ReportStore(_s3()[0], allowed_locations=["s3://registry-reports/evaluations/"], accounts=trusted())
    with pytest.raises(ReportRefusedError) as refused:
        store.read("s3://someone-elses-bucket/reports/a.json")
    assert str(refused.value) == (
        "report s3://someone-elses-bucket/reports/a.json is outside the allowed report locations "
        "(s3://registry-reports/evaluations/, and 2 of workload accounts)"
    )
