"""A fault injector for tests and benchmarks: AWS calls that fail the way AWS calls fail, via botocore's own hooks.

:class:`FaultInjector` registers handlers on registrar's botocore session (``registrar.aws``) — it patches
no project code and no botocore code. botocore emits ``before-send.<service>.<Operation>`` just before
each HTTP attempt and uses the first handler's non-``None`` return value as the response instead of
sending the request; an exception raised there is handled exactly like one raised by the HTTP stack.
So a fault goes through botocore's real retry logic (adaptive mode, backoff, quota) and reaches
registrar exactly as a real one would:

=================  ==========================================================================  ==============
kind               what the attempt gets                                                       botocore
=================  ==========================================================================  ==============
throttling         ``ThrottlingException`` (HTTP 400; S3: ``SlowDown``, HTTP 503)                retried
server_error       ``InternalFailure`` (HTTP 500; S3: ``InternalError``)                       retried
read_timeout       ``ReadTimeoutError`` *after the request reached the service*: the change    retried
                   may have been applied, only the answer is lost (the ClientToken's case)
connection_error   ``EndpointConnectionError``: the request never left                         retried
conflict           ``ConflictException`` (HTTP 400); UpdateModelPackage only, by default       raised
access_denied      ``AccessDeniedException`` (HTTP 400; S3: ``AccessDenied``, HTTP 403)        raised
=================  ==========================================================================  ==============

Faults are drawn at random (``rate``, with a seeded :class:`random.Random` and per-kind ``weights``) or
scripted (:meth:`FaultInjector.fail_next`, :meth:`FaultInjector.always_fail`), and counted per kind and
per operation, with the calls, attempts and successful calls seen, so a test can tell how many
retries happened and how many calls got through.

Clients copy the session's handlers when they are created: install the injector before registrar
builds its clients (after ``registrar.aws.reset_clients()``). :meth:`FaultInjector.uninstall` (or
leaving the ``with`` block) stops every fault at once, also in clients created while installed.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

FaultKind = Literal["throttling", "server_error", "read_timeout", "connection_error", "conflict", "access_denied"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# Faults botocore retries by itself; the others reach the caller on the first attempt.
RETRIED_KINDS: frozenset[FaultKind] = frozenset({"throttling", "server_error", "read_timeout", "connection_error"})
# The operations a kind may hit when drawn at random: ConflictException is UpdateModelPackage's one modeled error.
DEFAULT_OPERATIONS: dict[FaultKind, frozenset[str] | None] = {
    "throttling": None,
    "server_error": None,
    "read_timeout": None,
    "connection_error": None,
    "conflict": frozenset({"UpdateModelPackage"}),
    "access_denied": None,
}
# The services registrar's handlers call; the local runner's SQS polling is not registrar's.
DEFAULT_SERVICES = frozenset({"sagemaker", "s3", "dynamodb"})

# kind -> (HTTP status, error code) for JSON and query protocols, and for S3's REST-XML.
_ERRORS: dict[FaultKind, tuple[int, str]] = {
    "throttling": (400, "ThrottlingException"),
    "server_error": (500, "InternalFailure"),
    "conflict": (400, "ConflictException"),
    "access_denied": (400, "AccessDeniedException"),
}
_S3_ERRORS: dict[FaultKind, tuple[int, str]] = {
    "throttling": (503, "SlowDown"),
    "server_error": (500, "InternalError"),
    "conflict": (409, "OperationAborted"),
    "access_denied": (403, "AccessDenied"),
}
_MESSAGE = "injected by registrar_dev.faults"
_KEPT = "registrar_dev.faults.request"


@dataclass
class _Script:
    kind: FaultKind
    service: str | None
    operation: str | None
    remaining: int | None  # None: every matching attempt

    def matches(self, service: str, operation: str) -> bool:
        return self.service in (None, service) and self.operation in (None, operation)


@dataclass
class FaultStats:
    """What the injector saw and did, per ``service.Operation``.

    Attributes
    ----------
    calls
        API calls made (once per call, whatever its retries).
    attempts
        HTTP attempts (the first one and every retry).
    succeeded
        Calls that ended with a successful response.
    injected
        Faults injected, per ``(service.Operation, kind)``.
    requests
        ``(service.Operation, parameters)`` of each successful call of the operations the injector was
        told to keep (``keep_requests``), in the order they succeeded.
    """

    calls: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def by_kind(self) -> Counter[str]:
        """Faults injected per kind."""
        totals: Counter[str] = Counter()
        for (_, kind), n in self.injected.items():
            totals[kind] += n
        return totals

    def injected_into(self, operation: str, kind: str | None = None) -> int:
        """Faults injected into ``operation`` (``Operation`` or ``service.Operation``), of ``kind`` if given."""
        return sum(
            n
            for (name, k), n in self.injected.items()
            if operation in (name, name.split(".", 1)[1]) and kind in (None, k)
        )

    @property
    def retries(self) -> int:
        """HTTP attempts beyond the first of each call: what botocore retried."""
        return sum(self.attempts.values()) - sum(self.calls.values())

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())


class _RawBody:
    """The ``raw`` member of an AWSResponse: what botocore reads the body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, amount: int | None = None) -> bytes:
        body, self._body = self._body, b""
        return body


