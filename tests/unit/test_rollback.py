"""registrar rollback: target choice, refusals, request shapes, half-done recognition, and the writes' order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registrar.decisions.announce import Announcer
from registrar.decisions.contract import DecisionDetail
from registrar.package import ModelPackage
from registrar.rollback import (
    MAX_NAME,
    MAX_REASON,
    RollbackRefusedError,
    RollbackRequest,
    approval_evidence,
    check_chosen,
    decide,
    default_target,
    stage,
)
from registrar.updates import PackageUpdate
from registrar_cli.arguments import InvalidArgumentError
from registrar_cli.rollback import arguments, rollback

GROUP = "churn"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
BEFORE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
APPROVED_BY_REGISTRAR = {
    "registrar:verdict": "Approved",
    "registrar:policy": "3f2a9c1",
    "registrar:decided-by": "rule 1",
}
REJECTED_BY_REGISTRAR = {
    "registrar:verdict": "Rejected",
    "registrar:policy": "3f2a9c1",
    "registrar:decided-by": "rule 1",
}


def arn(version: int) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}"


def package(
    version: int, status: str = "Approved", metadata: dict[str, str] | None = None, **fields: Any
) -> ModelPackage:
    return ModelPackage.model_validate(
        {
            "ModelPackageArn": arn(version),
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": version,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": dict(APPROVED_BY_REGISTRAR if metadata is None else metadata),
            "CreationTime": BEFORE + timedelta(minutes=version),
            "LastModifiedTime": BEFORE + timedelta(minutes=version),
            **fields,
        }
    )


def request(**fields: Any) -> RollbackRequest:
    return RollbackRequest(**{"group": GROUP, "by": "ops", "reason": "test", **fields})


# Was it Approved before? ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "metadata", "evidence"),
    [
        ("Approved", {}, "it is Approved now"),
        ("Rejected", APPROVED_BY_REGISTRAR, "registrar recorded it Approved (registrar:verdict)"),
        (
            "Rejected",
            {"registrar:verdict": "Rejected", "registrar:rollback": "to v1 at 2026-12-01T09:30:00Z"},
            "a rollback rejected it as the champion at 2026-12-01T09:30:00Z (registrar:rollback)",
        ),
        ("Rejected", {}, None),
        ("PendingManualApproval", {"registrar:verdict": "Held"}, None),
        ("Rejected", REJECTED_BY_REGISTRAR, None),
    ],
)
def test_evidence_of_an_earlier_approval(status: str, metadata: dict[str, str], evidence: str | None) -> None:
    assert approval_evidence(package(1, status, metadata)) == evidence


# Target choice --------------------------------------------------------------------------------------


def test_default_target_is_the_newest_older_version_approved_before_and_not_rejected_by_registrar() -> None:
    # GIVEN a champion v5 and, newest first: v4 rejected by registrar, v3 never approved, v2 failed, v1 approved
    champion = package(5)
    older = [
        package(4, "Rejected", REJECTED_BY_REGISTRAR),
        package(3, "PendingManualApproval", {}),
        package(2, ModelPackageStatus="Failed"),
        package(1, "Rejected", APPROVED_BY_REGISTRAR),
        package(0),
    ]
    read: list[int] = []

    def lazily() -> Iterator[ModelPackage]:
        for version in older:
            read.append(version.ModelPackageVersion or 0)
            yield version

    # WHEN the default target is chosen
    target = default_target(champion, lazily())

    # THEN it is v1 (approved by registrar, rejected outside it since), and v0 was never read
    assert target.ModelPackageVersion == 1
    assert read == [4, 3, 2, 1]


def test_no_default_target_is_refused() -> None:
    with pytest.raises(RollbackRefusedError, match=r"no version of churn older than the champion v2 .* --to"):
        default_target(package(2), [package(1, "Rejected", REJECTED_BY_REGISTRAR)])


@pytest.mark.parametrize(
    ("target", "force", "refusal"),
    [
        (package(5), False, "v5 is the champion"),
        (package(6, "PendingManualApproval"), False, "v6 is newer than the champion v5"),
        (package(3, ModelPackageStatus="Failed"), True, "v3 is Failed, not Completed"),
        (package(3, "Rejected", {}), False, "v3 was never Approved .* add --force"),
    ],
)
def test_chosen_target_refusals(target: ModelPackage, force: bool, refusal: str) -> None:
    with pytest.raises(RollbackRefusedError, match=refusal):
        check_chosen(package(5), target, force=force)


def test_force_restores_a_version_never_approved() -> None:
    check_chosen(package(5), package(3, "Rejected", {}), force=True)


# Request shapes -------------------------------------------------------------------------------------


def test_both_desired_updates_record_the_rollback() -> None:
    # GIVEN champion v2 and an older approved v1
    champion, target = package(2), package(1)

    # WHEN the rollback is decided
    decided = decide(request(), champion, target, now=NOW)

    # THEN the target is restored and the champion rejected, each naming the other and the same time
    assert decided.stage == "new"
    assert decided.restore.to_request() == {
        "ModelPackageArn": arn(1),
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": "restored by ops: test",
        "CustomerMetadataProperties": {
            "registrar:verdict": "Approved",
            "registrar:decided-by": "person:ops",
            "registrar:decided-at": "2026-12-01T09:30:00Z",
            "registrar:rollback": "from v2 at 2026-12-01T09:30:00Z",
        },
    }
    assert decided.reject.to_request() == {
        "ModelPackageArn": arn(2),
        "ModelApprovalStatus": "Rejected",
        "ApprovalDescription": "rolled back to v1 by ops: test",
        "CustomerMetadataProperties": {
            "registrar:verdict": "Rejected",
            "registrar:decided-by": "person:ops",
            "registrar:decided-at": "2026-12-01T09:30:00Z",
            "registrar:rollback": "to v1 at 2026-12-01T09:30:00Z",
        },
    }


def test_longest_name_and_reason_fit_the_description() -> None:
    # GIVEN the longest name and reason, and a ten-digit version
    decided = decide(
        request(by="n" * MAX_NAME, reason="r" * MAX_REASON), package(2_000_000_000), package(1_999_999_999), now=NOW
    )
    # THEN the description fits ApprovalDescription's 1024 characters (PackageUpdate would refuse it otherwise)
    assert len(decided.reject.ApprovalDescription or "") <= 1024


def test_no_room_for_the_record_is_refused() -> None:
    # GIVEN a target whose 50 metadata entries are all taken by others
    full = package(1, metadata={f"team:{i}": "x" for i in range(50)})
    # WHEN the rollback is decided
    # THEN it is refused, naming the version and what to remove
    with pytest.raises(RollbackRefusedError, match=r"v1 has no room .* 50 of 50 .* remove 4 of the others"):
        decide(request(), package(2), full, now=NOW)


# Half done, done ------------------------------------------------------------------------------------


def restored(by: str = "ops", reason: str = "test") -> ModelPackage:
    """v1 as the first write of the rollback of v2 at NOW leaves it."""
    return package(
        1,
        "Approved",
        {
            **APPROVED_BY_REGISTRAR,
            "registrar:decided-by": f"person:{by}",
            "registrar:decided-at": "2026-12-01T09:30:00Z",
            "registrar:rollback": "from v2 at 2026-12-01T09:30:00Z",
        },
        ApprovalDescription=f"restored by {by}: {reason}",
    )


def rolled_back() -> ModelPackage:
    """v2 as the second write of the rollback to v1 at NOW leaves it."""
    return package(
        2,
        "Rejected",
        {
            "registrar:verdict": "Rejected",
            "registrar:decided-by": "person:ops",
            "registrar:decided-at": "2026-12-01T09:30:00Z",
            "registrar:rollback": "to v1 at 2026-12-01T09:30:00Z",
        },
        ApprovalDescription="rolled back to v1 by ops: test",
    )


def test_half_done_is_completed_with_the_first_runs_name_reason_and_time() -> None:
    # GIVEN v1 restored by the first write, v2 still the champion (the second write never made)
    target, champion = restored(by="ops", reason="first reason"), package(2)

    # WHEN the rollback is run again, later, by someone else with another reason
    decided = decide(request(by="other", reason="second"), champion, target, now=LATER)

    # THEN it is recognised as half done and completed as the first run began it
    assert stage(champion, target)[0] == "half-done"
    assert decided.stage == "half-done"
    assert (decided.at, decided.by, decided.reason) == (NOW, "ops", "first reason")
    assert decided.reject.ApprovalDescription == "rolled back to v1 by ops: first reason"
    assert (decided.reject.CustomerMetadataProperties or {})["registrar:rollback"] == "to v1 at 2026-12-01T09:30:00Z"
    assert decided.restore_reasons[0].startswith("completing the rollback ops started at 2026-12-01T09:30:00Z")


def test_both_records_are_a_rollback_done() -> None:
    # GIVEN v2 and v1 as both writes of a rollback leave them
    # WHEN its stage is read
    reached, record = stage(rolled_back(), restored())
    # THEN it is done, at the recorded time; versions without records are a new rollback
    assert (reached, record.at if record else None) == ("done", NOW)
    assert stage(package(2), package(1)) == ("new", None)


# Arguments ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"group": "churn_model"}, "GROUP 'churn_model'"),
        ({"to": "x1"}, "--to 'x1': not a version number"),
        ({"to": "0"}, "--to 0: must be a version number"),
        ({"by": ""}, "--by ''"),
        ({"by": "a:b"}, "--by 'a:b': character ':' is not allowed"),
        ({"by": " ops"}, "--by ' ops': cannot begin or end with a space"),
        ({"by": "n" * (MAX_NAME + 1)}, "--by"),
        ({"reason": "  "}, "--reason '  ': cannot be blank"),
        ({"reason": "two\nlines"}, "--reason 'two\\nlines': must be one line"),
        ({"reason": "r" * (MAX_REASON + 1)}, "--reason"),
    ],
)
def test_invalid_arguments_name_the_argument(values: dict[str, Any], named: str) -> None:
    given = {"group": GROUP, "to": None, "by": "ops", "reason": "test", "force": False, **values}
    with pytest.raises(InvalidArgumentError) as raised:
        arguments(**given)
    assert str(raised.value).startswith(named)
    assert "\n" not in str(raised.value)


def test_to_takes_a_number_or_v_number() -> None:
    assert arguments(group=GROUP, to="v3", by="Jane Doe", reason="bad drift", force=False).to == 3
    assert arguments(group=GROUP, to="3", by="ops", reason="x", force=True).to == 3


# The command's writes, with an in-memory registry ---------------------------------------------------


@dataclass
class FakeRegistry:
    """SageMaker's model registry in memory: versions by ARN, updates applied as UpdateModelPackage does."""

    packages: dict[str, ModelPackage]
    writes: list[PackageUpdate] = field(default_factory=list)
    fail_after_writes: int | None = None
    tick: int = 0

    def describe(self, model_package_arn: str) -> ModelPackage:
        return self.packages[model_package_arn]

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]:
        newest_first = sorted(self.packages.values(), key=lambda p: p.ModelPackageVersion or 0, reverse=True)
        for entry in newest_first:
            if approval_status is None or entry.ModelApprovalStatus == approval_status:
                yield {
                    "ModelPackageArn": entry.ModelPackageArn,
                    "ModelPackageVersion": entry.ModelPackageVersion,
                    "ModelApprovalStatus": entry.ModelApprovalStatus,
                }

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        for summary in self.list_packages(group_name, "Approved"):
            if summary["ModelPackageArn"] != excluding:
                return self.describe(summary["ModelPackageArn"])
        return None

    def update(self, update: PackageUpdate) -> str:
        current = self.packages[update.ModelPackageArn]
        self.tick += 1
        changes: dict[str, Any] = {"LastModifiedTime": NOW + timedelta(seconds=self.tick)}
        if update.ModelApprovalStatus is not None:
            changes["ModelApprovalStatus"] = update.ModelApprovalStatus
        if update.ApprovalDescription is not None:
            changes["ApprovalDescription"] = update.ApprovalDescription
        if update.CustomerMetadataProperties:
            changes["CustomerMetadataProperties"] = {
                **current.CustomerMetadataProperties,
                **update.CustomerMetadataProperties,
            }
        self.packages[update.ModelPackageArn] = current.model_copy(update=changes)
        self.writes.append(update)
        if self.fail_after_writes is not None and len(self.writes) >= self.fail_after_writes:
            self.fail_after_writes = None
            raise ConnectionError("the process died after the write")
        return update.ModelPackageArn

    def status(self, version: int) -> str | None:
        return self.packages[arn(version)].ModelApprovalStatus


