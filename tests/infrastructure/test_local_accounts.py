"""The local topology of several accounts deploys what the stacks deploy: each document equal to the synthesized one.

``registrar_dev.topology.build_cross_account`` writes its documents as plain data (the dev package cannot import
infra/, and infra's are CDK tokens); here each is held to what `REGISTRAR_CONFIG=docs/examples/multi-account.json
make synth` writes, with the stack's partition, region and account written out.
"""

from __future__ import annotations

import json
from typing import Any

from registrar.patterns import FORWARDED, for_account
from registrar_dev import topology

from .conftest import MultiAccount, Synthesized

PARTITION = "aws"


def concrete(value: Any, *, account: str, region: str) -> Any:
    """A template value with every ``Fn::Sub``, ``Fn::Join`` and pseudo parameter written out for one stack."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return concrete(value["Fn::Sub"], account=account, region=region)
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(concrete(part, account=account, region=region)) for part in parts)
        if value == {"Ref": "AWS::Partition"}:
            return PARTITION
        return {key: concrete(item, account=account, region=region) for key, item in value.items()}
    if isinstance(value, list):
        return [concrete(item, account=account, region=region) for item in value]
    if isinstance(value, str):
        pseudo = {"${AWS::Partition}": PARTITION, "${AWS::Region}": region, "${AWS::AccountId}": account}
        for name, replacement in pseudo.items():
            value = value.replace(name, replacement)
    return value


def _stack_values(multi_account: MultiAccount) -> dict[str, Any]:
    accounts = multi_account.config.accounts
    assert accounts is not None
    return {
        "registry": accounts.registry,
        "region": accounts.region,
        "workloads": accounts.workload_ids,
        "organization_id": accounts.organization_id,
    }


def _role(stack: Synthesized, logical_prefix: str) -> tuple[str, dict[str, Any]]:
    [found] = [(n, p) for n, p in stack.properties("AWS::IAM::Role").items() if n.startswith(logical_prefix)]
    return found


def _policy_of(stack: Synthesized, role_id: str) -> dict[str, Any]:
    [document] = [
        p["PolicyDocument"] for p in stack.properties("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Roles"]
    ]
    return dict(document)


def test_the_registry_bus_policy_is_the_stacks(multi_account: MultiAccount) -> None:
    values = _stack_values(multi_account)
    synthesized = [
        concrete(p["Statement"], account=values["registry"], region=values["region"])
        for p in multi_account.registry.properties("AWS::Events::EventBusPolicy").values()
    ]
    local = [topology.forwarded_event_statement(pattern, **values) for pattern in FORWARDED]
    assert sorted(synthesized, key=lambda s: s["Sid"]) == sorted(local, key=lambda s: s["Sid"])


def test_the_shared_groups_policy_is_the_stacks(multi_account: MultiAccount) -> None:
    values = _stack_values(multi_account)
    [resource] = multi_account.registry.properties("Custom::ModelPackageGroupPolicy").values()
    create = json.loads(concrete(resource["Create"], account=values["registry"], region=values["region"]))
    group = create["parameters"]["ModelPackageGroupName"]
    assert json.loads(create["parameters"]["ResourcePolicy"]) == topology.group_policy(group, **values)


def test_the_function_roles_have_the_stacks_names(multi_account: MultiAccount) -> None:
    values = _stack_values(multi_account)
    named = {p["RoleName"] for p in multi_account.registry.properties("AWS::IAM::Role").values() if "RoleName" in p}
    local = topology.function_role_arns(values["registry"], values["region"])
    assert {arn.rsplit("/", 1)[-1] for arn in local.values()} == named


def test_each_workloads_evidence_role_is_the_stacks(multi_account: MultiAccount) -> None:
    values = _stack_values(multi_account)
    accounts = multi_account.config.accounts
    assert accounts is not None
    for workload in accounts.workloads:
        stack = multi_account.forwarders[workload.name]
        role_id, role = _role(stack, "EvidenceRole")
        assert role["RoleName"] == accounts.evidence_role == topology.DEFAULT_EVIDENCE_ROLE

        def written(value: Any, account: str = workload.account) -> Any:
            return concrete(value, account=account, region=values["region"])

        assert written(role["AssumeRolePolicyDocument"]) == topology.evidence_trust(
            values["registry"], values["region"]
        )
        assert written(_policy_of(stack, role_id)) == topology.evidence_policy(
            workload.account, values["region"], workload.report_locations
        )


def test_each_workloads_forwarding_is_the_stacks(multi_account: MultiAccount) -> None:
    values = _stack_values(multi_account)
    accounts = multi_account.config.accounts
    assert accounts is not None
    bus = topology.registry_bus(values["registry"], values["region"])
    for workload in accounts.workloads:
        stack = multi_account.forwarders[workload.name]

        def written(value: Any, account: str = workload.account) -> Any:
            return concrete(value, account=account, region=values["region"])

        role_id, role = _role(stack, "ForwardRole")
        assert role["AssumeRolePolicyDocument"] == topology.service_trust(topology.EVENTS_PRINCIPAL)
        assert written(_policy_of(stack, role_id)) == topology.forwarder_policy(values["registry"], values["region"])
        rules = {
            name.removeprefix("Forward")[: -len("ABCDEF12")]: rule
            for name, rule in stack.properties("AWS::Events::Rule").items()
            if name.startswith("Forward")
        }
        assert set(rules) == {topology.rule_id(pattern) for pattern in FORWARDED}
        for pattern in FORWARDED:
            rule = rules[topology.rule_id(pattern)]
            assert rule["EventPattern"] == for_account(pattern, workload.account)
            [target] = rule["Targets"]
            assert (written(target["Arn"]), target["RoleArn"]) == (bus, {"Fn::GetAtt": [role_id, "Arn"]})
            assert "RetryPolicy" not in target and "DeadLetterConfig" in target
