"""Several accounts from one app: the registry stack, a forwarder stack per workload, and the trust between them.

Synthesized once from docs/examples/multi-account.json, as `REGISTRAR_CONFIG=docs/examples/multi-account.json
make synth` does. Trust crosses an account boundary only where the configuration names the account.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import lint_file

from infra import nag
from infra.config import AccountsConfig, WorkloadAccount
from infra.cross_account import GROUP_POLICY_ACTIONS, forwarded_event_statement, group_policy
from infra.names import (
    APPROVAL_HANDLER,
    ENV_EVIDENCE_ROLE,
    ENV_NEO_OUTPUT_LOCATIONS,
    ENV_REGISTRY_ACCOUNT,
    NEO_REGISTRATION_HANDLER,
    STACK,
    SWEEPER_HANDLER,
    forwarder_stack,
)
from registrar.patterns import EVALUATED_PACKAGE, FORWARDED, for_account
from registrar.settings import Settings

from .conftest import MultiAccount, Synthesized

REGISTRY = "222222222222"
REGION = "eu-west-1"
WORKLOADS = {"training-dev": "111111111111", "training-prod": "333333333333"}


def rendered(value: Any) -> Any:
    """A template value with each ``Fn::Sub`` and ``Fn::Join`` written out as the text it stands for."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(rendered(part)) for part in parts)
        if value == {"Ref": "AWS::Partition"}:
            return "${AWS::Partition}"
        return {key: rendered(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(item) for item in value]
    return value


def accounts_of(multi_account: MultiAccount) -> AccountsConfig:
    accounts = multi_account.config.accounts
    assert accounts is not None
    return accounts


def workload_of(multi_account: MultiAccount, name: str) -> WorkloadAccount:
    [workload] = [w for w in accounts_of(multi_account).workloads if w.name == name]
    return workload


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def root(account: str) -> str:
    return f"arn:${{AWS::Partition}}:iam::{account}:root"


def role_names(stack: Synthesized) -> dict[str, str]:
    """Handler → the physical name of its function's role."""
    names = {}
    for function in stack.properties("AWS::Lambda::Function").values():
        role = stack.properties("AWS::IAM::Role")[function["Role"]["Fn::GetAtt"][0]]
        if "RoleName" in role:
            names[function["Handler"]] = role["RoleName"]
    return names


def statements(stack: Synthesized) -> list[dict[str, Any]]:
    """Every statement of every identity policy in a stack."""
    return [
        rendered(statement)
        for policy in stack.properties("AWS::IAM::Policy").values()
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def bus_policies(stack: Synthesized) -> list[dict[str, Any]]:
    return [rendered(p) for p in stack.properties("AWS::Events::EventBusPolicy").values()]


# --- the topology ---------------------------------------------------------------------------------------------


def test_the_app_yields_the_registry_stack_and_one_forwarder_per_workload(multi_account: MultiAccount) -> None:
    # GIVEN docs/examples/multi-account.json WHEN synthesized THEN the registry stack goes to the registry account
    manifest = json.loads((multi_account.outdir / "manifest.json").read_text(encoding="utf-8"))
    environments = {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert environments == {
        STACK: f"aws://{REGISTRY}/{REGION}",
        # AND each workload account gets its own forwarder stack, in the same region
        **{forwarder_stack(name): f"aws://{account}/{REGION}" for name, account in WORKLOADS.items()},
    }
    assert set(multi_account.forwarders) == set(WORKLOADS)


def test_every_stack_is_clean_for_cdk_nag_and_cfn_lint(multi_account: MultiAccount) -> None:
    found = nag.violations(multi_account.outdir)
    assert not found, f"unacknowledged cdk-nag findings:\n{nag.describe(found)}"
    assert multi_account.error is None
    for name in multi_account.stacks():
        problems = [m for m in lint_file(multi_account.outdir / f"{name}.template.json") if m.rule.id[0] in "EW"]
        assert not problems, "\n".join(str(m) for m in problems)


def test_cdk_itself_reports_no_warning_or_error_on_any_stack(multi_account: MultiAccount) -> None:
    for name in multi_account.stacks():
        metadata = json.loads((multi_account.outdir / f"{name}.metadata.json").read_text(encoding="utf-8"))
        annotations = [
            f"{path}: {entry['data']}"
            for path, entries in metadata.items()
            for entry in entries
            if entry["type"] in {"aws:cdk:warning", "aws:cdk:error"}
        ]
        assert not annotations, "\n".join(annotations)


def test_the_new_stacks_acknowledge_only_the_rules_the_single_account_stack_does(multi_account: MultiAccount) -> None:
    acknowledged = nag.acknowledgements(multi_account.outdir)
    rules = {rule.split("::", 1)[1].split("[", 1)[0] for rules in acknowledged.values() for rule in rules}
    assert rules == {"AwsSolutions-L1", "AwsSolutions-SQS3", "AwsSolutions-IAM5", "AwsSolutions-SMG4"}
    assert all(len(reason.strip()) >= nag.MIN_REASON for rules in acknowledged.values() for reason in rules.values())


# --- events: workload → registry ------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_forwarders_rules_send_their_own_accounts_events_to_the_registry_bus(
    multi_account: MultiAccount, workload: str
) -> None:
    forwarder = multi_account.forwarders[workload]
    registry_bus = f"arn:${{AWS::Partition}}:events:{REGION}:{REGISTRY}:event-bus/default"
    rules = [rendered(rule) for rule in forwarder.properties("AWS::Events::Rule").values() if "EventPattern" in rule]
    # THEN one rule per forwarded pattern, each narrowed to the workload's own account
    assert sorted(json.dumps(r["EventPattern"], sort_keys=True) for r in rules) == sorted(
        json.dumps(for_account(p, WORKLOADS[workload]), sort_keys=True) for p in FORWARDED
    )
    for rule in rules:
        [target] = rule["Targets"]
        # AND each targets the registry account's default bus, through a role, with a dead-letter queue
        assert target["Arn"] == registry_bus
        assert "DeadLetterConfig" in target
        role = forwarder.resources("AWS::IAM::Role")[target["RoleArn"]["Fn::GetAtt"][0]]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "events.amazonaws.com"
        }
        granted = [
            rendered(s)
            for p in forwarder.properties("AWS::IAM::Policy").values()
            if {"Ref": target["RoleArn"]["Fn::GetAtt"][0]} in p["Roles"]
            for s in p["PolicyDocument"]["Statement"]
        ]
        # AND that role may put events on exactly that bus, nothing else
        assert granted == [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": registry_bus}]


def test_the_registry_bus_accepts_the_forwarded_events_from_the_listed_accounts_only(
    multi_account: MultiAccount,
) -> None:
    policies = bus_policies(multi_account.registry)
    assert len(policies) == len(FORWARDED)
    allowed = set()
    for policy in policies:
        assert policy["EventBusName"] == "default"
        statement = policy["Statement"]
        assert statement["Sid"] == policy["StatementId"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "events:PutEvents")
        # THEN the principals are exactly the workload accounts: no "*", not the registry itself, no other
        assert sorted(as_list(statement["Principal"]["AWS"])) == sorted(root(a) for a in WORKLOADS.values())
        condition = statement["Condition"]
        # AND the organization narrows them further
        assert condition["StringEquals"]["aws:PrincipalOrgID"] == accounts_of(multi_account).organization_id
        [source] = condition["ForAllValues:StringEquals"]["events:source"]
        allowed.add((source, condition["StringEquals"]["events:detail-type"]))
    # AND only the forwarded events' source and detail-type may be put
    assert allowed == {(p["source"][0], p["detail-type"][0]) for p in FORWARDED}


def test_without_an_organization_the_bus_policy_names_the_accounts_alone(multi_account: MultiAccount) -> None:
    accounts = accounts_of(multi_account)
    statement = forwarded_event_statement(FORWARDED[0], accounts.model_copy(update={"organization_id": None}))
    assert "aws:PrincipalOrgID" not in statement["Condition"]["StringEquals"]
    assert len(statement["Principal"]["AWS"]) == len(WORKLOADS)


def test_the_flows_forwarded_rules_match_the_registry_and_the_workloads_and_nothing_else_does(
    multi_account: MultiAccount,
) -> None:
    registry = multi_account.registry
    everyone = [REGISTRY, *WORKLOADS.values()]
    forwarded = [json.dumps(p, sort_keys=True) for p in FORWARDED]
    rules = {
        name: p["EventPattern"] for name, p in registry.properties("AWS::Events::Rule").items() if "EventPattern" in p
    }
    for name, pattern in rules.items():
        bare = json.dumps({k: v for k, v in pattern.items() if k != "account"}, sort_keys=True)
        if bare in forwarded:
            # THEN an evaluation job or a compilation job of a listed workload reaches its flow
            assert pattern["account"] == everyone, name
        else:
            # AND a version's own event, an endpoint, the notifications and the approver e-mails stay the registry's:
            # a Registrar Decision claimed by a workload account never notifies anyone
            assert pattern["account"] == [REGISTRY], name
    handlers = {rule: handler for rule, _pattern, handler in registry.routes()}
    assert sorted(handlers[n] for n, p in rules.items() if p["account"] == everyone) == sorted(
        [APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER]
    )
    assert any(
        json.dumps(p, sort_keys=True) == json.dumps(for_account(EVALUATED_PACKAGE, REGISTRY), sort_keys=True)
        for p in rules.values()
    )
    assert registry.notification_rules()


# --- evidence: registry → workload ----------------------------------------------------------------------------


def test_only_the_approval_and_neo_roles_have_physical_names(multi_account: MultiAccount) -> None:
    assert role_names(multi_account.registry) == {
        APPROVAL_HANDLER: f"registrar-approval-{REGION}",
        NEO_REGISTRATION_HANDLER: f"registrar-neo-registration-{REGION}",
    }


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_evidence_role_trusts_only_the_registrys_approval_and_neo_roles(
    multi_account: MultiAccount, workload: str
) -> None:
    forwarder = multi_account.forwarders[workload]
    [role] = [r for r in forwarder.properties("AWS::IAM::Role").values() if "RoleName" in r]
    assert role["RoleName"] == "registrar-evidence-reader"
    [trust] = rendered(role["AssumeRolePolicyDocument"])["Statement"]
    # THEN the registry account, on the condition that the caller is one of its two function roles, by name
    assert (trust["Effect"], trust["Action"], trust["Principal"]) == (
        "Allow",
        "sts:AssumeRole",
        {"AWS": root(REGISTRY)},
    )
    # (the names the registry stack gives its roles: whichever stack is deployed first, the two agree)
    callers = {
        f"arn:${{AWS::Partition}}:iam::{REGISTRY}:role/{name}" for name in role_names(multi_account.registry).values()
    }
    assert list(trust["Condition"]) == ["ArnEquals"]
    assert list(trust["Condition"]["ArnEquals"]) == ["aws:PrincipalArn"]
    assert set(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == callers


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_evidence_role_reads_its_own_accounts_evidence_and_nothing_else(
    multi_account: MultiAccount, workload: str
) -> None:
    forwarder = multi_account.forwarders[workload]
    [(role_id, _role)] = [(n, r) for n, r in forwarder.properties("AWS::IAM::Role").items() if "RoleName" in r]
    granted = [
        rendered(s)
        for p in forwarder.properties("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Roles"]
        for s in p["PolicyDocument"]["Statement"]
    ]
    actions = {action for s in granted for action in as_list(s["Action"])}
    assert actions == {
        "s3:GetObject",
        "s3:ListBucket",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:DescribeCompilationJob",
        "sagemaker:ListTags",
    }
    own = workload_of(multi_account, workload)
    buckets = {location.removeprefix("s3://").split("/")[0] for location in own.report_locations}
    s3_statements = [s for s in granted if s["Action"] in ("s3:GetObject", "s3:ListBucket")]
    s3 = [r for s in s3_statements for r in as_list(s["Resource"])]
    assert {r.removeprefix("arn:${AWS::Partition}:s3:::").split("/")[0] for r in s3} == buckets
    # AND only in buckets the workload account itself owns: a bucket of that name elsewhere is not its evidence
    for statement in s3_statements:
        assert statement["Condition"]["StringEquals"] == {"aws:ResourceAccount": "${AWS::AccountId}"}, statement
    jobs = [r for s in granted if s not in s3_statements for r in as_list(s["Resource"])]
    assert sorted(jobs) == [
        "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:compilation-job/*",
        "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:processing-job/*",
    ]


def test_the_registry_roles_may_assume_the_listed_evidence_roles_and_no_other(multi_account: MultiAccount) -> None:
    registry = multi_account.registry
    expected = sorted(f"arn:${{AWS::Partition}}:iam::{a}:role/registrar-evidence-reader" for a in WORKLOADS.values())
    for handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER):
        function_id, _function = registry.function(handler)
        assumed = [
            rendered(s) for s in registry.role_statements(function_id) if "sts:AssumeRole" in as_list(s["Action"])
        ]
        assert [sorted(as_list(s["Resource"])) for s in assumed] == [expected], handler
    # AND no other statement of the registry stack assumes a role
    everyone = [s for s in statements(registry) if any(a.startswith("sts:") for a in as_list(s["Action"]))]
    assert len(everyone) == 2


def test_no_registry_role_reads_a_workload_bucket(multi_account: MultiAccount) -> None:
    workload_buckets = {
        location.removeprefix("s3://").split("/")[0]
        for w in accounts_of(multi_account).workloads
        for location in (*w.report_locations, *w.neo_output_locations)
    }
    granted = json.dumps(statements(multi_account.registry))
    assert not [bucket for bucket in workload_buckets if bucket in granted]


def test_the_flows_learn_the_registry_the_workloads_and_the_evidence_role(multi_account: MultiAccount) -> None:
    registry = multi_account.registry
    accounts = accounts_of(multi_account)
    for handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER):
        _id, function = registry.function(handler)
        env = function["Environment"]["Variables"]
        assert env[ENV_REGISTRY_ACCOUNT] == REGISTRY
        assert env[ENV_EVIDENCE_ROLE] == accounts.evidence_role
        settings = Settings.from_environment({k: v if isinstance(v, str) else "resolved" for k, v in env.items()})
        # THEN the functions parse the workloads exactly as configured
        assert settings.registry_account == REGISTRY
        assert {
            account: (list(w.report_locations), list(w.neo_output_locations))
            for account, w in settings.workload_accounts.items()
        } == {w.account: (w.report_locations, w.neo_output_locations) for w in accounts.workloads}


# --- model package groups -------------------------------------------------------------------------------------


def test_each_exact_group_lets_the_workloads_register_versions_and_nothing_more(multi_account: MultiAccount) -> None:
    registry = multi_account.registry
    policies = registry.properties("Custom::ModelPackageGroupPolicy")
    exact = [g for g in multi_account.config.model_package_groups if "*" not in g and "?" not in g]
    assert exact == ["credit-risk"]
    # THEN one policy per exact group; a pattern (churn-*) names no group to put a policy on
    assert len(policies) == len(exact)
    [policy] = policies.values()
    create = json.loads(rendered(policy["Create"]))
    assert (create["service"], create["action"]) == ("SageMaker", "PutModelPackageGroupPolicy")
    assert json.loads(rendered(policy["Update"])) == create
    assert create["parameters"]["ModelPackageGroupName"] == "credit-risk"
    document = json.loads(create["parameters"]["ResourcePolicy"])
    [statement] = document["Statement"]
    assert statement["Principal"] == {"AWS": [root(a) for a in WORKLOADS.values()]}
    assert statement["Action"] == list(GROUP_POLICY_ACTIONS) == ["sagemaker:CreateModelPackage"]
    assert statement["Resource"] == [
        "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:model-package/credit-risk/*"
    ]
    # AND only versions pending approval (a request's ModelApprovalStatus, when given), from the organization
    assert statement["Condition"] == {
        "StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"},
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"},
    }
    # AND removing the group from the configuration removes its policy
    delete = json.loads(policy["Delete"])
    assert (delete["action"], delete["parameters"]) == (
        "DeleteModelPackageGroupPolicy",
        {"ModelPackageGroupName": "credit-risk"},
    )


