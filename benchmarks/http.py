"""Over HTTP: the service and the bare app under the same gunicorn settings, on loopback, time-bounded.

Both run with ``deploy/gunicorn.conf.py`` (workers, threads, keep-alive as deployed) on a free
loopback port. The service's database is brought to the current schema first, with
``python -m service db upgrade``, as docs/operations.md deploys it (a Job before the pods start);
a worker that finds a fresh database migrates it itself and so holds Alembic too: that memory is
printed on its own line. Authentication is off for the throughput runs (``LBP_CDS_AUTH=off``: each token
is single-use, so a load generator cannot replay one); what verifying a JWT costs is measured
on its own line, in process, with freshly minted tokens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import load

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "gunicorn.conf.py"
SERVICE_APP = "service.wsgi:app"
BARE_APP = "benchmarks.bare_app:app"


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    ready_s: float


@dataclass(frozen=True)
class HttpResult:
    app: str
    concurrency: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cds-services", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # the bare app has no GET route: a 404/405 still means it is serving
    except OSError:
        return False


def _env(data_dir: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return {**os.environ, "LBP_CDS_AUTH": "off", "LBP_CDS_DATA_DIR": data_dir, "PYTHONPATH": path}


def migrate(data_dir: str) -> None:
    """``python -m service db upgrade``: the schema applied before the service starts (docs/operations.md)."""
    subprocess.run([sys.executable, "-m", "service", "db", "upgrade"], cwd=ROOT, env=_env(data_dir), check=True,
                   capture_output=True)


@contextmanager
def gunicorn(app: str, data_dir: str, workers: int = 2, timeout_s: float = 30.0) -> Iterator[Server]:
    """Start gunicorn on a free loopback port; stop it (by its pid) on exit."""
    port = free_port()
    env = {**_env(data_dir), "WEB_CONCURRENCY": str(workers), "LBP_CDS_BIND": f"127.0.0.1:{port}"}
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONF), app]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not _answers(port):
            if process.poll() is not None or time.perf_counter() - started > timeout_s:
                raise RuntimeError(f"gunicorn for {app} did not start (exit {process.returncode})")
            time.sleep(0.02)
        yield Server(port, process.pid, time.perf_counter() - started)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_rss_mb(master_pid: int) -> list[float]:
    """Resident memory of each worker (children of the gunicorn master), in MB."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master_pid}$", status, re.M):
            rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if rss:
                out.append(int(rss.group(1)) / 1024)
    return sorted(out)


_WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""


def _wrk(port: int, path: str, body_file: str, concurrency: int, seconds: float) -> tuple[float, float, float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        threads = min(2, concurrency)
        result = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "-s", script.name,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, env={**os.environ, "BENCH_BODY": body_file}, timeout=seconds + 30,
            check=True,
        )
    finally:
        os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", result.stdout)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", result.stdout)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    p50_ms = float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", result.stdout)
    count = int(bad.group(1)) if bad else 0
    count += sum(int(g) for g in errors.groups()) if errors else 0
    return rate, p50_ms, p99_ms, count


def drive(port: int, path: str, body: bytes, concurrency: int,
          seconds: float) -> tuple[float, float, float, int, str]:
    """``(requests/s, p50 ms, p99 ms, errors, tool)`` for one load level."""
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            handle.write(body)
        try:
            return (*_wrk(port, path, handle.name, concurrency, seconds), "wrk")
        finally:
            os.unlink(handle.name)
    result = load.run("127.0.0.1", port, path, body, concurrency, seconds)
    ordered = sorted(result.latencies)
    p50 = ordered[len(ordered) // 2] * 1000 if ordered else float("nan")
    p99 = ordered[min(len(ordered) - 1, int(0.99 * (len(ordered) - 1)))] * 1000 if ordered else float("nan")
    return result.rate, p50, p99, result.errors, "python"


def startup_seconds(runs: int = 3) -> float:
    """Median wall time of a fresh interpreter that imports the service and builds the app."""
    code = ("import time; t=time.perf_counter(); from service import create_app; "
            "create_app({'AUTH': 'off', 'DATA_DIR': %r}); print(time.perf_counter()-t)")
    times = []
    with tempfile.TemporaryDirectory() as data_dir:
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code % data_dir], cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def benchmark(body: bytes, path: str, levels: tuple[int, ...], seconds: float,
              workers: int = 2) -> tuple[list[HttpResult], dict[str, float]]:
    """Throughput and p99 for the service and the bare app at each concurrency; plus ready time and RSS."""
    results: list[HttpResult] = []
    facts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        migrate(data_dir)
        for name, app in (("service", SERVICE_APP), ("bare", BARE_APP)):
            with gunicorn(app, data_dir, workers) as server:
                facts[f"{name}_ready_s"] = server.ready_s
                drive(server.port, path, body, 2, min(1.0, seconds))  # warm every worker and thread
                for level in levels:
                    rate, p50, p99, errors, tool = drive(server.port, path, body, level, seconds)
                    results.append(HttpResult(name, level, rate, p50, p99, errors, tool))
                rss = worker_rss_mb(server.pid)
                facts[f"{name}_rss_mb"] = max(rss) if rss else float("nan")
    facts["service_fresh_db_rss_mb"] = fresh_database_rss_mb(body, path, workers, min(2.0, seconds), levels)
    return results, facts


def fresh_database_rss_mb(body: bytes, path: str, workers: int, seconds: float,
                          levels: tuple[int, ...] = (1, 8, 32)) -> float:
    """RSS of the largest worker when gunicorn itself had to create and migrate the database (Alembic loaded)."""
    with tempfile.TemporaryDirectory() as data_dir, gunicorn(SERVICE_APP, data_dir, workers) as server:
        for level in levels:
            drive(server.port, path, body, level, seconds)
        rss = worker_rss_mb(server.pid)
    return max(rss) if rss else float("nan")


def jwt_cost_ms(body: dict[str, object], path: str, calls: int = 200) -> tuple[float, float]:
    """Median in-process ms per call with authentication off and on (a fresh token per call), interleaved."""
    import logging

    from service import create_app
    from service.auth import mint_dev_token

    raw = json.dumps(body).encode()
    with tempfile.TemporaryDirectory() as off_dir, tempfile.TemporaryDirectory() as on_dir:
        clients = {auth: create_app({"AUTH": auth, "DATA_DIR": data_dir}).test_client()
                   for auth, data_dir in (("off", off_dir), ("on", on_dir))}
        calls_log = logging.getLogger("service.calls")
        calls_log.propagate = False
        calls_log.addHandler(logging.NullHandler())
        tokens = [mint_dev_token(Path(on_dir), f"http://localhost{path}") for _ in range(calls + 10)]
        samples: dict[str, list[float]] = {"off": [], "on": []}
        for n, token in enumerate(tokens):
            for auth, headers in (("off", {}), ("on", {"Authorization": f"Bearer {token}"})):
                started = time.perf_counter()
                response = clients[auth].post(path, data=raw, content_type="application/json", headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{path} with auth {auth}: {response.status_code}")
                if n >= 10:  # the first calls warm both apps
                    samples[auth].append(elapsed)
    off, on = (sorted(samples[a])[len(samples[a]) // 2] * 1000 for a in ("off", "on"))
    return off, on
