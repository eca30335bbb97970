"""A person's decision: written and announced like registrar's own, only on a version still pending, recorded whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from registrar.decisions.announce import Announcer
from registrar.decisions.journal import MemoryJournal, StagedDecision
from registrar.decisions.person import PersonDecisionRefusedError, decide_as_person, describe_decision
from registrar.package import ModelPackage
from registrar.plan import plan
from registrar.updates import PackageUpdate
from tests.unit.decisions.fakes import RecordingBus

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
MODIFIED = NOW - timedelta(hours=2)


class Registry:
    """One version in memory: Describe returns it, Update records the request and applies it."""

    def __init__(self, status: str = "PendingManualApproval", metadata: dict[str, str] | None = None) -> None:
        self.package = ModelPackage(
            ModelPackageArn=ARN,
            ModelPackageGroupName="churn",
            ModelPackageVersion=3,
            ModelPackageStatus="Completed",
            ModelApprovalStatus=status,
            CustomerMetadataProperties=metadata or {},
            LastModifiedTime=MODIFIED,
        )
        self.requests: list[dict[str, Any]] = []

    def describe(self, model_package_arn: str) -> ModelPackage:
        assert model_package_arn == ARN
        return self.package

    def update(self, update: PackageUpdate) -> str:
        self.requests.append(update.to_request())
        self.package = self.package.model_copy(
            update={
                "ModelApprovalStatus": update.ModelApprovalStatus,
                "ApprovalDescription": update.ApprovalDescription,
                "CustomerMetadataProperties": {
                    **self.package.CustomerMetadataProperties,
                    **(update.CustomerMetadataProperties or {}),
                },
                "LastModifiedTime": NOW,
            }
        )
        return ARN


def decide(registry: Registry, bus: RecordingBus, verdict: Any = "Approved", **fields: Any) -> Any:
    arguments: dict[str, Any] = {"by": "alice", "comment": "ok", "now": NOW, "via": "link", **fields}
    return decide_as_person(registry, Announcer(bus=bus, clock=lambda: NOW), ARN, verdict, **arguments)


@pytest.mark.parametrize("verdict", ["Approved", "Rejected"])
def test_a_persons_decision_writes_one_request_recording_the_person(verdict: str) -> None:
    # GIVEN a version held for a human WHEN alice decides through a link
    registry, bus = Registry(), RecordingBus()
    outcome = decide(registry, bus, verdict)
    # THEN one request sets the status and records who, when and why
    assert len(registry.requests) == 1
    request = registry.requests[0]
    assert request["ModelApprovalStatus"] == verdict
    assert request["ApprovalDescription"] == f"{verdict} by alice via link: ok"
    assert request["CustomerMetadataProperties"] == {
        "registrar:verdict": verdict,
        "registrar:decided-by": "person:alice",
        "registrar:decided-at": "2026-12-01T09:30:00Z",
    }
    assert request["ClientToken"]
    assert outcome.outcome == "updated" and outcome.verdict == verdict and outcome.request == request
    # AND one Registrar Decision says alice decided, flow person
    (detail,) = bus.published
    assert (detail.decided_by, detail.flow, detail.verdict) == ("alice", "person", verdict)
    assert (detail.previous_status, detail.status) == ("PendingManualApproval", verdict)
    assert detail.decision_id == request["ClientToken"]
    assert detail.reasons == [f"{verdict} by alice via link: ok"]


def test_the_written_version_reads_as_the_persons_decision() -> None:
    from registrar.history import story

    registry = Registry()
    decide(registry, RecordingBus())
    told = story(registry.package)
    assert (told.decided_by.kind, told.decided_by.name, told.decided_at) == ("person", "alice", NOW)


def test_from_the_terminal_the_description_says_cli_and_without_a_comment_no_colon() -> None:
    registry = Registry()
    decide(registry, RecordingBus(), "Rejected", comment=None, via="cli")
    assert registry.requests[0]["ApprovalDescription"] == "Rejected by alice via cli"


def test_a_blank_comment_is_none() -> None:
    registry = Registry()
    decide(registry, RecordingBus(), comment="   ")
    assert registry.requests[0]["ApprovalDescription"] == "Approved by alice via link"


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_a_version_no_longer_pending_is_skipped_and_nothing_is_written(status: str) -> None:
    # GIVEN a version bob decided at 07:30
    metadata = {
        "registrar:verdict": status,
        "registrar:decided-by": "person:bob",
        "registrar:decided-at": "2026-12-01T07:30:00Z",
    }
    registry, bus = Registry(status, metadata), RecordingBus()
    # WHEN alice decides it
    outcome = decide(registry, bus)
    # THEN nothing is written nor announced, and the reasons say its status, since when and who
    assert registry.requests == [] and bus.published == []
    assert outcome.outcome == "skipped" and outcome.request is None
    assert outcome.reasons[0] == f"v3 is {status}, not PendingManualApproval: last modified at 2026-12-01T07:30:00Z"
    assert outcome.reasons[1] == "decided by bob (person) at 2026-12-01T07:30:00Z"


def test_a_version_decided_outside_registrar_says_so() -> None:
    registry = Registry("Approved")
    outcome = decide(registry, RecordingBus())
    assert registry.requests == []
    assert "Approved outside registrar (no registrar record)" in outcome.reasons


def test_a_second_decision_finds_the_first() -> None:
    registry, bus = Registry(), RecordingBus()
    decide(registry, bus, "Approved")
    second = decide(registry, bus, "Rejected", by="carol")
    assert second.outcome == "skipped"
    assert second.reasons[1] == "decided by alice (person) at 2026-12-01T09:30:00Z"
    assert len(registry.requests) == 1 and len(bus.published) == 1


def test_the_decision_fits_the_metadata_budget_reusing_keys_it_has() -> None:
    # GIVEN 47 entries of others' and registrar's three keys already present (a Held verdict)
    metadata = {f"team:k{i}": "v" for i in range(47)}
    metadata |= {"registrar:verdict": "Held", "registrar:decided-by": "rule 2", "registrar:decided-at": "x"}
    registry = Registry(metadata=metadata)
    # WHEN alice approves THEN the three keys are overwritten: still 50
    assert decide(registry, RecordingBus()).outcome == "updated"
    assert len(registry.package.CustomerMetadataProperties) == 50


def test_no_room_for_the_record_is_refused_clearly() -> None:
    registry, bus = Registry(metadata={f"team:k{i}": "v" for i in range(48)}), RecordingBus()
    with pytest.raises(PersonDecisionRefusedError, match=r"no room .* 48 of 50 metadata entries are used; remove 1"):
        decide(registry, bus)
    assert registry.requests == [] and bus.published == []


@pytest.mark.parametrize(
    "fields",
    [
        {"by": ""},
        {"by": " alice"},
        {"by": "a" * 65},
        {"by": "alice<script>"},
        {"by": "alice\n"},
        {"comment": "two\nlines"},
        {"comment": "x" * 901},
        {"comment": "bell\x07"},
    ],
)
def test_who_and_why_are_checked_before_anything_is_read(fields: dict[str, Any]) -> None:
    registry, bus = Registry(), RecordingBus()
    with pytest.raises(ValidationError):
        decide(registry, bus, **fields)
    assert registry.requests == [] and bus.published == []


def test_the_longest_decision_fits_its_description_and_metadata() -> None:
    # GIVEN the longest name and comment allowed WHEN decided THEN the request is valid as planned
    registry = Registry()
    decide(registry, RecordingBus(), by="a" * 64, comment="é" * 900)
    request = registry.requests[0]
    assert len(request["ApprovalDescription"]) <= 1024
    assert request["CustomerMetadataProperties"]["registrar:decided-by"] == "person:" + "a" * 64


def test_a_description_is_one_line_whatever_it_is_given() -> None:
    assert describe_decision("Approved", "alice", "a\u2028b\rc", "link") == "Approved by alice via link: a b c"
    assert len(describe_decision("Approved", "alice", "x" * 2000, "link")) == 1024


def test_planned_again_the_written_decision_is_nothing_to_write() -> None:
    registry = Registry()
    decide(registry, RecordingBus())
    request = {k: v for k, v in registry.requests[0].items() if k != "ClientToken"}
    assert plan(PackageUpdate.from_request(request), registry.package) is None


def test_without_an_announcer_it_writes_without_announcing() -> None:
    registry = Registry()
    outcome = decide_as_person(registry, None, ARN, "Rejected", by="alice", comment=None, now=NOW, via="cli")
    assert outcome.outcome == "updated" and len(registry.requests) == 1


class RacedRegistry(Registry):
    """A version that another approver decides between this decision's first read and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def describe(self, model_package_arn: str) -> ModelPackage:
        self.reads += 1
        if self.reads == 2:  # the read under the lock: Bob's rejection landed in between
            self.package = self.package.model_copy(
                update={"ModelApprovalStatus": "Rejected", "LastModifiedTime": NOW - timedelta(seconds=1)}
            )
        return super().describe(model_package_arn)


