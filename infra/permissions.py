"""The IAM statements registrar's functions need, scoped to the configured groups and report locations.

ARNs are ``Fn::Sub`` templates so the synthesized policy reads like the ARN it grants, and so
:func:`infra.nag.acknowledge_wildcards` can name the exact cdk-nag finding each one raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra import nag
from infra.config import split_location
from infra.function import RegistrarFunction
from registrar.batch import IDEMPOTENCY_RECORD_VERSION
from registrar.decisions.contract import DECISION_DETAIL_TYPE
from registrar.events import REGISTRAR_SOURCE
from registrar.watermark import DEFAULT_KEY as SWEEPER_WATERMARK_KEY
from registrar.watermark import ID_PREFIX as WATERMARK_ID_PREFIX

# The global condition key of the account that owns the resource a request acts on (for S3, the bucket's owner).
RESOURCE_ACCOUNT = "aws:ResourceAccount"
UPDATE_PACKAGE_ACTIONS = ("sagemaker:UpdateModelPackage", "sagemaker:DescribeModelPackage")
# What Powertools Idempotency's DynamoDBPersistenceLayer calls (get_item, put_item, update_item, delete_item).
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# What registrar.watermark.Watermark calls (get_item, put_item).
WATERMARK_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
# The id of the one item the sweeper reads and writes: registrar.watermark.Watermark's default key.
SWEEPER_WATERMARK_ID = WATERMARK_ID_PREFIX + SWEEPER_WATERMARK_KEY
VERSIONS_REASON = (
    "Describe/Update/ListModelPackages are limited to the versions of one model package group (or group pattern) "
    "configured in cdk.json; the trailing * stands for the version numbers"
)
GROUPS_REASON = (
    "ListModelPackages is limited to one model package group pattern configured in cdk.json (e.g. churn-*), which "
    "IAM matches with the same wildcard"
)


def sagemaker_arn(resource: str) -> str:
    """An ``Fn::Sub`` template for a SageMaker ARN in the stack's partition, region and account."""
    return f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"


def _group_names(groups: Iterable[str]) -> list[str]:
    # SageMaker writes resource names into ARNs in lower case, and IAM compares ARNs case-sensitively:
    # grant both spellings so a group named "Churn" is covered whichever one the service evaluates.
    return list(dict.fromkeys(name for group in groups for name in (group, group.lower())))


def package_versions(groups: Iterable[str]) -> list[str]:
    """``model-package/<group>/*`` for each group: every version in it, nothing else."""
    return [sagemaker_arn(f"model-package/{group}/*") for group in _group_names(groups)]


def package_groups(groups: Iterable[str]) -> list[str]:
    """``model-package-group/<group>`` for each group."""
    return [sagemaker_arn(f"model-package-group/{group}") for group in _group_names(groups)]


def report_objects(locations: Iterable[str]) -> list[str]:
    """``arn:...:s3:::bucket/prefix*`` for each ``s3://bucket/prefix`` location."""
    return [f"arn:${{AWS::Partition}}:s3:::{bucket}/{prefix}*" for bucket, prefix in map(split_location, locations)]


def report_listings(locations: Iterable[str]) -> list[tuple[str, list[str] | None]]:
    """``(arn:...:s3:::bucket, s3:prefix patterns)`` for each bucket of the locations, in order of appearance.

    The patterns are each configured prefix and everything below it (``prefix``, ``prefix*``); ``None``
    when a location names the whole bucket, which leaves nothing to restrict.
    """
    prefixes: dict[str, list[str] | None] = {}
    for bucket, prefix in map(split_location, locations):
        if not prefix:
            prefixes[bucket] = None
        elif (listed := prefixes.setdefault(bucket, [])) is not None:
            listed.extend(p for p in (prefix, f"{prefix}*") if p not in listed)
    return [(f"arn:${{AWS::Partition}}:s3:::{bucket}", patterns) for bucket, patterns in prefixes.items()]


def evidence_role(account: str, role_name: str) -> str:
    """An ``Fn::Sub`` template for the ARN of the evidence role in a workload ``account``."""
    return f"arn:${{AWS::Partition}}:iam::{account}:role/{role_name}"


def assume_evidence_roles(role: iam.IRole, accounts: Sequence[str], role_name: str) -> None:
    """sts:AssumeRole on the evidence role of each listed workload account, and on no other role.

    The ARNs are exact (no wildcard): a workload account that is not listed cannot be assumed into,
    whatever an event or a package names.
    """
    role.add_to_principal_policy(
        _statement("AssumeEvidenceRoles", ["sts:AssumeRole"], [evidence_role(a, role_name) for a in accounts])
    )


def default_bus() -> str:
    """An ``Fn::Sub`` template for the ARN of the account's default event bus."""
    return "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"


def _statement(
    sid: str, actions: Sequence[str], resources: Sequence[str], conditions: dict[str, Any] | None = None
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid, actions=list(actions), resources=[cdk.Fn.sub(r) for r in resources], conditions=conditions
    )


