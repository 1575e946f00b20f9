"""A FHIR server on loopback that misbehaves on request: sleeps, trickles, bombs, pages forever.

The base URL chooses the behaviour and the resource type it applies to:
``http://127.0.0.1:{port}/{mode}/{Type|all}/fhir``. Other types get an honest answer (the
patient, one low-back-pain Condition, empty Bundles), so that a hook call can succeed and
show what the hostile part did to it. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.hookreq import bundle, condition, finding, patient

MODES = ("ok", "sleep", "trickle", "trickle-headers", "bomb", "huge", "pages", "many")


@cache
def gzip_bomb(megabytes: int = 1024) -> bytes:
    """A valid gzip member of ``megabytes`` MiB of zeros, about 1 MB big, built in ~0.2 s.

    One MiB of zeros is deflated once after a full flush; every further MiB is the same bytes.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)
    return header + first + again * (megabytes - 1) + deflate.flush() + trailer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections (1 s SYN retry) when many are slow


class HostileFhir:
    """Start with :meth:`start`; ``stop`` wakes every sleeping handler so teardown is quick."""

    def __init__(self, sleep: float = 30.0, trickle_every: float = 0.2) -> None:
        self.sleep = sleep
        self.trickle_every = trickle_every
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def base(self, mode: str, target: str = "Observation") -> str:
        assert mode in MODES
        return f"http://127.0.0.1:{self.port}/{mode}/{target}/fhir"

    def start(self) -> HostileFhir:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def sent(self, count: int) -> None:
        with self._lock:
            self.bytes_sent += count

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base)
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                try:
                    self._answer()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the client gave up: exactly what these tests want it to do

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                _, mode, target, _fhir, *rest = parts.path.split("/")
                rtype = rest[0] if rest else ""
                base = f"http://127.0.0.1:{owner.port}/{mode}/{target}/fhir"
                if target not in ("all", rtype):
                    mode = "ok"
                if mode == "ok":
                    self._json(_honest(rtype, rest))
                elif mode == "sleep":
                    owner.stopping.wait(owner.sleep)
                    self._json(bundle())
                elif mode == "trickle":
                    self._trickle(headers_too=False)
                elif mode == "trickle-headers":
                    self._trickle(headers_too=True)
                elif mode == "bomb":
                    body = gzip_bomb()
                    self._head({"Content-Type": "application/fhir+json", "Content-Encoding": "gzip",
                                "Content-Length": str(len(body))})
                    self._write(body)
                elif mode == "huge":
                    self._huge()
                elif mode == "pages":
                    page = int(dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("page", "1"))
                    body = bundle(finding("fever", False, oid=f"o{page}"))
                    body["link"] = [{"relation": "next", "url": f"{base}/{rtype}?patient=p1&page={page + 1}"}]
                    self._json(body)
                elif mode == "many":
                    self._json(bundle(*(finding("fever", False, oid=f"o{i}") for i in range(2000))))

            def _head(self, headers: dict[str, str], status: int = 200) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def _write(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()
                owner.sent(len(data))

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self._head({"Content-Type": "application/fhir+json", "Content-Length": str(len(data))})
                self._write(data)

            def _trickle(self, headers_too: bool) -> None:
                data = json.dumps(bundle()).encode()
                head = (f"HTTP/1.0 200 OK\r\nContent-Type: application/fhir+json\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n").encode()
                if not headers_too:
                    self._write(head)
                    head = b""
                for byte in head + data:
                    if owner.stopping.wait(owner.trickle_every):
                        return
                    self._write(bytes([byte]))

            def _huge(self) -> None:
                """A Bundle without Content-Length that goes on until the client hangs up (or 200 MB)."""
                self._head({"Content-Type": "application/fhir+json"})
                entry = json.dumps({"resource": finding("fever", False, oid="o")}).encode()
                block = b",".join([entry] * 1000)
                self._write(b'{"resourceType": "Bundle", "type": "searchset", "entry": [' + block)
                while owner.bytes_sent < 200_000_000 and not owner.stopping.is_set():
                    self._write(b"," + block)

        return Handler


def _honest(rtype: str, rest: list[str]) -> dict[str, Any]:
    if rtype == "Patient":
        return patient(rest[1] if len(rest) > 1 else "p1")
    if rtype == "Condition":
        return bundle(condition())
    return bundle()


def running(**kwargs: Any) -> Iterator[HostileFhir]:
    server = HostileFhir(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()
