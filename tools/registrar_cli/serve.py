"""``registrar serve``: the decision page on this machine, through the very handler its Lambda function runs.

The standard library's HTTP server turns each request into the event a Lambda function URL sends (payload format
2.0, the shape Powertools' ``LambdaFunctionUrlResolver`` reads), calls :func:`handlers.decision_page.handler`
with it, and writes back the status, headers and body the handler returns. One request at a time (the handler,
like a Lambda container, serves one event at a time), each on its own connection (HTTP/1.0). Loopback by default.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import urllib.parse
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any

# What a function URL accepts in a request body (Lambda's invocation payload limit).
MAX_BODY_BYTES = 6 * 1024 * 1024
DEFAULT_PORT = 8080


class LocalContext:
    """The Lambda context of a local request (what Powertools' logger reads of it)."""

    function_name = "registrar-decision-page-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:registrar-decision-page-local"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/registrar-decision-page-local"
    log_stream_name = "local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def function_url_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, *, domain: str, source_ip: str
) -> dict[str, Any]:
    """The Lambda function URL event (payload 2.0) of one HTTP request.

    As Lambda builds it: header names lower-cased and repeated values joined with commas, cookies apart, query
    parameters joined with commas, the body base64-encoded (a form is not text to a function URL).
    """
    parts = urllib.parse.urlsplit(target)
    path = urllib.parse.unquote(parts.path) or "/"
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [cookie.strip() for cookie in value.split(";") if cookie.strip()]
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if query:
        event["queryStringParameters"] = query
    if cookies:
        event["cookies"] = cookies
    if body:
        event["body"] = base64.b64encode(body).decode("ascii")
    return event


class _Forward(BaseHTTPRequestHandler):
    """Every request, whatever its method, to the handler."""

    server_version = "registrar-serve"
    sys_version = ""

    def _forward(self) -> None:
        from handlers.decision_page import handler

        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length > 0 else b""
        domain = self.headers.get("Host") or "localhost"
        event = function_url_event(
            self.command, self.path, list(self.headers.items()), body, domain=domain, source_ip=self.client_address[0]
        )
        result = handler(event, LocalContext())  # type: ignore[arg-type]
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
        self.send_response(int(result["statusCode"]))
        for name, value in (result.get("headers") or {}).items():
            self.send_header(name, value)
        for cookie in result.get("cookies") or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _forward  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the handler logs each request itself."""


def make_server(host: str = "127.0.0.1", port: int = 0) -> HTTPServer:
    """A server of the page on ``host``:``port`` (``0`` picks a free port), not yet serving."""
    return HTTPServer((host, port), _Forward)


def url_of(server: HTTPServer) -> str:
    """The page's base URL, ``http://127.0.0.1:8080``."""
    host, port = server.server_address[:2]
    name = host.decode() if isinstance(host, bytes) else str(host)
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}:{port}"


def point_at(endpoint_url: str | None, region: str | None) -> None:
    """Make the handler's AWS clients use ``endpoint_url`` and ``region`` (the emulator), from the next request."""
    from handlers.decision_page import decision_page
    from registrar import aws
    from registrar.settings import deployed_settings

    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    if region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    aws.reset_clients()
    deployed_settings.cache_clear()
    decision_page.cache_clear()


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    endpoint_url: str | None = None,
    region: str | None = None,
    out: IO[str] = sys.stdout,
) -> int:
    """Serve the page until interrupted; the first line written is ``serving: URL``."""
    point_at(endpoint_url, region)
    with make_server(host, port) as server:
        out.write(f"serving: {url_of(server)}\n")
        out.flush()
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0
