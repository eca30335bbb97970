"""The group page in a real browser: a group's whole story, a rollback through a group's link, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from registrar.decisions import links
from registrar.decisions.contract import DECISION_PATTERN, DecisionDetail
from registrar.patterns import for_account
from registrar_dev.support import ACCOUNT
from tests.browser.conftest import GROUP, KEY, RECIPIENT, Site, Watched

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "group-page-desktop.png"


def approve(site: Site, arn: str, auc: str) -> None:
    """Approve a version as registrar's approval flow records it."""
    site.sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=f"registrar: Approved — auc {auc} ≥ min 0.85 and ≤ max 1 (policy 3f2a9c1d)",
        CustomerMetadataProperties={
            "registrar:verdict": "Approved",
            "registrar:policy": "3f2a9c1d",
            "registrar:decided-by": f"rule 1: {GROUP}",
            "registrar:decided-at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "registrar:metric:auc": auc,
        },
    )


def two_approved(site: Site) -> tuple[str, str]:
    first = site.held_version(description="churn model, October data")
    approve(site, first, "0.9")
    second = site.held_version(description="churn model, November data")
    approve(site, second, "0.91")
    return first, second


def group_link(site: Site, group: str = GROUP) -> str:
    capability = links.new_group_capability(group, RECIPIENT, ttl=timedelta(days=7), now=datetime.now(UTC))
    return f"{site.origin}/group?token={links.mint(capability, KEY)}"


def decisions_queue(site: Site) -> Any:
    """A rule for source registrar / Registrar Decision on the default bus into a queue; returns a reader."""
    endpoint, region = site.emulator.endpoint, site.emulator.region
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
    events = boto3.client("events", endpoint_url=endpoint, region_name=region)
    url = sqs.create_queue(QueueName="browser-decisions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="browser-decisions", EventPattern=json.dumps(for_account(DECISION_PATTERN, ACCOUNT)))
    events.put_targets(Rule="browser-decisions", Targets=[{"Id": "q", "Arn": arn}])

    def read() -> list[DecisionDetail]:
        found = []
        for _ in range(3):
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                found.append(DecisionDetail.model_validate(json.loads(message["Body"])["detail"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return read


def test_a_group_link_shows_every_version_and_its_status(site: Site, tab: Watched) -> None:
    first, second = two_approved(site)
    held = site.held_version()
    response = tab.page.goto(group_link(site))
    assert response is not None and response.status == 200
    page = tab.page
    assert page.get_by_role("heading", level=1).inner_text() == f"{GROUP} · history"
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert headings[1:4] == ["Version 3 PendingManualApproval", "Version 2 Approved", "Version 1 Approved"]
    assert page.get_by_label("Version to restore").input_value() == "1"
    tab.page.set_viewport_size({"width": 1280, "height": 1400})
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert held and first and second


def test_rolling_back_from_the_group_page_once(site: Site, tab: Watched) -> None:
    read = decisions_queue(site)
    first, second = two_approved(site)
    link = group_link(site)
    tab.page.goto(link)
    tab.page.get_by_label("Version to restore").select_option("1")
    tab.page.get_by_label("Reason").fill("v2 doubles the p99 latency")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Roll back version 2").click()
    status = tab.page.get_by_role("status").inner_text()
    assert status.startswith("Rolled back. Version 2 is Rejected and version 1 is Approved"), status
    v1, v2 = site.describe(first), site.describe(second)
    assert (v1["ModelApprovalStatus"], v2["ModelApprovalStatus"]) == ("Approved", "Rejected")
    assert v1["CustomerMetadataProperties"]["registrar:rollback"].startswith("from v2 at ")
    assert v2["CustomerMetadataProperties"]["registrar:rollback"].startswith("to v1 at ")
    assert v2["CustomerMetadataProperties"]["registrar:decided-by"] == f"person:{RECIPIENT}"
    decided = read()
    assert sorted((d.flow, d.verdict, d.model_package_arn) for d in decided) == sorted(
        [("rollback", "Approved", first), ("rollback", "Rejected", second)]
    )
    # AND the same link is refused the second time, to open or to post
    again = tab.page.goto(link)
    assert again is not None and again.status == 403
    token = link.split("token=", 1)[1]
    posted = tab.page.request.post(f"{site.origin}/rollback", form={"token": token, "to": "1", "reason": "again"})
    assert posted.status == 403


def test_a_version_link_opens_its_groups_history_read_only(site: Site, tab: Watched) -> None:
    two_approved(site)
    held = site.held_version()
    tab.page.goto(site.link(held))
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name="The group's history").click()
    assert tab.page.get_by_role("heading", level=1).inner_text() == f"{GROUP} · history"
    assert tab.page.get_by_role("heading", level=2).count() == 3
    assert tab.page.locator("form").count() == 0
    assert tab.page.get_by_text("it allows no rollback").is_visible()


def test_registrar_link_group_mints_a_group_link_and_refuses_other_groups(site: Site, tab: Watched) -> None:
    import contextlib
    import io

    from registrar_cli import main as cli

    def run(*argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["link", *argv, "--page-url", site.origin])
        return status, out.getvalue() + err.getvalue()

    two_approved(site)
    status, printed = run("--group", GROUP, "--for", RECIPIENT, "--ttl", "1h")
    assert status == 0, printed
    url = printed.strip().splitlines()[-1]
    assert url.startswith(f"{site.origin}/group?token=")
    response = tab.page.goto(url)
    assert response is not None and response.status == 200
    assert tab.page.get_by_role("button", name="Roll back version 2").is_visible()
    for group in ("fraud-model", "churn-missing"):  # unmanaged; managed but absent
        status, printed = run("--group", group, "--for", RECIPIENT)
        assert status == 2, printed
