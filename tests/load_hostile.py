"""Measure a normal caller's latency while hostile calls run, under gunicorn, on loopback only.

Not a test (no assertions, not collected by pytest): the figures go into docs/security.md.

    .venv/bin/python -m tests.load_hostile [--hostile 8] [--seconds 20] [--threads N] [--workers N]

Starts the loopback FHIR server of tests/hostile_fhir.py and gunicorn with
deploy/gunicorn.conf.py on a free 127.0.0.1 port; ``--hostile`` callers each post hook calls
without prefetch whose ``fhirServer`` trickles a byte every 0.2 s (all seven queries),
back to back, while one normal caller posts an order-select with full prefetch and,
separately, one whose fallback reads an honest server. Bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from tests.hookreq import condition, finding, full_prefetch, hook_request, imaging_order
from tests.hostile_fhir import HostileFhir

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(port: int, data_dir: str, workers: int | None, threads: int | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LBP_CDS_BIND": f"127.0.0.1:{port}", "LBP_CDS_DATA_DIR": data_dir}
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads:
        env["LBP_CDS_THREADS"] = str(threads)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "--access-logfile", "/dev/null",
         "--chdir", str(ROOT)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    ends = time.monotonic() + 60
    while time.monotonic() < ends:
        try:
            if requests.get(f"http://127.0.0.1:{port}/cds-services", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def post(url: str, body: dict[str, Any], timeout: float = 60) -> tuple[float, int]:
    started = time.monotonic()
    response = requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=timeout)
    return time.monotonic() - started, response.status_code


def summary(name: str, calls: list[tuple[float, int]]) -> dict[str, Any]:
    samples = [elapsed for elapsed, _ in calls]
    statuses: dict[str, int] = {}
    for _, status in calls:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return {"calls": name, "n": len(samples), "median_ms": round(statistics.median(samples) * 1000),
            "p95_ms": round(p95 * 1000), "max_ms": round(max(samples) * 1000), "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hostile", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()

    fhir = HostileFhir(sleep=30.0, trickle_every=0.2).start()
    port = free_port()
    service = f"http://127.0.0.1:{port}/cds-services/lbp-order-select"
    normal = hook_request("order-select", prefetch=full_prefetch(condition(), finding("saddle-anaesthesia", False)),
                          orders=(imaging_order(),))
    fetching = hook_request("order-select", orders=(imaging_order(),), fhirServer=fhir.base("ok"))
    hostile = hook_request("order-select", orders=(imaging_order(),), fhirServer=fhir.base("trickle", "all"))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        gunicorn = start_gunicorn(port, data_dir, args.workers, args.threads)
        try:
            results.append(summary("normal, idle server", [post(service, normal) for _ in range(30)]))
            results.append(summary("fallback from an honest server, idle", [post(service, fetching)
                                                                             for _ in range(30)]))
            stop = threading.Event()
            hostile_times: list[tuple[float, int]] = []

            def attack() -> None:
                while not stop.is_set():
                    hostile_times.append(post(service, hostile))

            attackers = [threading.Thread(target=attack, daemon=True) for _ in range(args.hostile)]
            for thread in attackers:
                thread.start()
            time.sleep(1.0)  # let every hostile call be in flight
            ends = time.monotonic() + args.seconds
            under_attack: list[tuple[float, int]] = []
            fetching_under_attack: list[tuple[float, int]] = []
            while time.monotonic() < ends:
                under_attack.append(post(service, normal))
                fetching_under_attack.append(post(service, fetching))
                time.sleep(0.1)
            stop.set()
            for thread in attackers:
                thread.join(timeout=30)
            results.append(summary(f"normal, {args.hostile} hostile calls running", under_attack))
            results.append(summary(f"fallback from an honest server, {args.hostile} hostile running",
                                   fetching_under_attack))
            results.append(summary("hostile calls themselves", hostile_times))
        finally:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
            fhir.stop()
    for row in results:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
