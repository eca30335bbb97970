"""One thin module per Lambda function: ``handlers.approval``, ``handlers.neo_registration``, ``handlers.sweeper``.

Cold start
----------
A function's imports and its first event build some hundred thousand objects that live as long as
the container (modules, classes, pydantic schemas, botocore clients). With Python's cyclic garbage
collector on, it runs a couple of hundred times meanwhile, each time traversing a larger heap: about
a tenth of a cold start (docs/performance.md). So the collector is paused while a handler module
imports (:func:`cold_start_imports`) and again during the container's first invocation
(:func:`cold_start_invocation`); each time, what was built is then frozen (:func:`gc.freeze`: left
out of later collections) and the collector is on again. The price: the few hundred objects in
reference cycles that are garbage at that moment are frozen too, once, instead of being freed.
Nothing changes when the collector was already off.

Import order
------------
Powertools' batch utility imports Parser's record models (the whole Parser package, about a tenth of
a second) when it finds pydantic already imported (``aws_lambda_powertools/utilities/batch/types.py``).
This package, which every handler module imports first, therefore imports the batch utility before
anything can import pydantic; a test holds it (tests/unit/test_handler_imports.py), and
docs/performance.md measures what it saves.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aws_lambda_powertools.utilities.batch  # noqa: F401 - before pydantic: see "Import order" above

Handler = TypeVar("Handler", bound=Callable[..., Any])


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused; then freeze what exists and resume."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def cold_start_imports() -> Any:
    """The context a handler module imports its dependencies in (:func:`collector_paused`)."""
    return collector_paused()


def cold_start_invocation(handler: Handler) -> Handler:
    """Run the first invocation of ``handler`` in this process with the collector paused (:func:`collector_paused`)."""
    first = [True]

    @functools.wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        if not first[0]:
            return handler(*args, **kwargs)
        first[0] = False
        with collector_paused():
            return handler(*args, **kwargs)

    return invoke  # type: ignore[return-value]
