"""The decision page in a real browser: a person reads the evidence, decides once, and nothing else gets through."""

from __future__ import annotations

import base64
import urllib.parse

from tests.browser.conftest import GROUP, RECIPIENT, UNMANAGED_GROUP, Site, Watched


def token_of(link: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]


def test_a_link_shows_the_version_its_metrics_and_their_thresholds(site: Site, tab: Watched) -> None:
    # GIVEN a version registrar held, with its decision record WHEN its link is opened
    arn = site.held_version()
    response = tab.page.goto(site.link(arn))
    # THEN the page shows the version, each metric beside its threshold, the report and the policy
    assert response is not None and response.status == 200
    page = tab.page
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"{GROUP} · version 1")
    assert page.get_by_text("gradient-boosted churn model, November data").is_visible()
    rows = page.locator("table.metrics tbody tr")
    assert rows.count() == 2
    auc = rows.filter(has_text="auc")
    # (a failed check states the bound it broke, as registrar's description does)
    assert "0.81" in auc.inner_text() and "≥ 0.85" in auc.inner_text() and "failed" in auc.inner_text()
    recall = rows.filter(has_text="recall")
    assert "0.72" in recall.inner_text() and "≥ 0.6 and ≤ 1" in recall.inner_text() and "passed" in recall.inner_text()
    assert page.get_by_text(f"s3://registrar-browser-reports/{GROUP}/1/evaluation.json").is_visible()
    assert page.get_by_text("3f2a9c1d").first.is_visible()
    assert page.get_by_role("button", name="Approve").is_visible()
    assert page.get_by_role("button", name="Reject").is_visible()


