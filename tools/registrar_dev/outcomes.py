"""What the functions handled, read from the ``event handled`` line each one logs, as an operator reads it.

:func:`registrar.observability.record` logs every outcome on the ``registrar`` logger; a handler
attached to that logger turns each such record back into an :class:`~registrar.outcome.Outcome`. The
demo, the benchmarks and the reliability tests listen this way, so the runtime carries no hook of
theirs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from registrar.outcome import Outcome

Listener = Callable[[Outcome, "str | None"], None]


class _OutcomeHandler(logging.Handler):
    def __init__(self, listener: Listener) -> None:
        super().__init__(level=logging.INFO)
        self._listener = listener

    def emit(self, record: logging.LogRecord) -> None:
        from registrar.observability import HANDLED

        if record.getMessage() != HANDLED:
            return
        outcome = Outcome(
            outcome=getattr(record, "outcome", "skipped"),
            model_package_arn=getattr(record, "model_package_arn", None),
            reasons=list(getattr(record, "reasons", [])),
            request=getattr(record, "request", None),
            verdict=getattr(record, "verdict", None),
        )
        self._listener(outcome, getattr(record, "subject", None))


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener(outcome, subject)`` for every event a function in this process handles, inside the block.

    The ``registrar`` logger is kept at INFO at least while listening (the functions' own level is
    INFO); what it prints is its own handlers' business (a benchmark may quiet them).
    """
    from registrar.observability import logger as powertools_logger

    logger = logging.getLogger(powertools_logger.name)
    handler = _OutcomeHandler(listener)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
