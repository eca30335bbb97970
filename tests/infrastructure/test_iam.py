"""Least privilege: SageMaker writes only on the configured groups, S3 reads only on the report locations."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from infra import nag
from infra.names import APPROVAL_HANDLER, CONTEXT_KEY, NEO_REGISTRATION_HANDLER, SWEEPER_HANDLER
from registrar.batch import idempotency_key_prefix
from registrar.watermark import Watermark

from .conftest import Synthesized, cdk_json_context, synthesize

SAGEMAKER_READ_PREFIXES = ("sagemaker:Describe", "sagemaker:List")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub(template: str) -> dict[str, str]:
    return {"Fn::Sub": template}


def all_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synthesized.properties("AWS::IAM::Policy").values()
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def resources_for(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]


def test_no_sagemaker_write_or_s3_read_is_granted_on_every_resource(synthesized: Synthesized) -> None:
    for statement in all_statements(synthesized):
        actions = as_list(statement["Action"])
        sensitive = [
            a
            for a in actions
            if a == "s3:GetObject" or (a.startswith("sagemaker:") and not a.startswith(SAGEMAKER_READ_PREFIXES))
        ]
        if sensitive:
            assert "*" not in as_list(statement["Resource"]), f"{sensitive} granted on *"
        assert not any("*" in a for a in actions), f"wildcard action in {actions}"


def test_update_model_package_is_granted_on_exactly_the_configured_groups(synthesized: Synthesized) -> None:
    expected = [
        sub(f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:model-package/{group}/*")
        for group in synthesized.config.model_package_groups
    ]
    for handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER):
        function_id, _function = synthesized.function(handler)
        statements = synthesized.role_statements(function_id)
        assert resources_for(statements, "sagemaker:UpdateModelPackage") == expected, handler
        assert resources_for(statements, "sagemaker:DescribeModelPackage") == expected, handler
    sweeper_id, _sweeper = synthesized.function(SWEEPER_HANDLER)
    assert resources_for(synthesized.role_statements(sweeper_id), "sagemaker:UpdateModelPackage") == []


def test_reports_are_readable_only_under_the_configured_locations(synthesized: Synthesized) -> None:
    expected = [
        sub(f"arn:${{AWS::Partition}}:s3:::{location.removeprefix('s3://')}*")
        for location in synthesized.config.report_locations
    ]
    assert resources_for(all_statements(synthesized), "s3:GetObject") == expected
    approval_id, _approval = synthesized.function(APPROVAL_HANDLER)
    assert resources_for(synthesized.role_statements(approval_id), "s3:GetObject") == expected


def listings(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """Bucket → the Condition of the statement granting s3:ListBucket on it (None when unconditional)."""
    found = {}
    for statement in statements:
        if "s3:ListBucket" in as_list(statement["Action"]):
            assert as_list(statement["Action"]) == ["s3:ListBucket"]
            [bucket] = as_list(statement["Resource"])
            found[bucket["Fn::Sub"].removeprefix("arn:${AWS::Partition}:s3:::")] = statement.get("Condition")
    return found


def test_a_missing_report_can_be_told_from_a_denied_one_but_nothing_else_listed(synthesized: Synthesized) -> None:
    # GIVEN cdk.json's one report location, s3://registrar-demo-reports/evaluations/
    [location] = synthesized.config.report_locations
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    # WHEN the approval role's statements are read
    approval_id, _approval = synthesized.function(APPROVAL_HANDLER)
    # THEN it may list that bucket, under that prefix only (so S3 answers NoSuchKey, not AccessDenied)
    assert listings(synthesized.role_statements(approval_id)) == {
        bucket: {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}
    }
    # AND no other role lists anything
    listed = resources_for(all_statements(synthesized), "s3:ListBucket")
    assert listed == [sub(f"arn:${{AWS::Partition}}:s3:::{bucket}")]


@pytest.fixture(scope="module")
def several_locations(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack synthesized with two prefixes in one bucket and a whole second bucket as report locations."""
    context = cdk_json_context()
    locations = ["s3://reports-a/evaluations/", "s3://reports-a/shadow/runs", "s3://reports-b"]
    context[CONTEXT_KEY] = {**context[CONTEXT_KEY], "report_locations": locations}
    return synthesize(tmp_path_factory.mktemp("several-locations"), context)


def test_each_report_bucket_is_listable_under_its_own_prefixes_only(several_locations: Synthesized) -> None:
    # GIVEN two prefixes in reports-a and the whole of reports-b WHEN synthesized
    approval_id, _approval = several_locations.function(APPROVAL_HANDLER)
    # THEN reports-a may be listed under its two prefixes, and reports-b, configured whole, without a condition
    assert listings(several_locations.role_statements(approval_id)) == {
        "reports-a": {"StringLike": {"s3:prefix": ["evaluations/", "evaluations/*", "shadow/runs", "shadow/runs*"]}},
        "reports-b": None,
    }
    # AND cdk-nag has nothing to say about it
    found = nag.violations(several_locations.outdir)
    assert not found, nag.describe(found)
    assert several_locations.error is None


