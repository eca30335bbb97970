"""registrar history: a version's story read from its own records, and what reading a group costs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from registrar.history import (
    PERSON_PREFIX,
    RollbackRecord,
    VersionStory,
    person_decided_by,
    story,
    thresholds,
)
from registrar.package import ModelPackage
from registrar.registry import Registry
from registrar_cli import history as command
from registrar_cli.arguments import InvalidArgumentError

GROUP = "churn"
CREATED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MODIFIED = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)
APPROVED = "registrar: Approved — auc 0.91 ≥ min 0.85 and ≤ max 1; recall 0.72 ≥ min 0.6 (policy 3f2a9c1)"
REJECTED = "registrar: Rejected — auc 0.81 < min 0.85; recall 0.71 ≥ min 0.6; on_failure is reject (policy 3f2a9c1)"
REGISTRAR_RECORD = {
    "registrar:verdict": "Approved",
    "registrar:policy": "3f2a9c1",
    "registrar:evidence": "s3://reports/churn/2/evaluation.json",
    "registrar:decided-by": "rule 1: churn-...",
    "registrar:metric:auc": "0.91",
    "registrar:metric:recall": "0.72",
}
JSON_KEYS = {
    "version",
    "model_package_arn",
    "status",
    "package_status",
    "created_at",
    "last_modified_at",
    "decided_at",
    "decided_by",
    "verdict",
    "description",
    "evidence",
    "metrics",
    "champion",
    "specifications",
    "neo",
    "deployments",
    "rollback",
}


def arn(version: int) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}"


def package(version: int = 2, **fields: Any) -> ModelPackage:
    description: dict[str, Any] = {
        "ModelPackageArn": arn(version),
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": version,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        "CreationTime": CREATED,
        "LastModifiedTime": MODIFIED,
    }
    description.update(fields)
    return ModelPackage.model_validate(description)


# Who decided ----------------------------------------------------------------------------------------


def test_registrar_decision_names_rule_and_policy() -> None:
    # GIVEN a version registrar approved
    approved = package(
        ModelApprovalStatus="Approved", ApprovalDescription=APPROVED, CustomerMetadataProperties=REGISTRAR_RECORD
    )

    # WHEN its story is read
    told = story(approved)

    # THEN registrar decided it, by its rule and policy
    assert told.decided_by.kind == "registrar"
    assert (told.decided_by.rule, told.decided_by.policy) == ("rule 1: churn-...", "3f2a9c1")
    assert told.decided_by.text == "registrar (rule 1: churn-..., policy 3f2a9c1)"
    assert (told.status, told.verdict, told.evidence) == (
        "Approved",
        "Approved",
        "s3://reports/churn/2/evaluation.json",
    )


def test_person_decision_reads_the_person_convention() -> None:
    # GIVEN a version whose decided-by holds person:NAME, as registrar's person decisions write it
    decided = package(
        ModelApprovalStatus="Rejected",
        CustomerMetadataProperties={
            "registrar:verdict": "Rejected",
            "registrar:decided-by": person_decided_by("jane.doe@example.com"),
            "registrar:decided-at": "2026-12-01T09:30:00Z",
        },
    )

    # WHEN its story is read
    told = story(decided)

    # THEN a person decided, and when is recorded
    assert person_decided_by("ops") == PERSON_PREFIX + "ops" == "person:ops"
    assert (told.decided_by.kind, told.decided_by.name) == ("person", "jane.doe@example.com")
    assert told.decided_at == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_status_other_than_the_recorded_verdict_was_changed_outside_registrar() -> None:
    # GIVEN a version registrar approved that someone rejected in the console since
    changed = package(ModelApprovalStatus="Rejected", CustomerMetadataProperties=REGISTRAR_RECORD)

    # WHEN its story is read
    told = story(changed)

    # THEN it was changed outside registrar, and registrar's own verdict is still shown
    assert told.decided_by.kind == "outside"
    assert told.decided_by.text == "changed outside registrar (registrar recorded Approved, the status is Rejected)"
    assert told.verdict == "Approved"


@pytest.mark.parametrize(
    ("status", "metadata", "kind"),
    [
        ("Approved", {}, "outside"),
        ("PendingManualApproval", {}, "none"),
        (
            "PendingManualApproval",
            {"registrar:verdict": "Held", "registrar:decided-by": "rule 2: fraud-..."},
            "registrar",
        ),
        ("Approved", {"registrar:verdict": "Held"}, "outside"),
    ],
)
def test_who_decided_without_or_with_a_hold(status: str, metadata: dict[str, str], kind: str) -> None:
    # GIVEN a version with that status and those records
    # WHEN its story is read
    told = story(package(ModelApprovalStatus=status, CustomerMetadataProperties=metadata))
    # THEN the decider is of that kind
    assert told.decided_by.kind == kind


# Metrics against thresholds -------------------------------------------------------------------------


def test_metrics_beside_the_thresholds_the_description_states() -> None:
    # GIVEN a version rejected on auc, with a champion comparison recorded
    rejected = package(
        ModelApprovalStatus="Rejected",
        ApprovalDescription=REJECTED,
        CustomerMetadataProperties={
            **REGISTRAR_RECORD,
            "registrar:verdict": "Rejected",
            "registrar:metric:auc": "0.81",
            "registrar:metric:recall": "0.71",
            "registrar:champion": arn(1),
            "registrar:champion:auc": "0.9",
        },
    )

    # WHEN its story is read
    rows = {row.name: row for row in story(rejected).metrics}

    # THEN each metric has its value, thresholds and whether it passed; the champion's value beside it
    assert (rows["auc"].value, rows["auc"].min, rows["auc"].max, rows["auc"].passed) == (0.81, 0.85, None, False)
    assert rows["auc"].champion_value == 0.9
    assert (rows["recall"].value, rows["recall"].min, rows["recall"].passed) == (0.71, 0.6, True)
    assert story(rejected).champion == arn(1)


def test_metric_without_a_number_or_threshold() -> None:
    # GIVEN a version whose auc read as NaN and whose description is not registrar's
    odd = package(
        ApprovalDescription="approved by the risk board",
        CustomerMetadataProperties={"registrar:verdict": "Held", "registrar:metric:auc": "NaN"},
    )

    # WHEN its story is read
    [row] = story(odd).metrics

    # THEN the reading is kept as written, with no number and no verdict on thresholds
    assert (row.reading, row.value, row.min, row.max, row.passed) == ("NaN", None, None, None, None)


def test_thresholds_of_every_check_form() -> None:
    # GIVEN registrar descriptions with each form of check
    description = (
        "registrar: Approved — auc 0.91 ≥ min 0.85 and ≤ max 1; loss 0.2 ≤ max 0.3; "
        "f1 score 0.5 > max 0.4; recall is absent; auc 0.91 ≥ champion v1 0.9 (beats the champion) (policy ab12)"
    )
    # WHEN the thresholds are read
    # THEN each check gives its bounds; a failed one only the bound it broke; the champion comparison none
    assert thresholds(description) == {"auc": (0.85, 1.0), "loss": (None, 0.3), "f1 score": (None, 0.4)}
    assert thresholds("rolled back to v1 by ops: test") == {}
    assert thresholds(None) == {}


# Neo, deployments, rollbacks ------------------------------------------------------------------------


def test_neo_specifications_and_records() -> None:
    # GIVEN a version with a Neo specification attached and two target records
    compiled = package(
        AdditionalInferenceSpecifications=[{"Name": "neo-ml-c5-churn-2", "Containers": []}],
        CustomerMetadataProperties={
            "registrar:neo:ml_c5": "attached churn-2-c5 neo-ml-c5-churn-2",
            "registrar:neo:jetson_nano": "edge churn-2-jetson s3://models/compiled/jetson.tar.gz",
        },
    )

    # WHEN its story is read
    told = story(compiled)

    # THEN the specification names and each target's record are listed
    assert told.specifications == ["neo-ml-c5-churn-2"]
    assert [(row.target, row.record) for row in told.neo] == [
        ("jetson_nano", "edge churn-2-jetson s3://models/compiled/jetson.tar.gz"),
        ("ml_c5", "attached churn-2-c5 neo-ml-c5-churn-2"),
    ]


def test_deployments_live_and_retired() -> None:
    # GIVEN a version deployed on two endpoints, one since retired, and an entry registrar did not write
    deployed = package(
        CustomerMetadataProperties={
            "registrar:deployed:churn-prod": "live since 2026-12-03T17:00:00Z variant AllTraffic",
            "registrar:deployed:churn-old": "retired 2026-12-02T10:00:00Z live since 2026-11-30T10:00:00Z variant Blue",
            "registrar:deployed:hand-made": "somewhere",
        }
    )

    # WHEN its story is read
    rows = story(deployed).deployments

    # THEN where and when it was deployed or retired, live first; the foreign entry is left out
    assert [(row.endpoint, row.state, row.variants) for row in rows] == [
        ("churn-prod", "live", ["AllTraffic"]),
        ("churn-old", "retired", ["Blue"]),
    ]
    assert rows[1].retired == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_rollback_record_round_trip() -> None:
    # GIVEN a rollback record
    record = RollbackRecord(direction="to", version=1, at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    # WHEN it is written and read back
    # THEN it is the same record; anything else is no record
    assert record.value == "to v1 at 2026-12-01T09:30:00Z"
    assert RollbackRecord.parse(record.value) == record
    for value in (None, "", "to v1", "sideways v1 at 2026-12-01T09:30:00Z", "to v1 at yesterday"):
        assert RollbackRecord.parse(value) is None


def test_story_json_has_stable_keys() -> None:
    # GIVEN a version rolled back by a person
    rolled = package(
        ModelApprovalStatus="Rejected",
        ApprovalDescription="rolled back to v1 by ops: test",
        CustomerMetadataProperties={
            "registrar:verdict": "Rejected",
            "registrar:decided-by": "person:ops",
            "registrar:rollback": "to v1 at 2026-12-01T09:30:00Z",
        },
    )

    # WHEN its story is printed as JSON
    printed = story(rolled).to_json()

    # THEN every documented key is there, times as ISO-8601, the rollback named
    assert set(printed) == JSON_KEYS
    assert set(printed["decided_by"]) == {"kind", "name", "rule", "policy", "text"}
    assert printed["rollback"] == {"direction": "to", "version": 1, "at": "2026-12-01T09:30:00Z"}
    assert printed["last_modified_at"] == "2026-12-01T09:30:05Z"


# Cost: one ListModelPackages page, one DescribeModelPackage per version ------------------------------


def describe_response(version: int) -> dict[str, Any]:
    return {
        "ModelPackageName": GROUP,
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": version,
        "ModelPackageArn": arn(version),
        "CreationTime": CREATED,
        "LastModifiedTime": MODIFIED,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": REGISTRAR_RECORD,
    }


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_history_costs_one_list_page_and_one_describe_per_version(limit: int) -> None:
    # GIVEN a SageMaker client that answers exactly one ListModelPackages page and one describe per version
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    versions = list(range(min(limit, 3), 0, -1))
    with Stubber(client) as stubber:
        stubber.add_response(
            "list_model_packages",
            {
                "ModelPackageSummaryList": [
                    {"ModelPackageArn": arn(v), "CreationTime": CREATED, "ModelPackageStatus": "Completed"}
                    for v in versions
                ],
                "NextToken": "more",
            },
            {"ModelPackageGroupName": GROUP, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": limit},
        )
        for version in versions:
            stubber.add_response(
                "describe_model_package", describe_response(version), {"ModelPackageName": arn(version)}
            )

        # WHEN the group's history is read
        stories = command.history(GROUP, limit=limit, registry=Registry(client))

        # THEN those calls, and no more, were made (a further call would find no response and fail)
        stubber.assert_no_pending_responses()
    assert [entry.version for entry in stories] == versions
    assert all(isinstance(entry, VersionStory) for entry in stories)


# Arguments and text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "limit", "named"),
    [
        ("churn_model", None, "GROUP 'churn_model': not a model package group name"),
        ("-churn", None, "GROUP '-churn'"),
        ("a" * 64, None, "GROUP"),
        ("churn", 0, "--limit 0: must be 1-100"),
        ("churn", 101, "--limit 101: must be 1-100"),
    ],
)
def test_invalid_arguments_name_the_argument(group: str, limit: int | None, named: str) -> None:
    # GIVEN arguments that break a rule
    # WHEN they are checked
    with pytest.raises(InvalidArgumentError) as raised:
        command.arguments(group, limit)
    # THEN one line names the argument and the rule
    assert str(raised.value).startswith(named)
    assert "\n" not in str(raised.value)


def test_default_limit_is_20() -> None:
    assert command.arguments("churn-model", None).limit == 20


def test_text_has_a_block_per_version() -> None:
    # GIVEN two versions: one approved by registrar, one restored by a rollback
    stories = [
        story(
            package(
                2,
                ModelApprovalStatus="Approved",
                ApprovalDescription=APPROVED,
                CustomerMetadataProperties=REGISTRAR_RECORD,
            )
        ),
        story(
            package(
                1,
                ModelApprovalStatus="Approved",
                ApprovalDescription="restored by ops: test",
                CustomerMetadataProperties={
                    "registrar:verdict": "Approved",
                    "registrar:decided-by": "person:ops",
                    "registrar:decided-at": "2026-12-01T09:30:00Z",
                    "registrar:rollback": "from v3 at 2026-12-01T09:30:00Z",
                },
            )
        ),
    ]

    # WHEN they are rendered as text
    lines = command.text(GROUP, stories)

    # THEN each version heads its block with its status, then who decided, when and the metrics
    assert lines[0] == "churn v2  Approved"
    assert "registrar (rule 1: churn-..., policy 3f2a9c1)" in lines[1]
    assert any("auc 0.91 (min 0.85, max 1: pass)" in line for line in lines)
    assert "churn v1  Approved" in lines
    assert any("ops (person); restored, replacing v3 at 2026-12-01T09:30:00Z" in line for line in lines)
    assert command.text(GROUP, []) == ["churn: no versions"]