def update_packages(role: iam.IRole, groups: Sequence[str]) -> None:
    """Describe and update the versions of the configured groups, and no other package."""
    resources = package_versions(groups)
    role.add_to_principal_policy(_statement("UpdateManagedPackageVersions", UPDATE_PACKAGE_ACTIONS, resources))
    nag.acknowledge_wildcards(role, ((resource, VERSIONS_REASON) for resource in resources))


def list_group_versions(role: iam.IRole, groups: Sequence[str]) -> None:
    """List the versions of the configured groups (the approval handler's champion lookup)."""
    versions, group_arns = package_versions(groups), package_groups(groups)
    # The service authorization reference files ListModelPackages under the model-package resource type,
    # while resource policies grant it on the group: grant both, for the configured groups only.
    role.add_to_principal_policy(
        _statement("ListManagedPackageVersions", ["sagemaker:ListModelPackages"], [*group_arns, *versions])
    )
    nag.acknowledge_wildcards(
        role, [*((r, GROUPS_REASON) for r in group_arns), *((r, VERSIONS_REASON) for r in versions)]
    )


def read_jobs(role: iam.IRole, kind: str, actions: Sequence[str]) -> None:
    """Read-only access to one kind of SageMaker job (``processing-job``, ``compilation-job``) and its tags."""
    resource = sagemaker_arn(f"{kind}/*")
    role.add_to_principal_policy(_statement(f"Read{_title(kind)}s", [*actions, "sagemaker:ListTags"], [resource]))
    nag.acknowledge(
        role,
        f"IAM5[Resource::{nag.flatten(resource)}]",
        f"Which {kind} an event names is only known at run time; the actions are read-only (Describe, ListTags) "
        f"and limited to {kind}s in this account and region",
    )


def read_reports(role: iam.IRole, locations: Sequence[str], *, owner: str | None = None) -> None:
    """s3:GetObject under the configured report locations, and s3:ListBucket limited to the same prefixes.

    Without s3:ListBucket, S3 answers GetObject on a missing key with 403 AccessDenied rather than 404
    NoSuchKey, and a report that was never written reads as a permission problem. The s3:prefix condition
    lets the role list (and so learn that a key is missing) under the configured prefixes and nowhere else.

    ``owner``, an ``Fn::Sub`` template of an account id (``${AWS::AccountId}``), adds ``aws:ResourceAccount``
    to every statement: the buckets must belong to that account. A bucket name is global; one deleted, or
    mistyped in the configuration, may be created by another account, and the role then reads nothing there.
    """
    resources = report_objects(locations)
    owned: dict[str, Any] = {} if owner is None else {"StringEquals": {RESOURCE_ACCOUNT: cdk.Fn.sub(owner)}}
    role.add_to_principal_policy(_statement("ReadEvaluationReports", ["s3:GetObject"], resources, owned or None))
    nag.acknowledge_wildcards(
        role,
        (
            (
                resource,
                "s3:GetObject is limited to the objects under one configured report location; the * covers the "
                "report keys below that prefix",
            )
            for resource in resources
        ),
    )
    for number, (bucket, patterns) in enumerate(report_listings(locations), start=1):
        conditions: dict[str, Any] = {} if patterns is None else {"StringLike": {"s3:prefix": patterns}}
        role.add_to_principal_policy(
            _statement(f"ListEvaluationReports{number}", ["s3:ListBucket"], [bucket], {**conditions, **owned} or None)
        )


def put_decision_events(role: iam.IRole) -> None:
    """events:PutEvents on the default bus, for ``Registrar Decision`` events of source ``registrar`` only.

    EventBridge evaluates ``events:source`` and ``events:detail-type`` on every entry of a PutEvents call
    (docs: "Using IAM policy conditions in Amazon EventBridge"), so the role cannot publish anything else
    under the project's name, nor any other source: an event a rule reads as a decision is one a function
    of registrar's wrote.
    """
    role.add_to_principal_policy(
        _statement(
            "PutDecisionEvents",
            ["events:PutEvents"],
            [default_bus()],
            {"StringEquals": {"events:source": REGISTRAR_SOURCE, "events:detail-type": DECISION_DETAIL_TYPE}},
        )
    )


def idempotency_key_pattern(function_name: str) -> str:
    """The ids of the idempotency records one function writes, as an IAM ``StringLike`` pattern.

    Powertools keys a record ``<key prefix>#<hash>``, and registrar's prefix is
    ``<AWS_LAMBDA_FUNCTION_NAME>.registrar.batch.v<IDEMPOTENCY_RECORD_VERSION>``
    (:func:`registrar.batch.idempotency_key_prefix`; a test holds the two together). A Lambda function
    name has no ``.``, so no other function's records match.

    Parameters
    ----------
    function_name
        The function's physical name (in the CDK app, its ``function_name`` token).
    """
    return f"{function_name}.registrar.batch.v{IDEMPOTENCY_RECORD_VERSION}#*"