@dataclass
class FakeBus:
    published: list[DecisionDetail] = field(default_factory=list)

    def publish_decisions(self, details: Sequence[DecisionDetail]) -> int:
        self.published.extend(details)
        return len(details)


def group(*packages: ModelPackage) -> FakeRegistry:
    return FakeRegistry({entry.ModelPackageArn: entry for entry in packages})


def run(registry: FakeRegistry, bus: FakeBus, *, apply: bool = True, **fields: Any) -> list[dict[str, Any]]:
    outcomes = rollback(
        request(**fields), registry=registry, announcer=Announcer(bus=bus), apply=apply, clock=lambda: NOW
    )
    return [outcome.to_json_dict() for outcome in outcomes]


def test_rollback_restores_first_then_rejects_and_announces_each() -> None:
    # GIVEN v1 then v2 approved
    registry, bus = group(package(1), package(2)), FakeBus()

    # WHEN the group is rolled back
    printed = run(registry, bus)

    # THEN v1 was written first, then v2; v2 is Rejected, v1 Approved; one decision each, flow rollback, by ops
    assert [write.ModelPackageArn for write in registry.writes] == [arn(1), arn(2)]
    assert (registry.status(1), registry.status(2)) == ("Approved", "Rejected")
    assert [line["outcome"] for line in printed] == ["updated", "updated"]
    assert all(line["request"]["ClientToken"] for line in printed)
    assert [(d.model_package_version, d.verdict, d.flow, d.decided_by) for d in bus.published] == [
        (1, "Approved", "rollback", "ops"),
        (2, "Rejected", "rollback", "ops"),
    ]
    assert [d.decision_id for d in bus.published] == [line["request"]["ClientToken"] for line in printed]


