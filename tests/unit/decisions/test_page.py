"""The decision page: what GET shows (escaped), what POST writes (once), one refusal for any bad link, the headers."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from registrar.decisions import links, page
from registrar.decisions.announce import Announcer
from registrar.package import ModelPackage
from registrar.settings import Settings
from registrar.updates import PackageUpdate
from registrar_cli.serve import LocalContext, function_url_event
from tests.unit.decisions.fakes import RecordingBus

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"
OTHER_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-model/1"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
KEYS = links.SigningKeys(current=links.SigningKey("2026-12", b"k" * 32))
RECIPIENT = "alice@example.com"
HELD_DESCRIPTION = (
    "registrar: Held — auc 0.81 < min 0.85; recall 0.72 ≥ min 0.6 and ≤ max 1; "
    "auc 0.81 does not beat the champion's 0.9 by 0.01 (policy 3f2a9c1)"
)


def held_package(arn: str = ARN, **members: Any) -> ModelPackage:
    group = arn.split("/")[1]
    return ModelPackage.model_validate(
        {
            "ModelPackageArn": arn,
            "ModelPackageGroupName": group,
            "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
            "ModelPackageDescription": "gradient-boosted churn model, November data",
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "PendingManualApproval",
            "ApprovalDescription": HELD_DESCRIPTION,
            "CreationTime": NOW - timedelta(days=1),
            "LastModifiedTime": NOW - timedelta(hours=1),
            "CustomerMetadataProperties": {
                "registrar:verdict": "Held",
                "registrar:policy": "3f2a9c1",
                "registrar:evidence": "s3://reports/churn-model/3/evaluation.json",
                "registrar:evidence-version": "none",
                "registrar:decided-by": "rule 1: churn-*",
                "registrar:metric:auc": "0.81",
                "registrar:metric:recall": "0.72",
                "registrar:champion": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/2",
                "registrar:champion:auc": "0.9",
            },
            **members,
        }
    )


class Registry:
    """Versions in memory: Describe returns them (or refuses as SageMaker does), Update applies and records."""

    def __init__(self, *packages: ModelPackage) -> None:
        self.packages = {package.ModelPackageArn: package for package in packages}
        self.requests: list[dict[str, Any]] = []
        self.listed: list[str] = []

    def describe(self, model_package_arn: str) -> ModelPackage:
        if model_package_arn not in self.packages:
            error: Any = {"Error": {"Code": "ValidationException", "Message": "Model package does not exist."}}
            raise ClientError(error, "DescribeModelPackage")
        return self.packages[model_package_arn]

    def update(self, update: PackageUpdate) -> str:
        self.requests.append(update.to_request())
        package = self.packages[update.ModelPackageArn]
        self.packages[update.ModelPackageArn] = package.model_copy(
            update={
                "ModelApprovalStatus": update.ModelApprovalStatus or package.ModelApprovalStatus,
                "ApprovalDescription": update.ApprovalDescription or package.ApprovalDescription,
                "CustomerMetadataProperties": {
                    **package.CustomerMetadataProperties,
                    **(update.CustomerMetadataProperties or {}),
                },
                "LastModifiedTime": NOW,
            }
        )
        return update.ModelPackageArn

    def _newest_first(self, group: str) -> list[ModelPackage]:
        found = [p for p in self.packages.values() if p.ModelPackageGroupName == group]
        return sorted(found, key=lambda p: p.ModelPackageVersion or 0, reverse=True)

    def _summary(self, package: ModelPackage) -> dict[str, Any]:
        return {
            "ModelPackageArn": package.ModelPackageArn,
            "ModelPackageVersion": package.ModelPackageVersion,
            "ModelApprovalStatus": package.ModelApprovalStatus,
        }

    def list_versions(self, group_name: str, limit: int) -> list[dict[str, Any]]:
        self.listed.append(group_name)
        return [self._summary(p) for p in self._newest_first(group_name)[:limit]]

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]:
        for package in self._newest_first(group_name):
            if approval_status is None or package.ModelApprovalStatus == approval_status:
                yield self._summary(package)

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        for summary in self.list_packages(group_name, "Approved"):
            if summary["ModelPackageArn"] != excluding:
                return self.describe(summary["ModelPackageArn"])
        return None


class World:
    """A page over fakes, and what it did: the registry's writes, the bus's decisions, the ledger, the log."""

    def __init__(self, *packages: ModelPackage, managed: tuple[str, ...] = ("churn-*",)) -> None:
        self.registry = Registry(*(packages or (held_package(),)))
        self.bus = RecordingBus()
        self.ledger = links.MemoryLinkLedger()
        self.logged: list[str] = []
        self.page = page.DecisionPage(
            registry=self.registry,
            announcer=Announcer(bus=self.bus, clock=lambda: NOW),
            keys=lambda: KEYS,
            ledger=self.ledger,
            managed_groups=managed,
            clock=lambda: NOW,
            log=self.logged.append,
        )

    def token(
        self, arn: str = ARN, actions: tuple[links.Action, ...] = ("approve", "reject"), ttl: timedelta | None = None
    ) -> str:
        capability = links.new_capability(arn, RECIPIENT, ttl=ttl or timedelta(days=7), now=NOW, actions=actions)
        return links.mint(capability, KEYS.current)

    def post(self, **fields: str) -> page.Page:
        return self.page.decide(urllib.parse.urlencode(fields).encode(), page.FORM_TYPE)


@pytest.fixture
def world() -> World:
    return World()


# --- GET -----------------------------------------------------------------------------------------------------------


def test_get_shows_the_version_and_its_evidence_as_registrar_recorded_it(world: World) -> None:
    # GIVEN a held version with registrar's decision record WHEN its link is opened
    shown = world.page.show(world.token())
    # THEN the page names the version and shows every metric beside its threshold and the champion's value
    assert shown.status == 200
    text = shown.body
    for expected in (
        "churn-model",
        "gradient-boosted churn model, November data",
        "PendingManualApproval",
        "2026-11-30 09:30:00 UTC",
        "s3://reports/churn-model/3/evaluation.json",
        "3f2a9c1",
        "rule 1: churn-*",
        "≥ 0.85",
        "≥ 0.6 and ≤ 1",
        "model-package/churn-model/2",
        "auc 0.81 does not beat the champion&#39;s 0.9 by 0.01",
    ):
        assert expected in text, expected
    assert re.search(r'data-label="Value" class="num">0.81<', text)
    assert re.search(r'data-label="Champion" class="num">0.9<', text)
    # AND a form posting the token with both actions
    assert '<form method="post" action="/decide">' in text
    assert 'name="token" value="' in text
    assert 'value="approve"' in text and 'value="reject"' in text


def test_get_writes_nothing(world: World) -> None:
    token = world.token()
    world.page.show(token)
    world.page.show(token)
    assert world.registry.requests == [] and world.bus.published == []
    assert world.ledger.used(links.verify(token, KEYS, now=NOW)) is None


def test_only_the_actions_the_link_allows_are_offered(world: World) -> None:
    shown = world.page.show(world.token(actions=("approve",))).body
    assert 'value="approve"' in shown and 'value="reject"' not in shown


def test_a_version_no_longer_pending_shows_its_status_and_who_decided_and_no_form() -> None:
    decided = held_package(
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={
            "registrar:verdict": "Approved",
            "registrar:decided-by": "person:bob@example.com",
            "registrar:decided-at": "2026-12-01T08:00:00Z",
        },
    )
    world = World(decided)
    shown = world.page.show(world.token())
    assert shown.status == 200
    assert "no longer waiting for a decision" in shown.body
    assert "bob@example.com (person)" in shown.body and "2026-12-01 08:00:00 UTC" in shown.body
    assert "<form" not in shown.body


def test_everything_from_the_package_is_escaped() -> None:
    # GIVEN a version whose description and metadata hold markup
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    package = held_package(
        ModelPackageDescription=hostile,
        ApprovalDescription=f"registrar: Held — {hostile} (policy <b>x</b>)",
        CustomerMetadataProperties={"registrar:metric:<i>auc</i>": "<svg onload=alert(3)>"},
    )
    world = World(package)
    # WHEN its page is rendered
    body = world.page.show(world.token()).body
    # THEN no markup of the package reaches the page as markup
    assert "<script" not in body and "<img" not in body and "<svg" not in body and "<i>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in body
    assert "&lt;svg onload=alert(3)&gt;" in body


# --- one refusal ---------------------------------------------------------------------------------------------------


def tampered(token: str) -> str:
    payload, signature = token.split(".")
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b"churn-model/3", b"churn-model/4")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode() + "." + signature


REFUSALS: dict[str, Callable[[World], str | None]] = {
    "no token": lambda world: None,
    "empty": lambda world: "",
    "garbage": lambda world: "not-a-token",
    "tampered payload": lambda world: tampered(world.token()),
    "tampered signature": lambda world: world.token()[:-2] + ("AA" if not world.token().endswith("AA") else "BB"),
    "another key": lambda world: links.mint(
        links.new_capability(ARN, RECIPIENT, ttl=timedelta(days=1), now=NOW),
        links.SigningKey("2026-12", b"z" * 32),
    ),
    "expired": lambda world: links.mint(
        links.new_capability(ARN, RECIPIENT, ttl=timedelta(days=1), now=NOW - timedelta(days=2)), KEYS.current
    ),
    "unmanaged group": lambda world: world.token(OTHER_ARN),
    "deleted version": lambda world: world.token(ARN.replace("/3", "/9")),
    "too long": lambda world: "a" * 5000,
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_every_bad_link_gets_the_same_refusal_naming_nothing(case: str) -> None:
    world = World(held_package(), held_package(OTHER_ARN))
    token = REFUSALS[case](world)
    for answer in (world.page.show(token), world.post(token=token or "", action="approve")):
        assert answer is page.REFUSED
        assert answer.status == 403
        for secret in ("churn", "fraud", "model-package", "arn:", "123456789012", RECIPIENT):
            assert secret not in answer.body
    assert world.registry.requests == []
    assert world.logged  # the reason is logged, never shown


def test_a_used_link_is_refused_on_get_and_post(world: World) -> None:
    token = world.token()
    assert world.post(token=token, action="approve").status == 200
    assert world.page.show(token) is page.REFUSED
    assert world.post(token=token, action="reject") is page.REFUSED
    assert len(world.registry.requests) == 1


# --- POST ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "verdict"), [("approve", "Approved"), ("reject", "Rejected")])
def test_post_decides_once_as_the_links_recipient(world: World, action: str, verdict: str) -> None:
    token = world.token()
    done = world.post(token=token, action=action, comment="  looks <fine>  ")
    assert done.status == 200
    assert f"{verdict}." in done.body and "looks &lt;fine&gt;" in done.body
    [request] = world.registry.requests
    assert request["ModelApprovalStatus"] == verdict
    assert request["ApprovalDescription"] == f"{verdict} by {RECIPIENT} via link: looks <fine>"
    assert request["CustomerMetadataProperties"]["registrar:decided-by"] == f"person:{RECIPIENT}"
    [published] = world.bus.published
    assert published.flow == "person" and published.decided_by == RECIPIENT
    used = world.ledger.used(links.verify(token, KEYS, now=NOW))
    assert used is not None and used["action"] == action


def test_an_action_the_link_does_not_allow_is_refused_and_the_link_kept(world: World) -> None:
    token = world.token(actions=("reject",))
    assert world.post(token=token, action="approve") is page.REFUSED
    assert world.post(token=token, action="delete") is page.REFUSED
    assert world.registry.requests == []
    assert world.ledger.used(links.verify(token, KEYS, now=NOW)) is None


def test_post_on_a_version_decided_meanwhile_writes_nothing_and_keeps_the_link() -> None:
    world = World(held_package(ModelApprovalStatus="Rejected"))
    token = world.token()
    answer = world.post(token=token, action="approve")
    assert answer.status == 409 and "nothing was written, and your link was not used" in answer.body
    assert world.registry.requests == [] and world.bus.published == []
    assert world.ledger.used(links.verify(token, KEYS, now=NOW)) is None


def test_a_comment_too_long_is_refused_before_the_link_is_used(world: World) -> None:
    token = world.token()
    answer = world.post(token=token, action="approve", comment="x" * (page.MAX_COMMENT + 1))
    assert answer.status == 400
    assert world.registry.requests == []
    assert world.ledger.used(links.verify(token, KEYS, now=NOW)) is None


def test_a_form_with_a_field_twice_is_refused(world: World) -> None:
    token = world.token()
    body = urllib.parse.urlencode([("token", token), ("action", "approve"), ("action", "reject")]).encode()
    assert world.page.decide(body, page.FORM_TYPE) is page.REFUSED


def test_a_body_over_the_bound_is_413_and_another_content_type_415(world: World) -> None:
    assert world.page.decide(b"a" * (page.MAX_FORM_BYTES + 1), page.FORM_TYPE).status == 413
    assert world.page.decide(None, page.FORM_TYPE).status == 413
    assert world.page.decide(b"token=x", "application/json").status == 415
    assert world.registry.requests == []


def test_body_bytes_decodes_base64_and_refuses_a_body_too_long_unread() -> None:
    assert page.body_bytes(base64.b64encode(b"a=1").decode(), base64_encoded=True) == b"a=1"
    assert page.body_bytes("a=1", base64_encoded=False) == b"a=1"
    assert page.body_bytes("!!!", base64_encoded=True) == b""
    assert page.body_bytes("a" * (page.MAX_FORM_BYTES * 2), base64_encoded=True) is None


# --- the handler: routes and headers -------------------------------------------------------------------------------


@pytest.fixture
def handler(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    from handlers import decision_page

    monkeypatch.setattr(decision_page, "decision_page", lambda: world.page)

    def call(method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Any:
        event = function_url_event(
            method, target, headers or [], body, domain="abc.lambda-url.us-east-1.on.aws", source_ip="192.0.2.1"
        )
        return decision_page.handler(event, LocalContext())  # type: ignore[arg-type]

    return call


def assert_strict_headers(response: dict[str, Any]) -> None:
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == page.CONTENT_SECURITY_POLICY
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_routes_and_the_headers_of_every_response(world: World, handler: Callable[..., dict[str, Any]]) -> None:
    token = world.token()
    form = [("content-type", page.FORM_TYPE)]
    answers = {
        "get": handler("GET", f"/decide?token={token}"),
        "refused": handler("GET", "/decide?token=x"),
        "unknown path": handler("GET", "/admin"),
        "wrong method": handler("PUT", "/decide"),
        "too large": handler("POST", "/decide", b"a" * (page.MAX_FORM_BYTES + 10), form),
        "post": handler("POST", "/decide", urllib.parse.urlencode({"token": token, "action": "reject"}).encode(), form),
    }
    assert {name: answer["statusCode"] for name, answer in answers.items()} == {
        "get": 200,
        "refused": 403,
        "unknown path": 404,
        "wrong method": 405,
        "too large": 413,
        "post": 200,
    }
    assert answers["wrong method"]["headers"]["Allow"] == "GET, POST"
    assert answers["refused"]["body"] == page.REFUSED.body
    for answer in answers.values():
        assert_strict_headers(answer)
    assert world.registry.requests[0]["ModelApprovalStatus"] == "Rejected"


def test_a_failure_is_a_500_page_with_the_same_headers(
    world: World, handler: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> links.SigningKeys:
        raise RuntimeError("secrets manager is down")

    monkeypatch.setattr(world.page, "keys", broken)
    answer = handler("GET", f"/decide?token={world.token()}")
    assert answer["statusCode"] == 500
    assert "secrets manager" not in answer["body"]
    assert_strict_headers(answer)


def test_the_inline_stylesheet_is_the_one_the_csp_allows(world: World) -> None:
    body = world.page.show(world.token()).body
    [css] = re.findall(r"<style>(.*?)</style>", body, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.CONTENT_SECURITY_POLICY
    # AND the page refers to nothing elsewhere: no script, no link, no src, no url()
    assert not re.search(r"<script|<link|\bsrc=|url\(|@import", body)


def test_the_settings_default_signing_secret_is_the_links_one() -> None:
    assert Settings.from_environment({}).signing_secret == links.DEFAULT_SIGNING_SECRET
