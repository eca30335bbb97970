"""A local chat webhook: what a Slack or Teams incoming webhook is to an EventBridge API destination.

The emulator's API destinations POST to it (loopback only, see :mod:`registrar_dev.emulator.targets`);
tests and the demo read what it received. Each POSTed body that is JSON is recorded, in arrival order;
the receiver answers with the status it was given (``500`` makes EventBridge retry, then dead-letter).

Usage::

    with ChatReceiver() as chat:
        ...  # point an API destination at chat.url
        [message] = chat.wait_for(1)
        print(message["text"])
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MAX_BODY_BYTES = 1024 * 1024  # an API destination's request is at most 1 MiB (its Range header says as much)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413)
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._answer(400)
            return
        self.server.receiver._record(body, dict(self.headers.items()))
        self._answer(self.server.receiver.status)

    def _answer(self, status: int) -> None:
        payload = b"ok" if 200 <= status < 300 else b"error"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is not the place for an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: ChatReceiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver


class ChatReceiver:
    """An HTTP server on 127.0.0.1 (a free port) that records each JSON body POSTed to it.

    Parameters
    ----------
    status
        The HTTP status every request is answered with: ``200`` by default; ``500`` (or ``429``) makes
        EventBridge retry the delivery, then send the event to the target's dead-letter queue.
    """

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self._messages: list[Any] = []
        self._headers: list[dict[str, str]] = []
        self._arrived = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to POST: ``http://127.0.0.1:<port>/hook``."""
        if self._server is None:
            raise RuntimeError("the chat receiver is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> ChatReceiver:
        """Listen, in a daemon thread; returns the receiver."""
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="registrar-chat-receiver", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; what was received stays readable."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = self._thread = None

    def messages(self) -> list[Any]:
        """Every JSON body received so far (a copy), oldest first; requests answered with an error included."""
        with self._arrived:
            return list(self._messages)

    def headers(self) -> list[dict[str, str]]:
        """The headers of each recorded request, in the order of :meth:`messages`."""
        with self._arrived:
            return [dict(headers) for headers in self._headers]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        """Wait until at least ``count`` bodies arrived; returns :meth:`messages`.

        Raises
        ------
        TimeoutError
            Fewer than ``count`` arrived within ``timeout`` seconds; the message says how many did.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._messages)} of {count} chat messages arrived within {timeout} s")
                self._arrived.wait(remaining)
            return list(self._messages)

    def _record(self, body: Any, headers: dict[str, str]) -> None:
        with self._arrived:
            self._messages.append(body)
            self._headers.append(headers)
            self._arrived.notify_all()

    def __enter__(self) -> ChatReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"ChatReceiver({where}, status={self.status}, received={len(self.messages())})"
