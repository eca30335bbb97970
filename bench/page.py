"""The decision page's budgets: server-side render time, what a view weighs, and that it asks nothing elsewhere.

- **render p95**: ``DecisionPage.show`` for a held version with its full decision record (token verified, the
  version described by an in-memory registry, its story read back, the page rendered), in this process;
  AWS calls are not in it (the AWS-call benchmarks measure those).
- **page weight**: every byte chromium received to show the page (the stylesheet is inline: one response).
- **external requests**: requests chromium made to any other origin while showing it (budget 0).

``python -m bench.page``; part of ``make bench``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Figure, exit_status, percentile, report
from registrar.decisions import links, page
from registrar.package import ModelPackage

RENDERS = 500
RENDER_P95_BUDGET_MS = 50.0
WEIGHT_BUDGET_KB = 30.0
EXTERNAL_BUDGET = 0
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/7"
KEY = links.SigningKey("bench", b"b" * 32)
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def held() -> ModelPackage:
    """A held version with a full record: 8 metrics against thresholds, a champion, the reasons."""
    metrics = {f"metric_{n}": 0.8 + n / 100 for n in range(8)}
    checks = "; ".join(f"{name} {value:g} ≥ min 0.75 and ≤ max 1" for name, value in metrics.items())
    return ModelPackage.model_validate(
        {
            "ModelPackageArn": ARN,
            "ModelPackageGroupName": "churn-model",
            "ModelPackageVersion": 7,
            "ModelPackageDescription": "Gradient-boosted churn model trained on November's subscriptions",
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "PendingManualApproval",
            "ApprovalDescription": f"registrar: Held — {checks} (policy 3f2a9c1d)",
            "CreationTime": NOW - timedelta(hours=3),
            "LastModifiedTime": NOW - timedelta(hours=2),
            "CustomerMetadataProperties": {
                "registrar:verdict": "Held",
                "registrar:policy": "3f2a9c1d",
                "registrar:evidence": "s3://ml-evaluations/churn-model/7/evaluation.json",
                "registrar:evidence-version": "none",
                "registrar:decided-by": "rule 2: churn-*",
                "registrar:champion": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/5",
                "registrar:champion:metric_0": "0.9",
                **{f"registrar:metric:{name}": f"{value:g}" for name, value in metrics.items()},
            },
        }
    )


class _Registry:
    def __init__(self) -> None:
        self.package = held()

    def describe(self, model_package_arn: str) -> ModelPackage:
        return self.package

    def update(self, update: Any) -> str:
        raise AssertionError("the benchmark decides nothing")

    # The group page's calls: this renders a version's page only.
    def list_versions(self, group_name: str, limit: int) -> list[dict[str, Any]]:
        raise AssertionError("only the version page is rendered here")

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]:
        raise AssertionError("only the version page is rendered here")

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        raise AssertionError("only the version page is rendered here")


def decision_page() -> page.DecisionPage:
    return page.DecisionPage(
        registry=_Registry(),
        announcer=None,
        keys=lambda: links.SigningKeys(current=KEY),
        ledger=links.MemoryLinkLedger(),
        managed_groups=("churn-*",),
        clock=lambda: NOW,
    )


def token() -> str:
    capability = links.new_capability(ARN, "alice@example.com", ttl=timedelta(days=7), now=NOW)
    return links.mint(capability, KEY)


def render_times(renders: int) -> list[float]:
    """Milliseconds of each ``show`` (the first, which loads the templates, is left out)."""
    shown, link = decision_page(), token()
    assert shown.show(link).status == 200
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        shown.show(link)
        times.append((time.perf_counter() - started) * 1000)
    return times


def in_browser() -> tuple[int, int, int]:
    """(bytes received, requests, requests to another origin) of one view of the page in chromium."""
    from playwright.sync_api import Response, sync_playwright

    from handlers import decision_page as handler
    from registrar_cli.serve import make_server, url_of

    original = handler.decision_page
    served = decision_page()
    handler.decision_page = lambda: served  # type: ignore[assignment]
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = url_of(server)
    received: list[int] = []
    urls: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
            )
            tab = browser.new_page()
            tab.on("request", lambda request: urls.append(request.url))

            def on_response(response: Response) -> None:
                received.append(len(response.body()) + sum(len(k) + len(v) + 4 for k, v in response.headers.items()))

            tab.on("response", on_response)
            tab.goto(f"{origin}/decide?token={token()}", wait_until="networkidle")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        handler.decision_page = original
    external = [url for url in urls if not url.startswith(origin + "/")]
    return sum(received), len(urls), len(external)


def run(renders: int = RENDERS) -> list[Figure]:
    """Measure, print and return the page's figures."""
    times = render_times(renders)
    weight, requests, external = in_browser()
    figures = [
        Figure("decision page: server-side render p95", percentile(times, 0.95), "ms", RENDER_P95_BUDGET_MS),
        Figure(
            "decision page: weight with all it loads",
            round(weight / 1024, 1),
            "KiB",
            WEIGHT_BUDGET_KB,
            f"{requests} request(s), headers included",
        ),
        Figure("decision page: external requests", external, "requests", EXTERNAL_BUDGET),
    ]
    notes = [
        f"render: DecisionPage.show over in-memory fakes, {renders} times (median {percentile(times, 0.5):.2f} ms);",
        "weight and requests: one view in Debian's chromium through registrar serve's server",
    ]
    report("decision page (registrar.decisions.page)", figures, notes=notes)
    return figures


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.page``: exit 1 when a figure is over its budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--renders", type=int, default=RENDERS)
    args = parser.parse_args(argv)
    return exit_status(run(args.renders))


if __name__ == "__main__":
    sys.exit(main())
