"""Screenshots of the decision page at desktop and phone widths: docs/images/decision-page-{desktop,phone}.png.

Deterministic: one held version in memory (fixed times, metrics, champion), the page's clock fixed, served
through ``registrar serve``'s server and the page's own handler, shot by Debian's chromium (``make setup``).

    python scripts/screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT / "tools")]

from registrar.decisions import links, page  # noqa: E402 - after the path above
from registrar.package import ModelPackage  # noqa: E402
from registrar_cli.serve import make_server, url_of  # noqa: E402

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-model/7"
KEY = links.SigningKey("screenshots", b"s" * 32)
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
]
CHROMIUM_FLAGS += ["--disable-component-update", "--disable-sync", "--font-render-hinting=none"]

HELD = ModelPackage.model_validate(
    {
        "ModelPackageArn": ARN,
        "ModelPackageGroupName": "churn-model",
        "ModelPackageVersion": 7,
        "ModelPackageDescription": "Gradient-boosted churn model trained on November's subscriptions",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        "ApprovalDescription": (
            "registrar: Held — auc 0.86 ≥ min 0.85 and ≤ max 1; recall 0.58 < min 0.6; "
            "auc 0.86 does not beat the champion's 0.88 by 0.01 (policy 3f2a9c1d)"
        ),
        "CreationTime": NOW - timedelta(hours=3, minutes=12),
        "LastModifiedTime": NOW - timedelta(hours=3, minutes=2),
        "CustomerMetadataProperties": {
            "registrar:verdict": "Held",
            "registrar:policy": "3f2a9c1d",
            "registrar:evidence": "s3://ml-evaluations/churn-model/7/evaluation.json",
            "registrar:evidence-version": "none",
            "registrar:decided-by": "rule 2: churn-*",
            "registrar:metric:auc": "0.86",
            "registrar:metric:recall": "0.58",
            "registrar:champion": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-model/5",
            "registrar:champion:auc": "0.88",
        },
    }
)


class _Registry:
    def describe(self, model_package_arn: str) -> ModelPackage:
        return HELD

    def update(self, update: Any) -> str:
        raise AssertionError("screenshots write nothing")

    # The group page's calls: this renders a version's page only.
    def list_versions(self, group_name: str, limit: int) -> list[dict[str, Any]]:
        raise AssertionError("only the version page is rendered here")

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]:
        raise AssertionError("only the version page is rendered here")

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None:
        raise AssertionError("only the version page is rendered here")


def shoot(out: Path) -> list[Path]:
    """Serve the held version's page and write one full-page PNG per size into ``out``; return their paths."""
    from playwright.sync_api import sync_playwright

    from handlers import decision_page

    decision = page.DecisionPage(
        registry=_Registry(),
        announcer=None,
        keys=lambda: links.SigningKeys(current=KEY),
        ledger=links.MemoryLinkLedger(),
        managed_groups=("churn-*",),
        clock=lambda: NOW,
    )
    capability = links.Capability(
        model_package_arn=ARN,
        recipient="alice@example.com",
        actions=("approve", "reject"),
        expires_at=NOW + timedelta(days=7),
        nonce="screenshots-nonce-0001",
    )
    original = decision_page.decision_page
    decision_page.decision_page = lambda: decision  # type: ignore[assignment]
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    written = []
    try:
        link = f"{url_of(server)}/decide?token={links.mint(capability, KEY)}"
        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
            )
            for name, (width, height) in SIZES.items():
                context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
                tab = context.new_page()
                tab.goto(link)
                path = out / f"decision-page-{name}.png"
                tab.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
                written.append(path)
                context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        decision_page.decision_page = original
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    for path in shoot(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
