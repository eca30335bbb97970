"""Start moto in server mode in this process, with the emulator's fixes installed.

moto's state is process-wide: every :class:`Emulator` of a process (and any ``mock_aws`` in it)
shares the same backends, and the fixes, once installed, stay installed for the life of the process.
"""

from __future__ import annotations

import importlib.metadata
import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

MOTO_VERSION = "5.2.5"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's DEFAULT_ACCOUNT_ID, which requests signed with any test key map to.

_install_lock = threading.Lock()
_installed = False


class UnsupportedMotoVersionError(RuntimeError):
    """The installed moto is not the version the emulator's fixes were written against."""


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

        from registrar_dev.emulator import events, sagemaker

        sagemaker.install()
        events.install()
        _use_backend_class(sagemaker_backends, sagemaker.EmulatorSageMakerBackend)
        _use_backend_class(events_backends, events.EmulatorEventsBackend)
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

    def __init__(self, server: ThreadedMotoServer, host: str) -> None:
        self._server = server
        self.host = host
        self.port: int = server.get_host_and_port()[1]
        self.endpoint = f"http://{host}:{self.port}"

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
    """
    _check_moto_version()
    from moto.server import ThreadedMotoServer

    _install()
    from registrar_dev.emulator import events

    events.set_emission(emit_events)
    logging.getLogger("werkzeug").setLevel(logging.INFO if log_requests else logging.WARNING)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return Emulator(server, host)


def serve(host: str, port: int) -> int:
    """Run the emulator until SIGINT or SIGTERM: what ``registrar emulator`` does.

    The first line on stdout is ``endpoint: http://HOST:PORT``; requests are logged on stderr.

    Parameters
    ----------
    host
        Address to bind.
    port
        Port to bind; ``0`` picks a free one, printed in the first line.
    """
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start(host, port, log_requests=True) as emulator:
            print(f"endpoint: {emulator.endpoint}", flush=True)
            # A timeout keeps the main thread returning to the interpreter, where signal handlers run.
            while not stop_requested.wait(timeout=0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
