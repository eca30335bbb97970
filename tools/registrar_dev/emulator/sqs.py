"""SQS: one receive at a time per queue, as SQS hands each message to one receiver.

Departure corrected (docs/sagemaker.md#departures-corrected, fix 11): moto's ReceiveMessage is not
atomic. Two receives of one queue at once (the local runner's workers polling together) can both take a
message that has reached its receive count and both move it to the dead-letter queue; the second fails
with ``ValueError: list.remove(x): x not in list`` and answers HTTP 500, and the messages of that failed
receive come back later with a receive used up (seen 1-5 times in a 1,000-event ``make bench-burst``
with four workers; not reproduced by a test of its own). Serialising each queue's receives restores SQS's
rule.
A long poll waits without the lock held: each attempt is a short receive under the lock, and between
attempts the poll waits for a message to arrive, as moto's own long poll does.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from moto.sqs.models import SQSBackend

_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_lock = threading.Lock()


def _lock(queue_name: str) -> threading.Lock:
    with _locks_lock:
        return _locks[queue_name]


class EmulatorSQSBackend(SQSBackend):
    """moto's SQS backend, with each queue's receives one at a time (see the module docstring)."""

    @property
    def _url_module(self) -> Any:
        # moto finds a backend's routes in the "urls" module beside its class: this one serves moto's own.
        from moto.sqs import urls

        return urls

    def receive_message(
        self,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        """moto's ReceiveMessage, each attempt holding the queue's lock while messages change hands."""
        lock = _lock(f"{self.account_id}/{self.region_name}/{queue_name}")
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with lock:
                received = super().receive_message(queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            self.get_queue(queue_name).wait_for_messages(
                1
            )  # at most a second past the deadline, as moto's own long poll
