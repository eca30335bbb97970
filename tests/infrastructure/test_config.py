"""The cdk.json configuration: validated at synth, with errors that name the key and the rule."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from infra.config import (
    ADVANCED_PARAMETER_BYTES,
    DEFAULT_EVIDENCE_ROLE,
    STANDARD_PARAMETER_BYTES,
    RegistrarConfig,
    context_from_file,
    load_config,
)
from infra.names import CONTEXT_KEY, ENV_REGISTRY_ACCOUNT, ENV_REPORT_LOCATIONS, ENV_WORKLOAD_ACCOUNTS
from registrar.approval.policy import load_policy, parse_policy
from registrar.errors import ConfigurationError
from registrar.settings import Settings

from .conftest import ROOT, cdk_json_context

MINIMAL: dict[str, Any] = {
    "model_package_groups": ["churn-*"],
    "report_locations": ["s3://reports/evaluations/"],
    "neo_output_locations": ["s3://artifacts/neo/"],
}


def invalid(context: Any, root: pathlib.Path = ROOT) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load_config(context, root=root)
    return str(raised.value)


def test_the_example_in_cdk_json_is_valid() -> None:
    config = load_config(cdk_json_context()[CONTEXT_KEY], root=ROOT)
    assert "churn-*" in config.model_package_groups
    # AND the text to deploy is the policy file as JSON: the same policy, by its digest
    assert parse_policy(config.policy_text).digest == load_policy(ROOT / "events" / "policy.yaml").digest
    assert config.policy_text.startswith('{"version":1,')


def test_defaults() -> None:
    config = load_config(MINIMAL, root=ROOT)
    assert config.policy_file == "events/policy.yaml"
    assert (config.sweep_rate_minutes, config.max_concurrency, config.alarm_email) == (5, 2, None)


def test_context_may_come_as_json_text_from_the_command_line() -> None:
    config = load_config(
        '{"model_package_groups": ["fraud"], "report_locations": ["s3://bucket"], '
        '"neo_output_locations": ["s3://bucket/neo/"]}',
        root=ROOT,
    )
    assert config.model_package_groups == ["fraud"]


def test_missing_context_says_what_to_add() -> None:
    assert "model_package_groups, report_locations and neo_output_locations" in invalid(None)


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ("churn_*", "not a model package group name or pattern"),
        ("churn-[ab]", "character class"),
        ("*", "matches every model package group"),
        ("-churn", "not a model package group name or pattern"),
        ("x" * 64, "not a model package group name or pattern"),
    ],
)
def test_a_bad_group_pattern_is_named_with_its_position(group: str, message: str) -> None:
    error = invalid({**MINIMAL, "model_package_groups": ["fraud-*", group]})
    assert "model_package_groups[1]" in error
    assert message in error


def test_at_least_one_group_is_required() -> None:
    assert "model_package_groups" in invalid({**MINIMAL, "model_package_groups": []})


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("https://bucket/prefix", "is not an s3://bucket/prefix location"),
        ("bucket/prefix", "is not an s3://bucket/prefix location"),
        ("s3://Bucket_Name/x", "is not a valid S3 bucket name"),
        ("s3://bucket/reports/*", "cannot contain * or ?"),
        ("s3://bucket/team-a,team-b/", "cannot contain ','"),
        ("s3://bucket/${aws:username}/", "cannot contain '$'"),
        ("s3://bucket/reports ", "cannot begin or end with whitespace"),
    ],
)
def test_a_report_location_must_be_an_s3_prefix(location: str, message: str) -> None:
    error = invalid({**MINIMAL, "report_locations": [location]})
    assert "report_locations[0]" in error
    assert message in error


def test_a_comma_in_a_report_location_is_refused_because_the_functions_split_on_it() -> None:
    # GIVEN a prefix with a comma, which S3 allows but REGISTRAR_REPORT_LOCATIONS uses as its separator
    # WHEN configured THEN refused at synth, naming the key, the location and the variable it would break
    error = invalid({**MINIMAL, "report_locations": ["s3://reports/evaluations/", "s3://reports/a,b/"]})
    assert "report_locations[1]: 's3://reports/a,b/': a report location cannot contain ','" in error
    assert ENV_REPORT_LOCATIONS in error
    # AND what is accepted comes back whole from the variable the functions read
    locations = ["s3://reports/evaluations/", "s3://other-reports"]
    config = load_config({**MINIMAL, "report_locations": locations}, root=ROOT)
    environment = {ENV_REPORT_LOCATIONS: ",".join(config.report_locations)}
    assert Settings.from_environment(environment).report_locations == locations


def test_an_unreadable_policy_file_is_named(tmp_path: pathlib.Path) -> None:
    error = invalid({**MINIMAL, "policy_file": "nowhere/policy.yaml"}, root=tmp_path)
    assert re.search(r"policy_file: cannot read the policy file .*nowhere/policy.yaml: No such file", error)


def test_an_invalid_policy_is_refused_with_the_policy_models_own_message(tmp_path: pathlib.Path) -> None:
    (tmp_path / "policy.yaml").write_text("version: 1\nrules:\n  - groups: []\n    on_failure: maybe\n")
    error = invalid({**MINIMAL, "policy_file": "policy.yaml"}, root=tmp_path)
    assert "policy_file: the policy file" in error
    assert "is not a valid policy" in error


def policy_with(rules: int, comment_lines: int = 0) -> str:
    rule = (
        "  - groups: [churn-*]\n"
        "    approve_when: [{metric: binary_classification_metrics.auc.value, min: 0.85}]\n"
        "    on_failure: reject\n"
    )
    return "# a comment the deployed JSON leaves out\n" * comment_lines + "version: 1\nrules:\n" + rule * rules


def test_the_size_limit_applies_to_the_deployed_json_not_to_the_file(tmp_path: pathlib.Path) -> None:
    # GIVEN a policy file over the 8 KB parameter limit, mostly comments, whose JSON fits the standard tier
    (tmp_path / "policy.yaml").write_text(policy_with(rules=2, comment_lines=250))
    assert (tmp_path / "policy.yaml").stat().st_size > ADVANCED_PARAMETER_BYTES
    # WHEN configured THEN it is accepted, and what is deployed is small
    config = load_config({**MINIMAL, "policy_file": "policy.yaml"}, root=tmp_path)
    assert len(config.policy_text.encode()) <= STANDARD_PARAMETER_BYTES


def test_a_policy_too_large_for_the_parameter_even_as_json_is_refused(tmp_path: pathlib.Path) -> None:
    # GIVEN a policy whose compact JSON is over 8 KB WHEN configured THEN refused, with the JSON's size
    (tmp_path / "policy.yaml").write_text(policy_with(rules=100))
    error = invalid({**MINIMAL, "policy_file": "policy.yaml"}, root=tmp_path)
    assert re.search(r"policy_file: the policy file .*policy.yaml is \d+ bytes as compact JSON; .* at most 8192", error)


def test_an_empty_policy_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "policy.yaml").write_text("\n")
    assert "is empty" in invalid({**MINIMAL, "policy_file": "policy.yaml"}, root=tmp_path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("alarm_email", "ops-at-example.com", "is not an e-mail address"),
        ("max_concurrency", 1, "greater than or equal to 2"),
        ("max_concurrency", 1001, "less than or equal to 1000"),
        ("sweep_rate_minutes", 0, "greater than or equal to 1"),
        ("sweep_rate_mins", 5, "unknown key"),
    ],
)
def test_other_keys_are_checked(key: str, value: Any, message: str) -> None:
    error = invalid({**MINIMAL, key: value})
    assert f"- {key}: " in error
    assert message in error


def test_every_problem_is_reported_at_once() -> None:
    error = invalid(
        {
            "model_package_groups": ["a_b"],
            "report_locations": ["http://x"],
            "neo_output_locations": ["s3://artifacts/neo/"],
            "max_concurrency": 0,
        }
    )
    assert error.count("\n  - ") == 3


def test_an_email_address_is_accepted() -> None:
    assert load_config({**MINIMAL, "alarm_email": "ops@example.com"}, root=ROOT).alarm_email == "ops@example.com"


def test_the_model_is_frozen() -> None:
    config = load_config(MINIMAL, root=ROOT)
    with pytest.raises(ValueError, match="frozen"):
        config.max_concurrency = 5  # type: ignore[misc]
    assert isinstance(config, RegistrarConfig)


# --- several accounts -----------------------------------------------------------------------------------------

ACCOUNTS: dict[str, Any] = {
    "registry": "222222222222",
    "region": "eu-west-1",
    "workloads": [
        {
            "name": "training-dev",
            "account": "111111111111",
            "report_locations": ["s3://training-dev-evaluations/reports/"],
            "neo_output_locations": ["s3://training-dev-evaluations/compiled/"],
        }
    ],
}


def with_accounts(**changes: Any) -> dict[str, Any]:
    return {**MINIMAL, "accounts": {**ACCOUNTS, **changes}}


def workload(**changes: Any) -> dict[str, Any]:
    return {**ACCOUNTS["workloads"][0], **changes}


def test_the_multi_account_example_is_valid() -> None:
    # GIVEN docs/examples/multi-account.json WHEN validated THEN a registry and two workloads, the default role name
    config = load_config(context_from_file(ROOT / "docs" / "examples" / "multi-account.json"), root=ROOT)
    assert config.accounts is not None
    assert config.accounts.registry == "222222222222"
    assert config.accounts.workload_ids == ["111111111111", "333333333333"]
    assert config.accounts.evidence_role == DEFAULT_EVIDENCE_ROLE


def test_without_accounts_there_is_one_account() -> None:
    assert load_config(MINIMAL, root=ROOT).accounts is None


def test_accounts_have_defaults() -> None:
    accounts = load_config(with_accounts(), root=ROOT).accounts
    assert accounts is not None
    assert (accounts.organization_id, accounts.evidence_role) == (None, "registrar-evidence-reader")


def test_the_workloads_settings_are_what_the_functions_parse() -> None:
    # GIVEN the workloads WHEN handed to the functions as REGISTRAR_WORKLOAD_ACCOUNTS THEN they read the same back
    accounts = load_config(with_accounts(), root=ROOT).accounts
    assert accounts is not None
    settings = Settings.from_environment(
        {ENV_REGISTRY_ACCOUNT: accounts.registry, ENV_WORKLOAD_ACCOUNTS: accounts.workload_settings}
    )
    assert {a: w.model_dump() for a, w in settings.workload_accounts.items()} == {
        "111111111111": {
            "report_locations": ["s3://training-dev-evaluations/reports/"],
            "neo_output_locations": ["s3://training-dev-evaluations/compiled/"],
        }
    }
    assert " " not in accounts.workload_settings


@pytest.mark.parametrize(
    ("context", "where", "message"),
    [
        (with_accounts(registry="22222222222"), "accounts.registry", "is not an AWS account id"),
        (with_accounts(registry=222222222222), "accounts.registry", "give the account id as a string"),
        (with_accounts(region="Ireland"), "accounts.region", "is not an AWS region name"),
        (with_accounts(organization_id="r-a1b2"), "accounts.organization_id", "is not an AWS Organizations id"),
        (with_accounts(organization_id="o-ab"), "accounts.organization_id", "is not an AWS Organizations id"),
        (with_accounts(evidence_role="arn:aws:iam::1:role/x"), "accounts.evidence_role", "is not an IAM role name"),
        (with_accounts(workloads=[]), "accounts.workloads", "at least 1 item"),
        (with_accounts(workloads=[workload(account="1111")]), "accounts.workloads[0].account", "account id"),
        (
            with_accounts(workloads=[workload(account="222222222222")]),
            "accounts.workloads",
            "the account 222222222222 is the registry account",
        ),
        (
            with_accounts(workloads=[workload(), workload(name="training-prod")]),
            "accounts.workloads",
            "the account 111111111111 is listed twice",
        ),
        (
            with_accounts(workloads=[workload(), workload(name="Training-Dev", account="333333333333")]),
            "accounts.workloads",
            "the name 'Training-Dev' is listed twice",
        ),
        (with_accounts(workloads=[workload(name="training_dev")]), "accounts.workloads[0].name", "forwarder stack"),
        (with_accounts(workloads=[workload(name="-dev")]), "accounts.workloads[0].name", "forwarder stack"),
        (with_accounts(workloads=[workload(name="x" * 65)]), "accounts.workloads[0].name", "forwarder stack"),
        (
            with_accounts(workloads=[workload(report_locations=["https://x/"])]),
            "accounts.workloads[0].report_locations[0]",
            "is not an s3://bucket/prefix location",
        ),
        (
            with_accounts(workloads=[workload(neo_output_locations=[])]),
            "accounts.workloads[0].neo_output_locations",
            "at least 1 item",
        ),
        (
            with_accounts(workloads=[workload(report_locations=[f"s3://bucket/{'x' * 2600}/"])]),
            "accounts",
            "the functions' environment leaves for them",
        ),
        (with_accounts(workload_accounts=[]), "accounts.workload_accounts", "unknown key; the keys are registry"),
        (
            with_accounts(workloads=[workload(role="x")]),
            "accounts.workloads[0].role",
            "unknown key; the keys are name, account",
        ),
    ],
)
def test_a_bad_accounts_configuration_names_the_key_and_the_rule(context: Any, where: str, message: str) -> None:
    error = invalid(context)
    assert f"- {where}: " in error
    assert message in error


PROD = {
    "name": "training-prod",
    "account": "333333333333",
    "report_locations": ["s3://training-prod-evaluations/reports/"],
    "neo_output_locations": ["s3://training-prod-evaluations/compiled/"],
}


@pytest.mark.parametrize(
    ("context", "bucket", "first", "second"),
    [
        # Two workloads: one's report bucket is the other's Neo output bucket.
        (
            with_accounts(
                workloads=[workload(), {**PROD, "neo_output_locations": ["s3://training-dev-evaluations/prod/"]}]
            ),
            "training-dev-evaluations",
            "workload 'training-dev' (111111111111, accounts.workloads[0])",
            "workload 'training-prod' (333333333333, accounts.workloads[1])",
        ),
        # A workload and the registry's own report_locations.
        (
            with_accounts(workloads=[workload(report_locations=["s3://reports/workload/"])]),
            "reports",
            "the registry account 222222222222 (report_locations, neo_output_locations)",
            "workload 'training-dev' (111111111111, accounts.workloads[0])",
        ),
        # A workload and the registry's own neo_output_locations, under another prefix.
        (
            with_accounts(workloads=[workload(), {**PROD, "report_locations": ["s3://artifacts/prod-reports/"]}]),
            "artifacts",
            "the registry account 222222222222 (report_locations, neo_output_locations)",
            "workload 'training-prod' (333333333333, accounts.workloads[1])",
        ),
    ],
)
def test_a_bucket_listed_under_two_accounts_is_refused(context: Any, bucket: str, first: str, second: str) -> None:
    # GIVEN a bucket in the locations of two accounts WHEN validated THEN refused, naming the bucket and both accounts
    error = invalid(context)
    assert f"the bucket {bucket!r} is in the locations of two accounts, {first} and {second}" in error


def test_one_accounts_reports_and_neo_outputs_may_share_a_bucket() -> None:
    # GIVEN each account's two lists in one bucket of its own (as docs/examples/multi-account.json) THEN valid
    config = load_config(with_accounts(workloads=[workload(), PROD]), root=ROOT)
    assert config.accounts is not None
    assert config.accounts.workload_ids == ["111111111111", "333333333333"]
    # AND one account alone names its buckets as it likes
    assert load_config({**MINIMAL, "neo_output_locations": ["s3://reports/neo/"]}, root=ROOT).accounts is None
