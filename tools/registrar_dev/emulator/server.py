"""Start moto in server mode in this process, with the emulator's fixes installed.

moto's state is process-wide: every :class:`Emulator` of a process (and any ``mock_aws`` in it)
shares the same backends, and the fixes, once installed, stay installed for the life of the process.
"""

from __future__ import annotations

import errno
import importlib.metadata
import logging
import signal
import socket
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

MOTO_VERSION = "5.2.5"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's DEFAULT_ACCOUNT_ID, which requests signed with any test key map to.

_install_lock = threading.Lock()
_installed = False


class UnsupportedMotoVersionError(RuntimeError):
    """The installed moto is not the version the emulator's fixes were written against."""


class CannotServeError(RuntimeError):
    """The emulator cannot listen on the address it was given; the message names the address and why."""


# What a bind failure means, in the words an operator acts on (the OS's strerror otherwise).
_BIND_PROBLEMS = {
    errno.EADDRINUSE: "address already in use",
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
}


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, as werkzeug would bind it.

    Bound here, in the caller's thread, so that a failure raises :class:`CannotServeError` to the
    caller: moto's ``ThreadedMotoServer`` binds in its own thread, where werkzeug reports a failure
    with a print and ``sys.exit(1)`` (which only ends that thread) and ``start()`` then waits for
    a server that will never be ready.
    """
    from werkzeug.serving import LISTEN_QUEUE, get_sockaddr, select_address_family

    family = select_address_family(host, port)
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise CannotServeError(f"cannot serve on {host}:{port}: not an IP address or host name")
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As socketserver.TCPServer does for werkzeug (allow_reuse_address): a restart need not wait out
        # TIME_WAIT; a port another socket listens on is still refused.
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(get_sockaddr(host, port, family))
        listening.listen(LISTEN_QUEUE)
    except OSError as error:
        listening.close()
        if isinstance(error, socket.gaierror):
            problem = f"unknown host ({error.strerror.lower() if error.strerror else error})"
        else:
            problem = _BIND_PROBLEMS.get(error.errno or 0) or (error.strerror or str(error)).lower()
        raise CannotServeError(f"cannot serve on {_netloc(host, port)}: {problem}") from error
    return listening


class _Server:
    """moto's WSGI application served from a thread, on a socket already listening.

    Replaces ``moto.server.ThreadedMotoServer``, whose ``start()`` binds in the server thread and
    waits without a timeout for it to be ready, forever when the bind fails.
    """

    def __init__(self, listening: socket.socket) -> None:
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        from registrar_dev.emulator.accounts import with_service_credentials
        from registrar_dev.emulator.ses import with_sent_emails
        from registrar_dev.emulator.targets import with_inspection

        host, port = listening.getsockname()[:2]
        # What SNS "sent" by e-mail, readable over HTTP (registrar_dev.emulator.targets.SENT_EMAILS_PATH).
        app = with_inspection(DomainDispatcherApplication(create_backend_app))
        # What SES sent (registrar_dev.emulator.ses.SENT_EMAILS_PATH): the approver e-mails.
        app = with_sent_emails(app)
        # A role's credentials as Lambda gets them (registrar_dev.emulator.accounts.SERVICE_CREDENTIALS_PATH).
        app = with_service_credentials(app)
        # werkzeug serves on a duplicate of the descriptor (socket.fromfd): ours is closed once it has one.
        try:
            self._wsgi: BaseWSGIServer = make_server(
                host, port, app, True, request_handler=MotoRequestHandler, fd=listening.fileno()
            )
        finally:
            listening.close()
        self._thread = threading.Thread(target=self._wsgi.serve_forever, name="registrar-emulator", daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._wsgi.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._wsgi.shutdown()
        self._thread.join()
        self._wsgi.server_close()  # the listening socket: the port is free again once stopped


def _check_moto_version() -> None:
    try:
        installed = importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != MOTO_VERSION:
        raise UnsupportedMotoVersionError(
            f"registrar_dev.emulator patches moto {MOTO_VERSION} internals, but moto {installed or '(none)'} is "
            f"installed: run `pip install 'moto[server]=={MOTO_VERSION}'` (or `make setup`)."
        )


def _use_backend_class(backend_dict: Any, backend_class: type) -> None:
    """Make moto build ``backend_class`` for every account and region of ``backend_dict``."""
    from moto.core.base_backend import backend_lock

    with backend_lock:
        backend_dict.backend = backend_class
        # Backends already built are of moto's class: drop them, they are rebuilt on first use.
        backend_dict.clear()


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.events.models import events_backends
        from moto.sagemaker.models import sagemaker_backends
        from moto.sns.models import sns_backends
        from moto.sqs.models import sqs_backends
        from moto.sts.models import sts_backends

        from registrar_dev.emulator import accounts, events, sagemaker, sqs, targets

        sagemaker.install()
        events.install()
        targets.install()
        _use_backend_class(sagemaker_backends, sagemaker.EmulatorSageMakerBackend)
        _use_backend_class(events_backends, events.EmulatorEventsBackend)
        _use_backend_class(sqs_backends, sqs.EmulatorSQSBackend)
        _use_backend_class(sns_backends, targets.EmulatorSNSBackend)
        _use_backend_class(sts_backends, accounts.EmulatorSTSBackend)
        _installed = True


class Emulator:
    """A running emulator: moto's server on loopback, with the fixes installed.

    Parameters
    ----------
    server
        The started moto server.
    host
        The address it is bound to.
    """

    region = REGION
    account_id = ACCOUNT_ID

    def __init__(self, server: _Server, host: str) -> None:
        self._server = server
        self.host = host
        self.port: int = server.get_host_and_port()[1]
        self.endpoint = f"http://{_netloc(host, self.port)}"

    @property
    def emit_events(self) -> bool:
        """Whether SageMaker events are published on the emulator's default event bus (process-wide)."""
        from registrar_dev.emulator import events

        return events.emission_enabled()

    @emit_events.setter
    def emit_events(self, enabled: bool) -> None:
        from registrar_dev.emulator import events

        events.set_emission(enabled)

    def reset(self) -> None:
        """Forget every resource of every service, as ``POST /moto-api/reset`` does."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def stop(self) -> None:
        """Stop serving; moto's state and the installed fixes remain in the process."""
        self._server.stop()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(endpoint={self.endpoint!r}, region={self.region!r}, account_id={self.account_id!r})"