def own_items(table: dynamodb.ITable, sid: str, actions: Sequence[str], keys: Sequence[str]) -> iam.PolicyStatement:
    """Item-level ``actions`` on the state table, for the items whose partition key matches one of ``keys`` only.

    ``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys`` holds every key a request names to the
    patterns; the ``Null`` condition refuses a request that names none, which ``ForAllValues`` alone
    would let through (an empty set satisfies it).
    """
    return iam.PolicyStatement(
        sid=sid,
        actions=list(actions),
        resources=[table.table_arn],
        conditions={
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(keys)},
            "Null": {"dynamodb:LeadingKeys": "false"},
        },
    )


def use_table(role: iam.IRole, table: dynamodb.ITable, sid: str, actions: Sequence[str], keys: Sequence[str]) -> None:
    """Item-level ``actions`` on the state table's ``keys`` (patterns), and nothing else of it.

    No Scan, Query, batch or describe call, and no item of another role. The table is encrypted
    with an AWS owned key, which needs no KMS permission from the caller (a test holds this: a
    customer managed key would need kms:Decrypt, Encrypt and GenerateDataKey here).
    """
    role.add_to_principal_policy(own_items(table, sid, actions, keys))


def use_idempotency_records(
    handler: RegistrarFunction, table: dynamodb.ITable, *, before: Sequence[IConstruct] = ()
) -> iam.Policy:
    """Powertools Idempotency's calls on the state table, for ``handler``'s own records only.

    The condition names the function (:func:`idempotency_key_pattern` of its name), and the function
    waits for its role's default policy, so the statement cannot be in that policy (a dependency
    cycle): it is a policy of its own, which waits for the function instead.

    Parameters
    ----------
    handler
        A function that runs :func:`registrar.batch.process_batch` with a table.
    table
        The state table.
    before
        What must not start before the grant exists: the function's event source mappings, so no
        batch is handled without it.

    Returns
    -------
    aws_cdk.aws_iam.Policy
        The policy, attached to the function's role.
    """
    records = idempotency_key_pattern(handler.function.function_name)
    policy = iam.Policy(
        handler,
        "IdempotencyRecordsPolicy",
        roles=[handler.role],
        statements=[own_items(table, "IdempotencyRecords", IDEMPOTENCY_ACTIONS, [records])],
    )
    for dependent in before:
        dependent.node.add_dependency(policy)
    return policy


def _title(kind: str) -> str:
    return "".join(part.title() for part in kind.split("-"))


def read_endpoints(role: iam.IRole) -> None:
    """Describe the account's endpoints, endpoint configurations and models, and nothing else of them.

    The deployment flow reads which versions an endpoint serves through these three calls
    (registrar.deployments); which endpoint an event names is only known at run time.
    """
    resources = {
        "sagemaker:DescribeEndpoint": sagemaker_arn("endpoint/*"),
        "sagemaker:DescribeEndpointConfig": sagemaker_arn("endpoint-config/*"),
        "sagemaker:DescribeModel": sagemaker_arn("model/*"),
    }
    for action, resource in resources.items():
        name = action.removeprefix("sagemaker:")
        role.add_to_principal_policy(_statement(name, [action], [resource]))
    nag.acknowledge_wildcards(
        role,
        (
            (
                resource,
                f"{action} is read-only and limited to this account and region; which one an endpoint event leads to "
                "is only known at run time",
            )
            for action, resource in resources.items()
        ),
    )


def read_secret(role: iam.IRole, secret_arn: str, key_arn: str) -> None:
    """secretsmanager:GetSecretValue on one secret, and kms:Decrypt of its key only through Secrets Manager.

    Explicit rather than ``Secret.grant_read``, which adds DescribeSecret: the functions read the value alone.
    ``kms:ViaService`` limits the decryption to what Secrets Manager asks for on the role's behalf, and
    ``kms:EncryptionContext:SecretARN`` to this secret's values.
    """
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="ReadSigningSecret", actions=["secretsmanager:GetSecretValue"], resources=[secret_arn])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DecryptSigningSecret",
            actions=["kms:Decrypt"],
            resources=[key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": cdk.Fn.sub("secretsmanager.${AWS::Region}.amazonaws.com"),
                    "kms:EncryptionContext:SecretARN": secret_arn,
                }
            },
        )
    )


def ses_identity(identity: str) -> str:
    """An ``Fn::Sub`` template for the ARN of an SES identity (an address or a domain) of the stack's account."""
    return f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{identity}"


def send_email(role: iam.IRole, identity: str, from_address: str) -> None:
    """ses:SendEmail from one verified identity, with ``From`` the one configured address, nothing else.

    SES authorizes SendEmail (API v1 and v2) against the identity the ``From`` address belongs to; the
    ``ses:FromAddress`` condition holds the address itself to the configured one, so a domain identity does
    not let the role send as any address of the domain.
    """
    role.add_to_principal_policy(
        _statement(
            "SendApproverEmail",
            ["ses:SendEmail"],
            [ses_identity(identity)],
            {"StringEquals": {"ses:FromAddress": from_address}},
        )
    )
