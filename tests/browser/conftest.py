"""Browser tests: Debian's chromium, driven by Playwright, on the decision page served on loopback.

The page runs through ``registrar serve``'s server (:mod:`registrar_cli.serve`: each request becomes a Lambda
function URL event for the page's very handler), in a thread, against the session's emulator. Chromium is
``/usr/bin/chromium`` (``make setup`` installs it); Playwright never downloads a browser here. Its flags are the
machine's own: without the background-networking ones chromium tries to reach Google at every start.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from registrar.decisions import links
from registrar_cli.serve import make_server, point_at, url_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request

    from registrar_dev.emulator import Emulator

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GROUP = "churn-model"
UNMANAGED_GROUP = "fraud-model"
TABLE = "registrar-browser"
SECRET = "registrar/browser-links"
BUCKET = "registrar-browser-reports"
RECIPIENT = "alice@example.com"
KEY = links.SigningKey("browser-1", b"b" * 32)
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.81}, "recall": {"value": 0.72}}}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run make setup (it installs Debian's chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def origin() -> Iterator[str]:
    """The page's server on loopback, in a thread, for the session: its origin (``http://127.0.0.1:PORT``)."""
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, name="decision-page", daemon=True)
    thread.start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


@dataclass
class Site:
    """The emulator's state for one test, and how to make held versions and their links."""

    emulator: Emulator
    origin: str
    sagemaker: Any
    made: list[str] = field(default_factory=list)

    def held_version(self, group: str = GROUP, description: str = "gradient-boosted churn model, November data") -> str:
        """A version registrar held for a human: its decision record, thresholds and report, as the flow writes them."""
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=description,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                        "ModelDataUrl": f"s3://{BUCKET}/{group}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        version = arn.rsplit("/", 1)[1]
        report = f"s3://{BUCKET}/{group}/{version}/evaluation.json"
        self.sagemaker.update_model_package(
            ModelPackageArn=arn,
            ApprovalDescription=(
                "registrar: Held — auc 0.81 < min 0.85; recall 0.72 ≥ min 0.6 and ≤ max 1 (policy 3f2a9c1d)"
            ),
            CustomerMetadataProperties={
                "registrar:verdict": "Held",
                "registrar:policy": "3f2a9c1d",
                "registrar:evidence": report,
                "registrar:evidence-version": "none",
                "registrar:decided-by": f"rule 1: {group}",
                "registrar:metric:auc": "0.81",
                "registrar:metric:recall": "0.72",
            },
        )
        s3 = boto3.client("s3", endpoint_url=self.emulator.endpoint, region_name=self.emulator.region)
        s3.put_object(Bucket=BUCKET, Key=f"{group}/{version}/evaluation.json", Body=json.dumps(REPORT).encode())
        self.made.append(arn)
        return arn

    def link(self, arn: str, *, actions: tuple[links.Action, ...] = ("approve", "reject"), key: Any = KEY) -> str:
        """A fresh decision link to ``arn`` for :data:`RECIPIENT`, valid a week."""
        capability = links.new_capability(arn, RECIPIENT, ttl=timedelta(days=7), now=datetime.now(UTC), actions=actions)
        return f"{self.origin}/decide?token={links.mint(capability, key)}"

    def describe(self, arn: str) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_model_package(ModelPackageName=arn)
        return described


@pytest.fixture
def site(emulator: Emulator, origin: str, monkeypatch: pytest.MonkeyPatch) -> Site:
    """Fresh emulator state (a managed and an unmanaged group, the signing secret, the table, the report bucket),
    and the page's settings pointing at it."""
    from registrar_dev.support import create_idempotency_table

    emulator.reset()
    for name, value in {
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_REGION": emulator.region,
        "AWS_DEFAULT_REGION": emulator.region,
        "REGISTRAR_TABLE_NAME": TABLE,
        "REGISTRAR_SIGNING_SECRET": SECRET,
        "REGISTRAR_MANAGED_GROUPS": "churn-*",
    }.items():
        monkeypatch.setenv(name, value)
    point_at(None, None)  # the page's clients and settings, afresh, from the environment above

    def client(service: str) -> Any:
        return boto3.session.Session().client(service, endpoint_url=emulator.endpoint, region_name=emulator.region)  # type: ignore[call-overload]

    sagemaker = client("sagemaker")
    for group in (GROUP, UNMANAGED_GROUP):
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    keys = {"current": {"id": KEY.key_id, "key": base64.b64encode(KEY.secret).decode()}}
    client("secretsmanager").create_secret(Name=SECRET, SecretString=json.dumps(keys))
    create_idempotency_table(client("dynamodb"), TABLE)
    client("s3").create_bucket(Bucket=BUCKET)
    return Site(emulator=emulator, origin=origin, sagemaker=sagemaker)


@dataclass
class Watched:
    """A browser tab, and everything it did that a test may hold against the page."""

    page: Page
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Browser, origin: str) -> Iterator[Watched]:
    """A new browser context and tab, recording every request, dialog and console message; no request may leave
    the page's origin (checked after the test)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=True)
    page = context.new_page()
    watched = Watched(page=page)

    def on_request(request: Request) -> None:
        watched.requests.append(request.url)

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        watched.console.append(f"{message.type}: {message.text}")

    page.on("request", on_request)
    page.on("dialog", on_dialog)
    page.on("console", on_console)
    yield watched
    context.close()
    strays = [url for url in watched.requests if not (url == origin or url.startswith(origin + "/"))]
    assert not strays, f"requests left the page's origin: {strays}"
