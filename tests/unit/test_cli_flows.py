"""registrar_cli.flows: the CLI picks the flow of an event by its detail-type, as the deployed rules route it.

``flows.handle`` builds its flow from the settings (real AWS clients) and takes no fakes, so only what it
decides before building one is tested here: which flow an event goes to, and the events it refuses.
Handling through each flow is tested with fakes in approval/ and neo/.
"""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from registrar.errors import EventError
from registrar.events import COMPILATION_JOB_STATE_CHANGE, MODEL_PACKAGE_STATE_CHANGE, PROCESSING_JOB_STATE_CHANGE
from registrar.patterns import FLOWS
from registrar.settings import Settings
from registrar_cli import flows

EVENTS = pathlib.Path(__file__).resolve().parents[2] / "events"


def sample(relative: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return raw


@pytest.mark.parametrize(
    ("detail_type", "flow"),
    [
        (MODEL_PACKAGE_STATE_CHANGE, "approval"),
        (PROCESSING_JOB_STATE_CHANGE, "approval"),
        (COMPILATION_JOB_STATE_CHANGE, "neo"),
    ],
)
def test_each_detail_type_goes_to_its_flow(detail_type: str, flow: str) -> None:
    # GIVEN an event of a detail-type registrar handles WHEN its flow is picked THEN the flow that handles it
    assert flows.flow_name({"detail-type": detail_type}) == flow


@pytest.mark.parametrize(
    ("relative", "flow"),
    [
        *((f"approval/{path.name}", "approval") for path in sorted((EVENTS / "approval").glob("*.json"))),
        *((f"neo/{path.name}", "neo") for path in sorted((EVENTS / "neo").glob("*.json"))),
    ],
)
def test_every_sample_goes_to_the_flow_of_its_folder(relative: str, flow: str) -> None:
    # GIVEN a sample event under events/<flow>/ WHEN its flow is picked THEN that flow
    assert flows.flow_name(sample(relative)) == flow


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_the_cli_routes_as_the_deployed_rules_do(flow: str) -> None:
    # GIVEN the detail-types of the rules that feed a flow's queue (registrar.patterns.FLOWS)
    detail_types = [detail_type for pattern in FLOWS[flow] for detail_type in pattern["detail-type"]]
    # WHEN the CLI picks the flow of an event of each THEN the same flow
    assert {flows.flow_name({"detail-type": detail_type}) for detail_type in detail_types} == {flow}


def test_the_routing_is_by_detail_type_alone() -> None:
    # GIVEN a compilation detail-type from another source WHEN the flow is picked THEN neo (its parser refuses it)
    assert flows.flow_name({"source": "aws.sagemaker", "detail-type": COMPILATION_JOB_STATE_CHANGE}) == "neo"


@pytest.mark.parametrize(
    "raw",
    [
        {"detail-type": "SageMaker Training Job State Change"},
        {"detail-type": MODEL_PACKAGE_STATE_CHANGE.lower()},
        {"detail-type": None},
        {"detail-type": ["SageMaker Model Package State Change"]},
        {},
    ],
    ids=["another detail-type", "another case", "null", "a list", "none"],
)
def test_a_detail_type_no_flow_handles_is_refused(raw: dict[str, Any]) -> None:
    # GIVEN an event of a detail-type registrar does not handle WHEN its flow is picked THEN refused, listing them
    with pytest.raises(EventError, match="is not an event registrar handles") as refused:
        flows.flow_name(raw)
    assert MODEL_PACKAGE_STATE_CHANGE in str(refused.value)


@pytest.mark.parametrize("raw", [None, [], "event", 1])
def test_an_event_that_is_not_an_object_is_refused(raw: Any) -> None:
    # GIVEN an event that is not a JSON object WHEN its flow is picked THEN refused
    with pytest.raises(EventError, match="must be a JSON object"):
        flows.flow_name(raw)


# --- flows.handle refuses before any flow (or AWS client) is built -------------------------------


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (
            {"source": "aws.sagemaker", "detail-type": "SageMaker Training Job State Change"},
            "is not an event registrar",
        ),
        (
            dict(sample("neo/completed-ml-c5.json"), source="aws.sagemaker"),
            "is not an event this flow handles",
        ),
        (dict(sample("approval/passing.json"), source="registrar"), "is not an event this flow handles"),
    ],
    ids=["unrouted", "compilation from aws.sagemaker", "package event from registrar"],
)
def test_handle_refuses_an_event_its_flow_does_not_take(raw: dict[str, Any], rule: str) -> None:
    # GIVEN an event no flow handles, or routed to a flow whose parser refuses its source
    # WHEN the CLI handles it THEN an EventError naming the rule, before any AWS call (sockets are blocked)
    with pytest.raises(EventError, match=rule):
        flows.handle(raw, settings=Settings(), apply=False)


def test_handle_refuses_a_forged_compilation_event() -> None:
    # GIVEN a compilation event naming a decoy job with the real job's ARN WHEN the CLI handles it THEN refused
    forged = copy.deepcopy(sample("neo/completed-ml-c5.json"))
    forged["detail"]["CompilationJobName"] = "decoy"
    with pytest.raises(EventError, match="CompilationJobName 'decoy' is not the job its ARN names"):
        flows.handle(forged, settings=Settings(), apply=False)


def test_handle_refuses_an_event_from_another_account_than_its_resource() -> None:
    # GIVEN a package event whose envelope is another account's WHEN the CLI handles it THEN refused
    raw = dict(sample("approval/passing.json"), account="210987654321")
    with pytest.raises(EventError, match="is in account 123456789012, the event in 210987654321"):
        flows.handle(raw, settings=Settings(), apply=False)