def test_without_an_organization_the_group_policy_still_accepts_pending_versions_only(
    multi_account: MultiAccount,
) -> None:
    # GIVEN no organization id WHEN a shared group's policy is made
    accounts = accounts_of(multi_account).model_copy(update={"organization_id": None})
    [statement] = group_policy("credit-risk", accounts)["Statement"]
    # THEN a workload may still not register a version already Approved (or Rejected): registrar's gate decides
    assert statement["Condition"] == {
        "StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    }


def test_the_group_policy_provider_may_only_put_and_delete_those_groups_policies(multi_account: MultiAccount) -> None:
    registry = multi_account.registry
    [(provider_id, _)] = [
        (n, p) for n, p in registry.properties("AWS::Lambda::Function").items() if n.startswith("AWS679f53fac")
    ]
    granted = registry.role_statements(provider_id)
    sagemaker = [rendered(s) for s in granted if any(a.startswith("sagemaker:") for a in as_list(s["Action"]))]
    assert [sorted(as_list(s["Action"])) for s in sagemaker] == [
        ["sagemaker:DeleteModelPackageGroupPolicy", "sagemaker:PutModelPackageGroupPolicy"]
    ]
    assert as_list(sagemaker[0]["Resource"]) == [
        "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:model-package-group/credit-risk"
    ]
    # AND no AWS managed policy
    role = registry.properties("AWS::IAM::Role")[
        registry.properties("AWS::Lambda::Function")[provider_id]["Role"]["Fn::GetAtt"][0]
    ]
    assert "ManagedPolicyArns" not in role


# --- the sweeper where the compilations run -------------------------------------------------------------------


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_sweeper_runs_in_the_workload_account_with_its_locations(
    multi_account: MultiAccount, workload: str
) -> None:
    forwarder = multi_account.forwarders[workload]
    # THEN the sweeper is the forwarder's only function
    assert list(forwarder.handlers().values()) == [SWEEPER_HANDLER]
    _id, sweeper = forwarder.function(SWEEPER_HANDLER)
    own = workload_of(multi_account, workload)
    env = sweeper["Environment"]["Variables"]
    assert env[ENV_NEO_OUTPUT_LOCATIONS] == ",".join(own.neo_output_locations)
    assert env["REGISTRAR_EVENT_BUS_NAME"] == "default"
    # AND it runs on the configured schedule
    [schedule] = [r for r in forwarder.properties("AWS::Events::Rule").values() if "ScheduleExpression" in r]
    assert schedule["ScheduleExpression"] == f"rate({multi_account.config.sweep_rate_minutes} minutes)"
    Settings.from_environment({k: v if isinstance(v, str) else "resolved" for k, v in env.items()})


def test_a_single_account_deployment_has_none_of_it(synthesized: Synthesized) -> None:
    assert not synthesized.resources("AWS::Events::EventBusPolicy")
    assert not synthesized.resources("Custom::ModelPackageGroupPolicy")
    assert not role_names(synthesized)
    assert not [s for s in statements(synthesized) if "sts:AssumeRole" in as_list(s["Action"])]
    for _rule, pattern, _handler in synthesized.routes():
        assert pattern["account"] == [{"Ref": "AWS::AccountId"}]
