"""The deployment flow with in-memory SageMaker, ledger and bus (registrar.deployments.service)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from registrar.decisions.announce import Announcer
from registrar.decisions.journal import MemoryJournal
from registrar.deployments.ledger import MemoryLedger
from registrar.deployments.record import deployments_of, record_key
from registrar.deployments.service import DeploymentFlow, Target, parse
from registrar.errors import EventError
from registrar.outcome import Outcome
from tests.unit.decisions.fakes import RecordingBus
from tests.unit.deployments.fakes import ENDPOINT, ENDPOINT_ARN, FakeEndpoints, endpoint_event, version_arn

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
KEY = record_key(ENDPOINT)
V1, V2 = version_arn("churn", 1), version_arn("churn", 2)


@pytest.fixture
def sagemaker() -> FakeEndpoints:
    fake = FakeEndpoints()
    fake.package(V1)
    fake.package(V2)
    fake.config("config-v1", {"AllTraffic": fake.model("model-v1", V1)})
    fake.config("config-v2", {"AllTraffic": fake.model("model-v2", V2)})
    return fake


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def flow(sagemaker: FakeEndpoints, bus: RecordingBus) -> DeploymentFlow:
    announcer = Announcer(bus=bus, journal=MemoryJournal(), clock=lambda: NOW)
    return DeploymentFlow(registry=sagemaker, managed_groups=("churn",), ledger=MemoryLedger(), announcer=announcer)


def handle(flow: DeploymentFlow, event: dict[str, object]) -> Outcome:
    return flow.handle(parse(event))


def metadata(sagemaker: FakeEndpoints, arn: str) -> dict[str, str]:
    return dict(sagemaker.packages[arn]["CustomerMetadataProperties"])


# --- a created endpoint ----------------------------------------------------------------------------


def test_a_created_endpoint_records_where_its_version_went_live(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an endpoint created on config-v1 (version 1 on variant AllTraffic)
    event = sagemaker.deploy("config-v1")
    # WHEN its IN_SERVICE event is handled
    outcome = handle(flow, event)
    # THEN version 1 records it is live there since the endpoint's LastModifiedTime, and one Deployed is published
    assert outcome.outcome == "updated" and outcome.verdict == "Deployed"
    assert metadata(sagemaker, V1) == {KEY: "live since 2026-12-03T17:10:00Z variant AllTraffic"}
    assert [(d.verdict, d.flow, d.model_package_arn) for d in bus.published] == [("Deployed", "deployment", V1)]
    assert bus.published[0].decision_id == outcome.request["ClientToken"]  # type: ignore[index]


def test_every_version_an_endpoint_serves_is_recorded_with_one_event_each(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an endpoint serving version 1 on variant Blue and version 2 on a shadow variant
    sagemaker.config("blue-canary", {"Blue": "model-v1"}, shadows={"Canary": "model-v2"})
    # WHEN it goes into service
    outcome = handle(flow, sagemaker.deploy("blue-canary"))
    # THEN each version records its variants, and each write has its own Deployed event
    assert metadata(sagemaker, V1)[KEY].endswith("variant Blue")
    assert metadata(sagemaker, V2)[KEY].endswith("variant shadow:Canary")
    assert sorted(d.model_package_arn for d in bus.published) == [V1, V2]
    assert outcome.outcome == "updated" and len(outcome.reasons) == 2


def test_a_model_of_several_containers_records_each_package(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an inference pipeline: one model whose two containers are versions 1 and 2
    sagemaker.config("pipeline", {"AllTraffic": sagemaker.model("pipeline", V1, V2, primary=False)})
    # WHEN the endpoint goes into service THEN both versions record it
    handle(flow, sagemaker.deploy("pipeline"))
    assert KEY in metadata(sagemaker, V1) and KEY in metadata(sagemaker, V2)


def test_deployments_of_reads_back_what_the_flow_wrote(flow: DeploymentFlow, sagemaker: FakeEndpoints) -> None:
    handle(flow, sagemaker.deploy("config-v1"))
    [record] = deployments_of(sagemaker.describe(V1))
    assert (record.endpoint, record.live, record.variants) == (ENDPOINT, True, ("AllTraffic",))


# --- an update -------------------------------------------------------------------------------------


def test_an_update_to_another_version_retires_the_first_and_records_the_second(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an endpoint recorded on version 1
    handle(flow, sagemaker.deploy("config-v1"))
    bus.published.clear()
    # WHEN it is updated to config-v2 and its IN_SERVICE event is handled
    outcome = handle(flow, sagemaker.deploy("config-v2"))
    # THEN version 1's record is closed at the update's time, version 2's opened, one event each
    assert metadata(sagemaker, V1)[KEY] == (
        "retired 2026-12-03T17:20:00Z live since 2026-12-03T17:10:00Z variant AllTraffic"
    )
    assert metadata(sagemaker, V2)[KEY] == "live since 2026-12-03T17:20:00Z variant AllTraffic"
    assert sorted((d.verdict, d.model_package_arn) for d in bus.published) == [("Deployed", V2), ("Retired", V1)]
    assert outcome.verdict == "Deployed"


def test_an_update_that_keeps_the_version_keeps_its_since_time(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an endpoint recorded on version 1, variant AllTraffic
    handle(flow, sagemaker.deploy("config-v1"))
    # WHEN it is updated to a configuration serving version 1 on another variant
    sagemaker.config("renamed", {"Main": "model-v1"})
    handle(flow, sagemaker.deploy("renamed"))
    # THEN the record keeps when the version went live, and names the new variant
    assert metadata(sagemaker, V1)[KEY] == "live since 2026-12-03T17:10:00Z variant Main"


def test_an_update_to_an_unmanaged_model_retires_the_managed_version(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    handle(flow, sagemaker.deploy("config-v1"))
    sagemaker.config("other", {"AllTraffic": sagemaker.model("other", version_arn("fraud", 7))})
    outcome = handle(flow, sagemaker.deploy("other"))
    assert metadata(sagemaker, V1)[KEY].startswith("retired ")
    assert outcome.verdict == "Retired"


def test_a_version_deployed_again_after_retirement_opens_a_new_record(
    flow: DeploymentFlow, sagemaker: FakeEndpoints
) -> None:
    handle(flow, sagemaker.deploy("config-v1"))
    handle(flow, sagemaker.deploy("config-v2"))
    handle(flow, sagemaker.deploy("config-v1"))
    assert metadata(sagemaker, V1)[KEY] == "live since 2026-12-03T17:30:00Z variant AllTraffic"


# --- nothing to record -----------------------------------------------------------------------------


def test_an_endpoint_of_an_unmanaged_group_is_skipped_after_one_describe_chain(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an endpoint serving a version of a group registrar does not manage
    sagemaker.config("fraud", {"AllTraffic": sagemaker.model("fraud", version_arn("fraud", 7))})
    # WHEN its event is handled
    outcome = handle(flow, sagemaker.deploy("fraud"))
    # THEN it is skipped, saying why, after one Describe chain, with no write and no event
    assert outcome.outcome == "skipped"
    assert any("not among the managed groups" in reason for reason in outcome.reasons)
    assert sagemaker.calls == ["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel"]
    assert (sagemaker.updates, bus.published) == ([], [])


@pytest.mark.parametrize(
    ("package", "says"),
    [
        (None, "not deployed from a model package"),
        ("churn-unversioned", "not a versioned model package ARN"),
        (version_arn("churn", 3, account="210987654321"), "another account"),
    ],
)
def test_an_endpoint_serving_no_managed_version_is_skipped(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus, package: str | None, says: str
) -> None:
    model = sagemaker.model("plain", *([package] if package else []), primary=package is not None)
    sagemaker.config("plain", {"AllTraffic": model})
    outcome = handle(flow, sagemaker.deploy("plain"))
    assert outcome.outcome == "skipped" and any(says in reason for reason in outcome.reasons)
    assert (sagemaker.updates, bus.published) == ([], [])


def test_a_version_with_a_full_metadata_budget_gets_no_record_and_the_outcome_says_so(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN version 1 already holds 50 metadata entries
    sagemaker.package(V1, {f"team:{i}": "x" for i in range(50)})
    # WHEN the endpoint serving it goes into service
    outcome = handle(flow, sagemaker.deploy("config-v1"))
    # THEN nothing is written, and the outcome says the deployment is not recorded
    assert (sagemaker.updates, bus.published) == ([], [])
    assert outcome.outcome == "unchanged"
    assert any("holds 50 metadata entries" in reason for reason in outcome.reasons)


def test_an_event_whose_endpoint_is_updating_again_is_skipped_and_not_kept(
    flow: DeploymentFlow, sagemaker: FakeEndpoints
) -> None:
    event = sagemaker.deploy("config-v1")
    sagemaker.endpoints[ENDPOINT]["EndpointStatus"] = "Updating"
    outcome = handle(flow, event)
    assert (outcome.outcome, outcome.final, sagemaker.updates) == ("skipped", False, [])


def test_an_event_of_a_deleted_endpoint_is_skipped(flow: DeploymentFlow, sagemaker: FakeEndpoints) -> None:
    event = sagemaker.deploy("config-v1")
    del sagemaker.endpoints[ENDPOINT]
    outcome = handle(flow, event)
    assert outcome.outcome == "skipped" and "cannot be described" in outcome.reasons[0]


def test_a_status_other_than_in_service_reads_nothing(flow: DeploymentFlow, sagemaker: FakeEndpoints) -> None:
    sagemaker.deploy("config-v1")
    sagemaker.calls.clear()
    outcome = flow.handle(parse(endpoint_event(sagemaker.endpoints[ENDPOINT], "CREATING")))
    assert outcome.outcome == "skipped" and sagemaker.calls == []


# --- duplicates ------------------------------------------------------------------------------------


def test_a_duplicate_event_writes_and_publishes_nothing_new(
    flow: DeploymentFlow, sagemaker: FakeEndpoints, bus: RecordingBus
) -> None:
    # GIVEN an endpoint's event handled once
    event = sagemaker.deploy("config-v1")
    handle(flow, event)
    # WHEN the same event (SageMaker may send two, with different ids) is handled again
    again = copy.deepcopy(event) | {"id": "another-id"}
    outcome = handle(flow, again)
    # THEN nothing more is written or published
    assert outcome.outcome == "unchanged"
    assert (len(sagemaker.updates), len(bus.published)) == (1, 1)


def test_two_events_of_one_state_have_one_subject(flow: DeploymentFlow, sagemaker: FakeEndpoints) -> None:
    # GIVEN two events of the same endpoint state, with different ids and envelope times
    event = sagemaker.deploy("config-v1")
    other = copy.deepcopy(event) | {"id": "another-id", "time": "1893456000000"}
    # WHEN resolved THEN both are deduplicated on the endpoint as read back
    first, second = flow.resolve(parse(event)), flow.resolve(parse(other))
    assert isinstance(first, Target) and isinstance(second, Target)
    assert first.subject == second.subject
    assert first.subject.startswith(f"{ENDPOINT_ARN}|InService|2026-12-03T17:10:00")


def test_planning_writes_nothing_and_keeps_no_served_set(sagemaker: FakeEndpoints) -> None:
    ledger = MemoryLedger()
    flow = DeploymentFlow(registry=sagemaker, managed_groups=("churn",), ledger=ledger)
    outcome = flow.handle(parse(sagemaker.deploy("config-v1")), apply=False)
    assert outcome.outcome == "updated" and outcome.request is not None
    assert (sagemaker.updates, ledger.items) == ([], {})


# --- the event ---------------------------------------------------------------------------------------


# SageMaker developer guide's example (automating-sagemaker-with-eventbridge.html), verbatim.
SAMPLE = {
    "version": "0",
    "id": "d2921b5a-b0ad-cace-a8e3-0f159d018e06",
    "detail-type": "SageMaker Endpoint State Change",
    "source": "aws.sagemaker",
    "account": "111122223333",
    "time": "1583831889050",
    "region": "us-west-2",
    "resources": ["arn:aws:sagemaker:us-west-2:111122223333:endpoint/myendpoint"],
    "detail": {
        "EndpointName": "MyEndpoint",
        "EndpointArn": "arn:aws:sagemaker:us-west-2:111122223333:endpoint/myendpoint",
        "EndpointConfigName": "MyEndpointConfig",
        "ProductionVariants": [{"DesiredWeight": 1.0, "DesiredInstanceCount": 1.0}],
        "EndpointStatus": "IN_SERVICE",
        "CreationTime": 1592411992203.0,
        "LastModifiedTime": 1592411994287.0,
        "Tags": {},
    },
}


def test_the_documented_sample_event_parses() -> None:
    # GIVEN/WHEN AWS's example event is parsed THEN its times (ms text, ms floats) and status are read
    event = parse(copy.deepcopy(SAMPLE))
    assert event.detail.EndpointStatus == "IN_SERVICE"
    assert event.time == datetime(2020, 3, 10, 9, 18, 9, 50000, tzinfo=UTC)
    assert event.detail.LastModifiedTime == datetime(2020, 6, 17, 16, 39, 54, 287000, tzinfo=UTC)


def test_an_endpoint_name_that_is_not_its_arns_is_refused(sagemaker: FakeEndpoints) -> None:
    event = sagemaker.deploy("config-v1")
    event["detail"]["EndpointName"] = "decoy"
    with pytest.raises(EventError, match="EndpointName 'decoy'"):
        parse(event)
