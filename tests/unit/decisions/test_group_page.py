"""The group page: a group's whole story (GET /group), and a rollback through a group's link (POST /rollback)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from registrar.decisions import links, page
from registrar.decisions.announce import Announcer
from registrar.package import ModelPackage
from tests.unit.decisions.fakes import RecordingBus
from tests.unit.decisions.test_page import ARN, KEYS, NOW, RECIPIENT, Registry, held_package

GROUP = "churn-model"


def version_arn(version: int, group: str = GROUP) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{version}"


def approved(version: int, auc: str, **members: Any) -> ModelPackage:
    defaults: dict[str, Any] = {
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": f"registrar: Approved — auc {auc} ≥ min 0.85 and ≤ max 1 (policy 3f2a9c1)",
        "CreationTime": NOW - timedelta(days=10 - version),
        "LastModifiedTime": NOW - timedelta(days=9 - version),
        "CustomerMetadataProperties": {
            "registrar:verdict": "Approved",
            "registrar:policy": "3f2a9c1",
            "registrar:decided-by": "rule 1: churn-*",
            "registrar:decided-at": "2026-11-25T10:00:00Z",
            "registrar:metric:auc": auc,
        },
    }
    return held_package(version_arn(version), **{**defaults, **members})


GroupRegistry = Registry


class World:
    def __init__(self, *packages: ModelPackage) -> None:
        self.registry = GroupRegistry(*(packages or (approved(1, "0.9"), approved(2, "0.91"), held_package())))
        self.bus = RecordingBus()
        self.ledger = links.MemoryLinkLedger()
        self.logged: list[str] = []
        self.page = page.DecisionPage(
            registry=self.registry,
            announcer=Announcer(bus=self.bus, clock=lambda: NOW),
            keys=lambda: KEYS,
            ledger=self.ledger,
            managed_groups=("churn-*",),
            clock=lambda: NOW,
            log=self.logged.append,
        )

    def group_token(self, group: str = GROUP) -> str:
        return links.mint(links.new_group_capability(group, RECIPIENT, ttl=timedelta(days=1), now=NOW), KEYS.current)

    def version_token(self, arn: str = ARN) -> str:
        return links.mint(links.new_capability(arn, RECIPIENT, ttl=timedelta(days=1), now=NOW), KEYS.current)

    def post(self, **fields: str) -> page.Page:
        return self.page.rollback(urllib.parse.urlencode(fields).encode(), page.FORM_TYPE)


@pytest.fixture
def world() -> World:
    return World()


# --- GET /group ----------------------------------------------------------------------------------------------------


def test_a_group_link_shows_every_version_newest_first_and_the_rollback_form(world: World) -> None:
    shown = world.page.show_group(world.group_token())
    assert shown.status == 200
    body = shown.body
    assert body.index('id="v3"') < body.index('id="v2"') < body.index('id="v1"')
    for expected in ("PendingManualApproval", "Approved", "rule 1: churn-*", "3f2a9c1", "≥ 0.85 and ≤ 1", "2026-11-25"):
        assert expected in body, expected
    # AND the form rolls the champion (v2) back, to v1 by default, with a required reason
    assert '<form method="post" action="/rollback">' in body
    assert "Roll back version 2" in body
    assert '<option value="1" selected>' in body
    assert '<textarea id="reason" name="reason"' in body and "required" in body
    assert world.registry.requests == [] and world.bus.published == []


def test_a_version_link_opens_its_groups_history_read_only(world: World) -> None:
    token = world.version_token()
    shown = world.page.show_group(token)
    assert shown.status == 200
    assert 'id="v1"' in shown.body and 'id="v3"' in shown.body
    assert "/rollback" not in shown.body and "allows no rollback" in shown.body
    # AND the version page links to it
    assert f'href="/group?token={token}"' in world.page.show(token).body


def test_the_group_page_shows_neo_specifications_deployments_and_who_decided() -> None:
    person = approved(
        2,
        "0.91",
        CustomerMetadataProperties={
            "registrar:verdict": "Approved",
            "registrar:decided-by": "person:bob@example.com",
            "registrar:neo:ml_c5": "compiled by job churn-neo-2 at 2026-11-26T10:00:00Z",
        },
    )
    outside = approved(1, "0.9", ModelApprovalStatus="Rejected")
    world = World(outside, person)
    body = world.page.show_group(world.group_token()).body
    assert "bob@example.com (person)" in body
    assert "changed outside registrar" in body
    assert "Neo ml_c5" in body


def test_markup_in_a_version_is_escaped_on_the_group_page() -> None:
    world = World(approved(1, "0.9", ApprovalDescription="<script>alert(1)</script>"))
    body = world.page.show_group(world.group_token()).body
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.parametrize(
    "token",
    [
        "",
        "forged.token",
        "group-of-another",
        "used",
        "version-used",
    ],
)
def test_every_bad_link_is_the_one_refusal(world: World, token: str) -> None:
    if token == "group-of-another":
        token = world.group_token("fraud-model")
    elif token == "used":
        token = world.group_token()
        world.ledger.consume(links.verify(token, KEYS, now=NOW), used_by_action="rollback", at=NOW)
    elif token == "version-used":
        token = world.version_token()
        world.ledger.consume(links.verify(token, KEYS, now=NOW), used_by_action="approve", at=NOW)
    assert world.page.show_group(token) == page.REFUSED
    assert world.registry.listed == []


def test_a_group_link_does_not_open_the_version_page(world: World) -> None:
    assert world.page.show(world.group_token()) == page.REFUSED
    posted = page.urllib.parse.urlencode({"token": world.group_token(), "action": "approve"}).encode()
    assert world.page.decide(posted, page.FORM_TYPE) == page.REFUSED


# --- POST /rollback ------------------------------------------------------------------------------------------------


def test_rolling_back_restores_the_target_rejects_the_champion_and_uses_the_link(world: World) -> None:
    token = world.group_token()
    answer = world.post(token=token, to="1", reason="v2 doubles the latency")
    assert answer.status == 200, answer.body
    assert "<strong>Rolled back.</strong> Version 2 is Rejected and version 1 is Approved" in answer.body
    v1, v2 = world.registry.packages[version_arn(1)], world.registry.packages[version_arn(2)]
    assert v1.ModelApprovalStatus == "Approved" and v2.ModelApprovalStatus == "Rejected"
    assert v1.ApprovalDescription == f"restored by {RECIPIENT}: v2 doubles the latency"
    assert v2.CustomerMetadataProperties["registrar:rollback"] == "to v1 at 2026-12-01T09:30:00Z"
    assert v2.CustomerMetadataProperties["registrar:decided-by"] == f"person:{RECIPIENT}"
    assert [(d.flow, d.verdict) for d in world.bus.published] == [("rollback", "Approved"), ("rollback", "Rejected")]
    # AND the link is spent: the page and a second rollback are refused
    assert world.page.show_group(token) == page.REFUSED
    assert world.post(token=token, to="1", reason="again") == page.REFUSED


@pytest.mark.parametrize(
    ("packages", "to", "says"),
    [
        ((held_package(),), "1", "has no Approved version"),
        ((approved(1, "0.9"), approved(2, "0.91")), "7", "has no version 7"),
        (
            (approved(1, "0.9", ModelApprovalStatus="Rejected", CustomerMetadataProperties={}), approved(2, "0.91")),
            "1",
            "was never Approved",
        ),
    ],
)
def test_a_rollback_the_logic_refuses_says_why_writes_nothing_and_keeps_the_link(
    packages: tuple[ModelPackage, ...], to: str, says: str
) -> None:
    world = World(*packages)
    token = world.group_token()
    answer = world.post(token=token, to=to, reason="bad latency")
    assert answer.status == 409 and says in answer.body and "your link was not used" in answer.body
    assert world.registry.requests == [] and world.bus.published == []
    assert world.ledger.used(links.verify(token, KEYS, now=NOW)) is None


def test_a_champion_changed_between_the_read_and_the_writes_is_refused_after_spending_the_link(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = world.registry.latest_approved

    def moved(group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        current = original(group_name, excluding=excluding)
        return current.model_copy(update={"LastModifiedTime": NOW}) if current is not None else None

    monkeypatch.setattr(world.registry, "latest_approved", moved)
    answer = world.post(token=world.group_token(), to="1", reason="bad latency")
    assert answer.status == 409 and "the champion changed under the rollback" in answer.body
    assert "The link is used" in answer.body and world.registry.requests == []


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "", "reason": "r"},
        {"to": "one", "reason": "r"},
        {"to": "0", "reason": "r"},
        {"to": "1", "reason": ""},
        {"to": "1", "reason": "   "},
    ],
)
def test_a_form_without_a_target_or_a_reason_is_a_400_and_writes_nothing(world: World, fields: dict[str, str]) -> None:
    token = world.group_token()
    answer = world.post(token=token, **fields)
    assert answer.status == 400
    assert world.registry.requests == [] and world.ledger.used(links.verify(token, KEYS, now=NOW)) is None


def test_a_version_link_cannot_roll_back(world: World) -> None:
    assert world.post(token=world.version_token(), to="1", reason="r") == page.REFUSED
    assert world.post(token="forged.x", to="1", reason="r") == page.REFUSED
    assert world.registry.requests == []


def test_the_rollback_form_is_bounded_and_form_encoded(world: World) -> None:
    assert world.page.rollback(None, page.FORM_TYPE).status == 413
    assert world.page.rollback(b"a" * (page.MAX_FORM_BYTES + 1), page.FORM_TYPE).status == 413
    assert world.page.rollback(b"{}", "application/json").status == 415


# --- the handler ---------------------------------------------------------------------------------------------------


@pytest.fixture
def handler(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    from handlers import decision_page
    from registrar_cli.serve import LocalContext, function_url_event

    monkeypatch.setattr(decision_page, "decision_page", lambda: world.page)

    def call(method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Any:
        event = function_url_event(
            method, target, headers or [], body, domain="abc.lambda-url.us-east-1.on.aws", source_ip="192.0.2.1"
        )
        return decision_page.handler(event, LocalContext())  # type: ignore[arg-type]

    return call


def test_the_group_routes_and_their_headers(world: World, handler: Callable[..., dict[str, Any]]) -> None:
    from tests.unit.decisions.test_page import assert_strict_headers

    token = world.group_token()
    form = [("content-type", page.FORM_TYPE)]
    answers = {
        "group": handler("GET", f"/group?token={token}"),
        "refused": handler("GET", "/group?token=x"),
        "post to group": handler("POST", "/group"),
        "get rollback": handler("GET", "/rollback"),
        "too large": handler("POST", "/rollback", b"a" * (page.MAX_FORM_BYTES + 10), form),
        "rollback": handler(
            "POST", "/rollback", urllib.parse.urlencode({"token": token, "to": "1", "reason": "r"}).encode(), form
        ),
    }
    assert {name: answer["statusCode"] for name, answer in answers.items()} == {
        "group": 200,
        "refused": 403,
        "post to group": 405,
        "get rollback": 405,
        "too large": 413,
        "rollback": 200,
    }
    assert answers["post to group"]["headers"]["Allow"] == "GET"
    assert answers["get rollback"]["headers"]["Allow"] == "POST"
    assert answers["refused"]["body"] == page.REFUSED.body
    for answer in answers.values():
        assert_strict_headers(answer)