class FaultInjector:
    """Make a share of registrar's AWS calls fail, through botocore's ``before-send`` event.

    Parameters
    ----------
    rate
        Probability that an attempt (the first or a retry) of a selected call gets a random fault.
    weights
        Relative weight of each kind among random faults; kinds left out are never drawn at random.
        Default: the four kinds botocore retries, equally, and ``conflict`` half as often.
    seed
        Seed of the injector's own :class:`random.Random`: the same seed and the same call sequence
        inject the same faults.
    services
        botocore service ids (``sagemaker``, ``s3``, ``dynamodb``, ``sqs``, ``eventbridge``...) whose
        calls may fail.
    operations
        Per kind, the only operations a random fault of that kind may hit (``None``: any);
        defaults to :data:`DEFAULT_OPERATIONS`.
    keep_requests
        Operations (``UpdateModelPackage``) whose successful calls' parameters are kept in
        ``stats.requests``: what actually got through, as opposed to what was attempted.
    """

    def __init__(
        self,
        *,
        rate: float = 0.0,
        weights: Mapping[FaultKind, float] | None = None,
        seed: int = 0,
        services: Collection[str] = DEFAULT_SERVICES,
        operations: Mapping[FaultKind, Collection[str] | None] | None = None,
        keep_requests: Collection[str] = (),
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        chosen = dict(weights) if weights is not None else self.default_weights()
        unknown = set(chosen) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        self.rate = rate
        self.weights: dict[FaultKind, float] = {kind: w for kind, w in chosen.items() if w > 0}
        self.services = frozenset(services)
        limits = {**DEFAULT_OPERATIONS, **(operations or {})}
        self.operations: dict[FaultKind, frozenset[str] | None] = {
            kind: (frozenset(ops) if ops is not None else None) for kind, ops in limits.items()
        }
        self.keep_requests = frozenset(keep_requests)
        self.stats = FaultStats()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._scripts: list[_Script] = []
        self._enabled = False
        self._session: Any = None
        self._unique = f"registrar-faults-{uuid.uuid4().hex}"
        self._http: Any = None

    @staticmethod
    def default_weights() -> dict[FaultKind, float]:
        return {"throttling": 1.0, "server_error": 1.0, "read_timeout": 1.0, "connection_error": 1.0, "conflict": 0.5}

    # Installing -----------------------------------------------------------------------------------

    def install(self, session: Any = None) -> FaultInjector:
        """Register on ``session`` (default: registrar's own, ``registrar.aws``) and start injecting.

        Only clients created afterwards see the faults (botocore copies the handlers into each client).
        """
        if self._session is not None:
            raise RuntimeError("this fault injector is already installed")
        if session is None:
            from registrar import aws

            session = aws._session()
        session.register("before-parameter-build", self._on_call, unique_id=f"{self._unique}-call")
        session.register("before-send", self._on_send, unique_id=f"{self._unique}-send")
        session.register("after-call", self._on_after_call, unique_id=f"{self._unique}-after")
        self._session = session
        self._enabled = True
        return self

    def uninstall(self) -> None:
        """Stop injecting and counting, including in clients created while installed."""
        self._enabled = False
        if self._session is not None:
            for event, suffix in (("before-parameter-build", "call"), ("before-send", "send"), ("after-call", "after")):
                self._session.unregister(event, unique_id=f"{self._unique}-{suffix}")
            self._session = None

    def __enter__(self) -> FaultInjector:
        return self if self._session is not None else self.install()

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No random or scripted fault inside the block (calls are still counted)."""
        with self._lock:
            saved, self.rate = self.rate, 0.0
            scripts, self._scripts = self._scripts, []
        try:
            yield
        finally:
            with self._lock:
                self.rate = saved
                self._scripts = scripts + self._scripts

    # Scripting ------------------------------------------------------------------------------------

    def fail_next(
        self, kind: FaultKind, *, service: str | None = None, operation: str | None = None, times: int = 1
    ) -> FaultInjector:
        """Fail the next ``times`` attempts of ``service``/``operation`` (``None``: any) with ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._scripts.append(_Script(kind, service, operation, times))
        return self

    def always_fail(
        self, kind: FaultKind, *, service: str | None = None, operation: str | None = None
    ) -> FaultInjector:
        """Fail every attempt of ``service``/``operation`` with ``kind``: a permanent failure."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._scripts.append(_Script(kind, service, operation, None))
        return self

    def clear(self) -> FaultInjector:
        """Forget every scripted fault (random ones still follow ``rate``)."""
        with self._lock:
            self._scripts.clear()
        return self

    # botocore handlers ----------------------------------------------------------------------------

    @staticmethod
    def _names(event_name: str) -> tuple[str, str]:
        parts = event_name.split(".")
        return (parts[1], parts[2]) if len(parts) >= 3 else ("", "")

    def _on_call(
        self, event_name: str, params: Any = None, context: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not self._enabled:
            return
        service, operation = self._names(event_name)
        if service in self.services:
            with self._lock:
                self.stats.calls[f"{service}.{operation}"] += 1
            if operation in self.keep_requests and context is not None and isinstance(params, dict):
                context[_KEPT] = dict(params)  # the call's own context: handed to after-call with its answer

    def _on_after_call(
        self, event_name: str, http_response: Any = None, context: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not self._enabled:
            return
        service, operation = self._names(event_name)
        if service in self.services and http_response is not None and http_response.status_code < 300:
            with self._lock:
                self.stats.succeeded[f"{service}.{operation}"] += 1
                if context is not None and _KEPT in context:
                    self.stats.requests.append((f"{service}.{operation}", context[_KEPT]))

    def _on_send(self, event_name: str, request: Any, **kwargs: Any) -> Any:
        if not self._enabled:
            return None
        service, operation = self._names(event_name)
        if service not in self.services:
            return None
        name = f"{service}.{operation}"
        with self._lock:
            self.stats.attempts[name] += 1
            kind = self._scripted(service, operation) or self._drawn(operation)
            if kind is not None:
                self.stats.injected[(name, kind)] += 1
        if kind is None:
            return None
        return self._fault(kind, service, request)

    def _scripted(self, service: str, operation: str) -> FaultKind | None:
        for script in self._scripts:
            if script.matches(service, operation):
                if script.remaining is not None:
                    script.remaining -= 1
                    if script.remaining == 0:
                        self._scripts.remove(script)
                return script.kind
        return None

    def _drawn(self, operation: str) -> FaultKind | None:
        if self.rate <= 0 or self._random.random() >= self.rate:
            return None
        kinds = [
            (kind, weight)
            for kind, weight in self.weights.items()
            if self.operations.get(kind) is None or operation in (self.operations.get(kind) or ())
        ]
        if not kinds:
            return None
        total = sum(weight for _, weight in kinds)
        point = self._random.random() * total
        for kind, weight in kinds:
            point -= weight
            if point < 0:
                return kind
        return kinds[-1][0]

    # Faults ---------------------------------------------------------------------------------------

    def _fault(self, kind: FaultKind, service: str, request: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

        if kind == "connection_error":
            raise EndpointConnectionError(endpoint_url=request.url)
        if kind == "read_timeout":
            # The request reaches the service; the answer is lost on the way back.
            self._send_for_real(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        return self._error_response(kind, service, request)

    def _send_for_real(self, request: Any) -> None:
        from botocore.httpsession import URLLib3Session

        with self._lock:
            if self._http is None:
                self._http = URLLib3Session()
            http = self._http
        with contextlib.suppress(Exception):  # the answer is dropped either way
            http.send(request)

    @staticmethod
    def _error_response(kind: FaultKind, service: str, request: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id}
        headers_of_request = {key.lower(): value for key, value in request.headers.items()}
        if service == "s3":
            status, code = _S3_ERRORS[kind]
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{_MESSAGE}</Message>'
                f"<RequestId>{request_id}</RequestId></Error>"
            ).encode()
            headers.update({"Content-Type": "application/xml", "x-amz-request-id": request_id})
        elif "x-amz-target" in headers_of_request:
            status, code = _ERRORS[kind]
            body = json.dumps({"__type": code, "message": _MESSAGE}).encode()
            headers["Content-Type"] = headers_of_request.get("content-type", "application/x-amz-json-1.1")
        else:  # the query protocol
            status, code = _ERRORS[kind]
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_MESSAGE}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
            headers["Content-Type"] = "text/xml"
        headers["Content-Length"] = str(len(body))
        response_headers = HTTPHeaders()
        for key, value in headers.items():
            response_headers[key] = value
        return AWSResponse(request.url, status, response_headers, _RawBody(body))