def table_grants(synthesized: Synthesized, handler: str) -> dict[str, list[Any]]:
    """DynamoDB action → the resources a function's role is granted it on."""
    function_id, _function = synthesized.function(handler)
    statements = synthesized.role_statements(function_id)
    actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("dynamodb:")}
    return {action: resources_for(statements, action) for action in sorted(actions)}


@pytest.mark.parametrize(
    ("handler", "actions"),
    [
        # Powertools Idempotency's DynamoDBPersistenceLayer: get_item, put_item, update_item, delete_item
        (APPROVAL_HANDLER, ("DeleteItem", "GetItem", "PutItem", "UpdateItem")),
        (NEO_REGISTRATION_HANDLER, ("DeleteItem", "GetItem", "PutItem", "UpdateItem")),
        # registrar.watermark.Watermark: get_item, put_item
        (SWEEPER_HANDLER, ("GetItem", "PutItem")),
    ],
)
def test_each_role_may_call_only_the_table_operations_its_code_makes(
    synthesized: Synthesized, handler: str, actions: tuple[str, ...]
) -> None:
    # GIVEN the one state table
    [table_id] = synthesized.resources("AWS::DynamoDB::Table")
    # WHEN a function's role is read THEN it holds exactly the item calls its code makes, on that table only
    table = {"Fn::GetAtt": [table_id, "Arn"]}
    assert table_grants(synthesized, handler) == {f"dynamodb:{action}": [table] for action in actions}


def table_statements(synthesized: Synthesized, handler: str) -> list[dict[str, Any]]:
    function_id, _function = synthesized.function(handler)
    return [
        s
        for s in synthesized.role_statements(function_id)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]


def leading_keys(synthesized: Synthesized, handler: str) -> list[Any]:
    """The partition keys a function's role may use on the state table, as synthesized (one statement, conditioned)."""
    [statement] = table_statements(synthesized, handler)
    condition = statement["Condition"]
    # Every key a request names must match (ForAllValues), and a request must name one: ForAllValues alone holds
    # for an empty set
    assert set(condition) == {"ForAllValues:StringLike", "Null"}
    assert condition["Null"] == {"dynamodb:LeadingKeys": "false"}
    return as_list(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])


@pytest.mark.parametrize("handler", [APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER])
def test_a_handler_role_may_touch_only_the_idempotency_records_of_its_own_function(
    synthesized: Synthesized, handler: str
) -> None:
    # GIVEN a function that keeps Powertools Idempotency records WHEN its role's table statement is read
    function_id, _function = synthesized.function(handler)
    # THEN it is limited to the keys <this function's name>.registrar.batch.v<N>#<hash>, its name as deployed
    assert leading_keys(synthesized, handler) == [{"Fn::Join": ["", [{"Ref": function_id}, ".registrar.batch.v3#*"]]}]


def test_the_sweeper_role_may_touch_only_its_watermark(synthesized: Synthesized) -> None:
    assert leading_keys(synthesized, SWEEPER_HANDLER) == ["watermark#sweeper#compilation-jobs"]


def iam_like(value: str, pattern: str) -> bool:
    """IAM's StringLike: ``*`` any run of characters, ``?`` one, nothing else special."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def deployed_patterns(value: Any, names: dict[str, str]) -> Any:
    """A LeadingKeys value with each function's ``Ref`` replaced by the name CloudFormation would give it."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return names[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(deployed_patterns(part, names) for part in parts)
    assert isinstance(value, str), f"unexpected intrinsic function in a condition: {value}"
    return value


def test_each_role_reaches_the_items_its_code_writes_and_no_other_roles(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the three functions, named as CloudFormation names them, and the ids their code gives the items it keeps:
    # Powertools' own key for an idempotency record (registrar.batch's prefix) and the sweeper's watermark
    handlers = {APPROVAL_HANDLER: "approval", NEO_REGISTRATION_HANDLER: "neo", SWEEPER_HANDLER: "sweeper"}
    names = {
        synthesized.function(handler)[0]: f"Registrar-{role.title()}HandlerFunction-AbC123dEf456"
        for handler, role in handlers.items()
    }

    def record_id(function_name: str) -> str:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function_name)
        store = DynamoDBPersistenceLayer(table_name="state", key_attr="id")
        store.configure(IdempotencyConfig(event_key_jmespath="key"), key_prefix=idempotency_key_prefix())
        key = store._get_hashed_idempotency_key({"key": "arn:aws:sagemaker:...:model-package/churn-model/3"})
        assert key is not None
        return key

    items = {
        handler: [
            Watermark("state").item_id
            if handler == SWEEPER_HANDLER
            else record_id(names[synthesized.function(handler)[0]])
        ]
        for handler in handlers
    }
    # WHEN each role's LeadingKeys patterns are evaluated as IAM would, against every item's id
    for handler in handlers:
        patterns = [deployed_patterns(p, names) for p in leading_keys(synthesized, handler)]
        for owner, ids in items.items():
            for item in ids:
                # THEN a role reaches its own items, and none of another role's
                allowed = any(iam_like(item, pattern) for pattern in patterns)
                assert allowed == (owner == handler), f"{handler} on {item}: {'allowed' if allowed else 'denied'}"