def test_rollback_run_again_is_unchanged() -> None:
    # GIVEN a group rolled back already
    registry, bus = group(package(1), package(2)), FakeBus()
    run(registry, bus)

    # WHEN the same rollback is run again
    printed = run(registry, FakeBus())

    # THEN nothing is written, both are reported unchanged
    assert len(registry.writes) == 2
    assert [(line["outcome"], line["model_package_arn"]) for line in printed] == [
        ("unchanged", arn(1)),
        ("unchanged", arn(2)),
    ]


def test_crash_between_the_writes_then_run_again_completes_it() -> None:
    # GIVEN a rollback whose process dies right after the first write
    registry, bus = group(package(1, "Rejected", APPROVED_BY_REGISTRAR), package(2)), FakeBus()
    registry.fail_after_writes = 1
    with pytest.raises(ConnectionError):
        run(registry, bus)
    assert (registry.status(1), registry.status(2)) == ("Approved", "Approved")

    # WHEN it is run again, an hour later
    outcomes = rollback(request(), registry=registry, announcer=Announcer(bus=bus), clock=lambda: LATER)
    printed = [outcome.to_json_dict() for outcome in outcomes]

    # THEN the first write is unchanged, the second made with the first run's time
    assert [line["outcome"] for line in printed] == ["unchanged", "updated"]
    assert (registry.status(1), registry.status(2)) == ("Approved", "Rejected")
    records = registry.packages[arn(2)].CustomerMetadataProperties
    assert records["registrar:rollback"] == "to v1 at 2026-12-01T09:30:00Z"
    # and a third run finds it done
    assert [line["outcome"] for line in run(registry, bus)] == ["unchanged", "unchanged"]


