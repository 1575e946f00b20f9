"""A small HTTP/1.1 load generator for loopback: keep-alive connections, fixed concurrency, bounded time.

Used when ``wrk`` is not installed (wrk is preferred: it is C and leaves the CPU to the server).
One asyncio loop, ``concurrency`` connections each sending the same POST back to back.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _client(host: str, port: int, raw: bytes, until: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(raw)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not status.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


def run(host: str, port: int, path: str, body: bytes, concurrency: int, seconds: float) -> LoadResult:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode()
    raw = head + body
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(*(_client(host, port, raw, until, latencies, errors) for _ in range(concurrency)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    return LoadResult(len(latencies), len(errors), elapsed, tuple(latencies))