@pytest.mark.parametrize("handler", [APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER])
def test_no_batch_reaches_a_handler_before_its_role_may_keep_idempotency_records(
    synthesized: Synthesized, handler: str
) -> None:
    # GIVEN the policy that holds a handler's idempotency grant: it names the function, so it cannot be the role
    # policy the function waits for (a cycle); the function is created first
    function_id, function = synthesized.function(handler)
    role = function["Role"]["Fn::GetAtt"][0]
    [policy_id] = [
        name
        for name, policy in synthesized.properties("AWS::IAM::Policy").items()
        if {"Ref": role} in policy["Roles"]
        and any(s.get("Sid") == "IdempotencyRecords" for s in policy["PolicyDocument"]["Statement"])
    ]
    assert policy_id not in synthesized.resources("AWS::Lambda::Function")[function_id]["DependsOn"]
    # WHEN the event source mapping that feeds the function is read THEN it waits for that policy
    [mapping] = [
        m
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert policy_id in mapping.get("DependsOn", [])


def test_the_state_table_needs_no_kms_permission(synthesized: Synthesized) -> None:
    # GIVEN the state table WHEN its encryption is read THEN it names no customer managed key: DynamoDB's own
    # key needs no KMS permission from callers, while a customer managed one would need kms:Decrypt, Encrypt
    # and GenerateDataKey granted beside the DynamoDB actions
    [table] = synthesized.properties("AWS::DynamoDB::Table").values()
    assert "KMSMasterKeyId" not in table.get("SSESpecification", {})
    # (the decision links' roles decrypt the signing secret's own key, through Secrets Manager: test_decision_page.py)
    assert not [
        a
        for s in all_statements(synthesized)
        if s.get("Sid") != "DecryptSigningSecret"
        for a in as_list(s["Action"])
        if a.startswith("kms:")
    ]


def test_champion_lookup_lists_only_the_configured_groups(synthesized: Synthesized) -> None:
    approval_id, _approval = synthesized.function(APPROVAL_HANDLER)
    listed = resources_for(synthesized.role_statements(approval_id), "sagemaker:ListModelPackages")
    prefix = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
    for group in synthesized.config.model_package_groups:
        assert sub(f"{prefix}model-package-group/{group}") in listed
    assert all(
        r["Fn::Sub"].removeprefix(prefix).split("/")[1] in synthesized.config.model_package_groups for r in listed
    )


@pytest.mark.parametrize(
    ("handler", "actions", "kind"),
    [
        (APPROVAL_HANDLER, ("sagemaker:DescribeProcessingJob", "sagemaker:ListTags"), "processing-job"),
        (NEO_REGISTRATION_HANDLER, ("sagemaker:DescribeCompilationJob", "sagemaker:ListTags"), "compilation-job"),
    ],
)
def test_jobs_are_read_only_within_their_kind(
    synthesized: Synthesized, handler: str, actions: tuple[str, ...], kind: str
) -> None:
    function_id, _function = synthesized.function(handler)
    statements = synthesized.role_statements(function_id)
    for action in actions:
        assert resources_for(statements, action) == [
            sub(f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/*")
        ]


def test_only_the_sweeper_lists_compilation_jobs_and_every_function_puts_events_on_the_default_bus_only(
    synthesized: Synthesized,
) -> None:
    for handler in (APPROVAL_HANDLER, NEO_REGISTRATION_HANDLER, SWEEPER_HANDLER):
        function_id, _function = synthesized.function(handler)
        statements = synthesized.role_statements(function_id)
        lists = resources_for(statements, "sagemaker:ListCompilationJobs")
        puts = resources_for(statements, "events:PutEvents")
        [bus] = puts  # the sweeper its compilation jobs, the flows their decisions (test_notifications)
        assert "event-bus/default" in str(bus)
        if handler == SWEEPER_HANDLER:
            assert lists == ["*"]  # the action has no resource type
        else:
            assert lists == []


def test_roles_carry_no_managed_policies(synthesized: Synthesized) -> None:
    for name, role in synthesized.properties("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role, name
