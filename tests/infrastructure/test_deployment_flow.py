"""The deployment flow's construct: its rule, queue and DLQs, its function, and a role that reads and writes no more."""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import EventPattern

from infra.names import DEPLOYMENT_HANDLER, ENV_MANAGED_GROUPS, ENV_TABLE_NAME
from registrar.patterns import FLOWS

from .conftest import Synthesized

ACCOUNT = {"Ref": "AWS::AccountId"}


def statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    function_id, _ = synthesized.function(DEPLOYMENT_HANDLER)
    return synthesized.role_statements(function_id)


def by_action(synthesized: Synthesized, action: str) -> list[dict[str, Any]]:
    found = []
    for statement in statements(synthesized):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions:
            found.append(statement)
    return found


def resources(statement: dict[str, Any]) -> list[Any]:
    granted = statement["Resource"]
    return granted if isinstance(granted, list) else [granted]


def subbed(statement: dict[str, Any]) -> list[str]:
    return [resource["Fn::Sub"] if isinstance(resource, dict) else resource for resource in resources(statement)]


def test_one_rule_routes_endpoints_in_service_of_the_stacks_account_to_the_deployment_function(
    synthesized: Synthesized,
) -> None:
    # GIVEN the synthesized rules WHEN those whose target is the deployment function's queue are read
    function_id, _ = synthesized.function(DEPLOYMENT_HANDLER)
    [queue] = [
        p["EventSourceArn"]["Fn::GetAtt"][0]
        for p in synthesized.properties("AWS::Lambda::EventSourceMapping").values()
        if p["FunctionName"] == {"Ref": function_id}
    ]
    routes = [
        (name, p["EventPattern"])
        for name, p in synthesized.properties("AWS::Events::Rule").items()
        if any(t["Arn"] == {"Fn::GetAtt": [queue, "Arn"]} for t in p.get("Targets", []))
    ]
    # THEN there is one, with the flow's pattern narrowed to the stack's account
    [(_, pattern)] = routes
    assert pattern == {**FLOWS["deployment"][0], "account": [ACCOUNT]}


def test_the_rule_matches_both_spellings_of_in_service_and_nothing_else() -> None:
    pattern = EventPattern.load(json.dumps(FLOWS["deployment"][0]))

    def event(status: str) -> dict[str, Any]:
        return {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Endpoint State Change",
            "detail": {"EndpointStatus": status},
        }

    assert [pattern.matches_event(event(s)) for s in ("IN_SERVICE", "InService", "UPDATING", "FAILED")] == [  # type: ignore[arg-type]
        True,
        True,
        False,
        False,
    ]


def test_the_function_gets_the_table_and_the_managed_groups(synthesized: Synthesized) -> None:
    _, properties = synthesized.function(DEPLOYMENT_HANDLER)
    assert set(properties["Environment"]["Variables"]) >= {ENV_TABLE_NAME, ENV_MANAGED_GROUPS}


def test_its_queue_has_a_dead_letter_queue_and_reports_partial_failures(synthesized: Synthesized) -> None:
    function_id, _ = synthesized.function(DEPLOYMENT_HANDLER)
    [mapping] = [
        p
        for p in synthesized.properties("AWS::Lambda::EventSourceMapping").values()
        if p["FunctionName"] == {"Ref": function_id}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = synthesized.properties("AWS::SQS::Queue")[mapping["EventSourceArn"]["Fn::GetAtt"][0]]
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]


def test_endpoints_configurations_and_models_are_only_described(synthesized: Synthesized) -> None:
    # GIVEN the role's statements WHEN the three describe calls are looked up
    expected = {
        "sagemaker:DescribeEndpoint": "endpoint/*",
        "sagemaker:DescribeEndpointConfig": "endpoint-config/*",
        "sagemaker:DescribeModel": "model/*",
    }
    for action, resource in expected.items():
        # THEN each is granted alone, on its own kind of resource in the stack's account and region
        [statement] = by_action(synthesized, action)
        assert statement["Action"] == action
        assert subbed(statement) == [
            f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"
        ]


def test_model_packages_are_updated_only_in_the_configured_groups(synthesized: Synthesized) -> None:
    [statement] = by_action(synthesized, "sagemaker:UpdateModelPackage")
    groups = synthesized.config.model_package_groups
    assert all(
        any(f"model-package/{g}/*" in r or f"model-package/{g.lower()}/*" in r for g in groups)
        for r in subbed(statement)
    )
    assert "*" not in subbed(statement)


def test_no_other_sagemaker_action_is_granted(synthesized: Synthesized) -> None:
    granted = {
        action
        for statement in statements(synthesized)
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("sagemaker:")
    }
    assert granted == {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DescribeModel",
        "sagemaker:DescribeModelPackage",
        "sagemaker:UpdateModelPackage",
    }


def test_it_puts_only_registrar_decisions_on_the_default_bus(synthesized: Synthesized) -> None:
    [statement] = by_action(synthesized, "events:PutEvents")
    assert subbed(statement) == ["arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"]
    assert statement["Condition"]["StringEquals"] == {
        "events:source": "registrar",
        "events:detail-type": "Registrar Decision",
    }


def test_the_table_is_reached_only_for_its_served_sets_staged_decisions_and_own_idempotency_records(
    synthesized: Synthesized,
) -> None:
    table_statements = [s for s in statements(synthesized) if str(s["Action"]).find("dynamodb:") >= 0]
    keys = {s["Sid"]: s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] for s in table_statements}
    assert keys["DeploymentLedger"] == ["deployment#*"]
    assert keys["DecisionJournal"] == ["decision#*"]
    assert set(keys) == {"DeploymentLedger", "DecisionJournal", "IdempotencyRecords"}
    assert all(s["Condition"]["Null"] == {"dynamodb:LeadingKeys": "false"} for s in table_statements)
