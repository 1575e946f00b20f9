"""What one hook call may spend on the FHIR fallback: time, resources, connections.

A per-read timeout does not bound a call: a server that sends a byte just before each
timeout holds the reader forever (a trickle held one call 124 s). So a call gets one
:class:`Budget` with one deadline shared by every read, page and parallel query. When the
deadline passes, a timer shuts down every socket the call opened, which wakes any read
blocked on it; nothing the server does can then hold the call longer.

The budget also counts resources across all queries of the call, so that the cap is one
number for the call, not per query.
"""

from __future__ import annotations

import socket
import threading
import time


class Budget:
    """Deadline and resource allowance of one hook call's fallback fetch (thread-safe)."""

    def __init__(self, seconds: float, max_resources: int) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self._resources_left = max_resources
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._timer = threading.Timer(max(0.0, seconds), self.expire)
        self._timer.daemon = True
        self._timer.start()

    # -- time ------------------------------------------------------------------
    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def expired(self) -> bool:
        return self._expired or self.remaining() <= 0.0

    def watch(self, sock: socket.socket) -> None:
        """Register a new socket of this call: it is shut down when the deadline passes.

        A duplicate of the descriptor is kept, because TLS wrapping detaches the original
        object and a bare descriptor number could be reused by another socket once closed.
        """
        dup = sock.dup()
        with self._lock:
            if not self._expired:
                self._sockets.append(dup)
                return
        _shut(dup)
        dup.close()

    def expire(self) -> None:
        """Deadline reached: wake every read of this call by shutting its socket down."""
        with self._lock:
            self._expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        """The call is done: stop the timer, shut and release every socket it opened."""
        self._timer.cancel()
        self.expire()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    # -- resources -------------------------------------------------------------
    def take(self, wanted: int) -> int:
        """Reserve up to ``wanted`` resources; returns how many the call may still keep."""
        with self._lock:
            granted = max(0, min(wanted, self._resources_left))
            self._resources_left -= granted
            return granted

    def resources_left(self) -> int:
        with self._lock:
            return self._resources_left


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked on the same socket in another thread
    except OSError:
        pass  # already closed or never connected
