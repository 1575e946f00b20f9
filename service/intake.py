"""How many request-body bytes one process decodes and works on at a time, so a large cap keeps memory bounded.

A real chronic patient's record is several MB of JSON (``LBP_CDS_MAX_REQUEST_BYTES``, 8 MB by
default), and decoded JSON takes about five times its size in Python objects. With 16 threads
per worker, sixteen such requests at once would hold most of a gigabyte, so a hook or feedback
call with a large body reserves its size from a per-process allowance
(``LBP_CDS_REQUEST_BYTES_IN_FLIGHT``) before decoding it, until its answer is built. A large one
waits for another to finish, and after :data:`WAIT_SECONDS` is answered 503 (send it again).

The body is read before the allowance is asked for, so a client trickling a large body holds
only its own thread, never the allowance; and bodies up to :data:`SMALL_BYTES` (the cap before
large records were accepted) never wait at all, so no one's ordinary call can be made to wait
by someone else's large ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ServiceUnavailable

#: How long a request waits for room before it is turned away.
WAIT_SECONDS = 2.0
#: Bodies this small (a 100-resource record is about 60 KB) do not take from the allowance.
SMALL_BYTES = 1_000_000


class BodyAllowance:
    """A byte semaphore: ``hold(n)`` reserves ``n`` bytes (at most the capacity) for a block."""

    def __init__(self, capacity: int, wait: float = WAIT_SECONDS) -> None:
        self.capacity = max(1, int(capacity))
        self.wait = wait
        self.used = 0
        self._room = threading.Condition()

    def take(self, size: int) -> int:
        """Reserve ``size`` bytes (at most the capacity), waiting up to ``wait``; the bytes reserved."""
        size = min(max(0, size), self.capacity)
        deadline = time.monotonic() + self.wait
        with self._room:
            while self.used + size > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServiceUnavailable("The service is busy with other large requests; send this one again in "
                                             "a moment.")
                self._room.wait(left)
            self.used += size
        return size

    def give_back(self, size: int) -> None:
        with self._room:
            self.used -= size
            self._room.notify_all()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        taken = self.take(size)
        try:
            yield
        finally:
            self.give_back(taken)