def test_approving_with_a_comment_records_the_person_and_confirms(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    tab.page.goto(site.link(arn))
    tab.page.get_by_label("Comment (optional)").fill("AUC is low, but the recall gain matters more this month")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Approve").click()
    assert tab.page.get_by_role("status").inner_text().startswith("Approved.")
    described = site.describe(arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["CustomerMetadataProperties"]["registrar:decided-by"] == f"person:{RECIPIENT}"
    assert described["ApprovalDescription"] == (
        f"Approved by {RECIPIENT} via link: AUC is low, but the recall gain matters more this month"
    )


def test_rejecting_another_version(site: Site, tab: Watched) -> None:
    site.held_version()
    arn = site.held_version()
    tab.page.goto(site.link(arn))
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Reject").click()
    assert tab.page.get_by_role("status").inner_text().startswith("Rejected.")
    assert site.describe(arn)["ModelApprovalStatus"] == "Rejected"
    assert site.describe(site.made[0])["ModelApprovalStatus"] == "PendingManualApproval"


def test_the_same_link_is_refused_the_second_time(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    link = site.link(arn)
    tab.page.goto(link)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Approve").click()
    again = tab.page.goto(link)
    assert again is not None and again.status == 403
    assert tab.page.get_by_role("heading", level=1).inner_text() == "This link cannot be used"
    # AND posting the used link's form again is refused too
    posted = tab.page.request.post(
        f"{site.origin}/decide", form={"token": token_of(link), "action": "reject"}, max_redirects=0
    )
    assert posted.status == 403
    assert site.describe(arn)["ModelApprovalStatus"] == "Approved"


def test_a_tampered_link_is_refused_naming_nothing(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    token = token_of(site.link(arn))
    payload, signature = token.split(".")
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b'"approve",', b"")
    forged = base64.urlsafe_b64encode(data).rstrip(b"=").decode() + "." + signature
    unmanaged = site.held_version(UNMANAGED_GROUP)
    refusals = []
    for wrong in (forged, token[:-3], "", token_of(site.link(unmanaged))):
        response = tab.page.goto(f"{site.origin}/decide?token={wrong}")
        assert response is not None and response.status == 403
        refusals.append(tab.page.content())
    assert len(set(refusals)) == 1  # one page, whatever was wrong
    for secret in (arn, unmanaged, GROUP, UNMANAGED_GROUP, "model-package", RECIPIENT):
        assert secret not in refusals[0]


def test_markup_in_a_description_is_shown_as_text_and_never_runs(site: Site, tab: Watched) -> None:
    hostile = "<script>alert('xss')</script><img src=x onerror=\"alert('img')\"> <b>bold</b>"
    arn = site.held_version(description=hostile)
    tab.page.goto(site.link(arn))
    # THEN the description reads literally, no element of it exists, and nothing ran or was fetched for it
    assert tab.page.get_by_text(hostile, exact=True).is_visible()
    assert tab.page.locator("main script, main img, main b").count() == 0
    assert tab.dialogs == []
    assert not [line for line in tab.console if "xss" in line or "img" in line]
    assert not [url for url in tab.requests if url.endswith("/x")]


def test_no_request_leaves_the_pages_origin_through_a_whole_decision(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    tab.page.goto(site.link(arn))
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Reject").click()
    # The page is one request (the stylesheet is inline), the decision one more; `tab` checks the origins.
    assert [urllib.parse.urlsplit(url).path for url in tab.requests] == ["/decide", "/decide"]
    assert [line for line in tab.console if line.startswith("error")] == []  # e.g. nothing the CSP had to block


def test_opening_a_link_changes_nothing(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    before = site.describe(arn)
    link = site.link(arn)
    for _ in range(3):
        tab.page.goto(link)
        tab.page.reload()
    after = site.describe(arn)
    for member in ("ModelApprovalStatus", "ApprovalDescription", "CustomerMetadataProperties", "LastModifiedTime"):
        assert after[member] == before[member], member
    # AND the link still works: opening it used nothing
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Approve").click()
    assert site.describe(arn)["ModelApprovalStatus"] == "Approved"


def test_every_response_carries_the_strict_headers(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    responses = [
        tab.page.goto(site.link(arn)),
        tab.page.goto(f"{site.origin}/decide?token=forged"),
        tab.page.goto(f"{site.origin}/nothing-here"),
    ]
    statuses = []
    for response in responses:
        assert response is not None
        statuses.append(response.status)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert csp.startswith("default-src 'none'; style-src 'sha256-")
        assert "form-action 'self'; frame-ancestors 'none'; base-uri 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-type"] == "text/html; charset=utf-8"
    assert statuses == [200, 403, 404]
    wrong_method = tab.page.request.put(f"{site.origin}/decide")
    assert wrong_method.status == 405 and wrong_method.headers["allow"] == "GET, POST"


def test_a_version_decided_meanwhile_says_so_and_writes_nothing(site: Site, tab: Watched) -> None:
    arn = site.held_version()
    tab.page.goto(site.link(arn))
    site.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Approve").click()
    assert "no longer waiting for a decision" in tab.page.get_by_role("status").inner_text()
    assert site.describe(arn)["ModelApprovalStatus"] == "Rejected"


def test_registrar_serve_prints_its_url_first_and_serves_the_page(site: Site) -> None:
    import os
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    command = [sys.executable, "-m", "registrar_cli.main", "serve", "--port", "0"]
    command += ["--endpoint-url", site.emulator.endpoint, "--region", site.emulator.region]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=dict(os.environ)) as served:
        try:
            assert served.stdout is not None
            first = served.stdout.readline().strip()
            assert first.startswith("serving: http://127.0.0.1:")
            url = first.removeprefix("serving: ")
            try:
                urllib.request.urlopen(f"{url}/decide?token=forged", timeout=30)
            except urllib.error.HTTPError as refused:
                assert refused.code == 403 and refused.headers["X-Frame-Options"] == "DENY"
            else:
                raise AssertionError("a forged link was not refused")
            arn = site.held_version()
            with urllib.request.urlopen(site.link(arn).replace(site.origin, url), timeout=30) as shown:
                assert shown.status == 200 and GROUP in shown.read().decode()
        finally:
            served.terminate()
            served.wait(timeout=30)