def start(host: str = "127.0.0.1", port: int = 0, *, emit_events: bool = True, log_requests: bool = False) -> Emulator:
    """Start the emulator in a thread of this process.

    Parameters
    ----------
    host
        Address to bind; keep the loopback default unless other machines must reach it.
    port
        Port to bind; ``0`` picks a free one (read it from :attr:`Emulator.endpoint`).
    emit_events
        Publish SageMaker's EventBridge events (process-wide; see :attr:`Emulator.emit_events`).
    log_requests
        Log each request on the ``werkzeug`` logger; otherwise that logger is set to WARNING.

    Returns
    -------
    Emulator
        The running emulator; stop it with :meth:`Emulator.stop` or use it as a context manager.

    Raises
    ------
    UnsupportedMotoVersionError
        The installed moto is not 5.2.5.
    CannotServeError
        ``host:port`` cannot be bound (in use, not an address of this machine, an unknown host…);
        the message names it and the problem.
    """
    _check_moto_version()
    _install()
    from registrar_dev.emulator import events

    events.set_emission(emit_events)
    logging.getLogger("werkzeug").setLevel(logging.INFO if log_requests else logging.WARNING)
    return Emulator(_Server(_listen(host, port)), host)


def serve(host: str, port: int) -> int:
    """Run the emulator until SIGINT or SIGTERM: what ``registrar emulator`` does.

    The first line on stdout is ``endpoint: http://HOST:PORT``; requests are logged on stderr.

    Parameters
    ----------
    host
        Address to bind.
    port
        Port to bind; ``0`` picks a free one, printed in the first line.

    Returns
    -------
    int
        0 once stopped by a signal; 2 when ``host:port`` cannot be bound (one line on stderr says why).
    """
    # A plain list, not a threading.Event: the handler runs in the main thread between two bytecodes,
    # possibly while that thread holds the Event's internal lock inside wait(), and Event.set() would
    # then block on that lock for ever.
    signalled: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start(host, port, log_requests=True) as emulator:
            print(f"endpoint: {emulator.endpoint}", flush=True)
            # Short sleeps keep the main thread returning to the interpreter, where signal handlers run.
            while not signalled:
                time.sleep(0.1)
    except CannotServeError as error:
        sys.stderr.write(f"registrar: {error}\n")
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