def test_a_decision_made_meanwhile_by_someone_else_is_not_overwritten() -> None:
    # GIVEN Alice's approval, and Bob's rejection landing after Alice's page read the version
    registry, bus = RacedRegistry(), RecordingBus()
    announcer = Announcer(bus=bus, journal=MemoryJournal(), clock=lambda: NOW)
    # WHEN Alice's decision is written THEN it is refused under the version's lock, nothing written or announced
    with pytest.raises(PersonDecisionRefusedError, match="changed while it was being decided"):
        decide_as_person(registry, announcer, ARN, "Approved", by="alice", comment=None, now=NOW, via="link")
    assert (registry.requests, bus.published, registry.package.ModelApprovalStatus) == ([], [], "Rejected")


def test_two_writers_of_one_version_never_write_at_once() -> None:
    # GIVEN another writer holding the version's lock (its decision staged, its invocation still running)
    registry, bus, journal = Registry(), RecordingBus(), MemoryJournal()
    held = Announcer(bus=RecordingBus(), journal=journal, clock=lambda: NOW)
    update = PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="Rejected").with_client_token(registry.package)
    detail = held.detail(registry.package, update, verdict="Rejected", flow="person", reasons=[], decided_by="bob")
    assert journal.stage(
        StagedDecision(detail=detail, request=update.to_request(), deadline=NOW + timedelta(seconds=30)), now=NOW
    )
    # WHEN Alice's decision comes THEN it is refused, nothing written
    alice = Announcer(bus=bus, journal=journal, clock=lambda: NOW)
    with pytest.raises(PersonDecisionRefusedError, match=r"another invocation|being written"):
        decide_as_person(registry, alice, ARN, "Approved", by="alice", comment=None, now=NOW, via="link")
    assert (registry.requests, bus.published) == ([], [])