def test_dry_run_plans_both_and_writes_nothing() -> None:
    registry, bus = group(package(1), package(2)), FakeBus()
    printed = run(registry, bus, apply=False)
    assert registry.writes == [] and bus.published == []
    assert [(line["outcome"], line["request"]["ModelPackageArn"]) for line in printed] == [
        ("updated", arn(1)),
        ("updated", arn(2)),
    ]


def test_champion_changed_before_the_second_write_is_refused() -> None:
    # GIVEN a registry where someone approves a newer v3 right after the restore
    registry, bus = group(package(1, "Rejected", APPROVED_BY_REGISTRAR), package(2)), FakeBus()
    original = registry.update

    def and_then_v3(update: PackageUpdate) -> str:
        answer = original(update)
        registry.packages[arn(3)] = package(3)
        return answer

    registry.update = and_then_v3  # type: ignore[method-assign]

    # WHEN the group is rolled back
    printed: list[dict[str, Any]] = []
    with pytest.raises(RollbackRefusedError, match=r"the champion changed under the rollback: it was v2 .* it is v3"):
        for outcome in rollback(request(), registry=registry, announcer=Announcer(bus=bus), clock=lambda: NOW):
            printed.append(outcome.to_json_dict())

    # THEN the restore was made and said so; v2 was not rejected
    assert [line["model_package_arn"] for line in printed] == [arn(1)]
    assert registry.status(2) == "Approved"


def test_no_champion_is_refused() -> None:
    registry = group(package(1, "Rejected", REJECTED_BY_REGISTRAR))
    with pytest.raises(RollbackRefusedError, match="churn has no Approved version"):
        run(registry, FakeBus())


def test_to_a_missing_version_is_refused() -> None:
    with pytest.raises(RollbackRefusedError, match="churn has no version 7"):
        run(group(package(1), package(2)), FakeBus(), to=7)


def test_to_the_restored_champion_after_success_is_unchanged() -> None:
    registry = group(package(1), package(2))
    run(registry, FakeBus())
    assert [line["outcome"] for line in run(registry, FakeBus(), to=1)] == ["unchanged", "unchanged"]


def test_rolling_back_a_restored_champion_needs_to() -> None:
    # GIVEN v1, v2, v3 approved, and v3 rolled back to v2
    registry = group(package(1), package(2), package(3))
    run(registry, FakeBus())
    assert (registry.status(2), registry.status(3)) == ("Approved", "Rejected")

    # WHEN it is run again without --to, then with --to 1
    again = run(registry, FakeBus())
    further = run(registry, FakeBus(), to=1)

    # THEN without --to it is the same rollback (unchanged); with --to 1 it rolls the restored v2 back to v1
    assert [line["outcome"] for line in again] == ["unchanged", "unchanged"]
    assert [(line["outcome"], line["model_package_arn"]) for line in further] == [
        ("updated", arn(1)),
        ("updated", arn(2)),
    ]
    assert (registry.status(1), registry.status(2), registry.status(3)) == ("Approved", "Rejected", "Rejected")
