"""``python -m benchmarks``: the whole table of issue 13, one command, loopback only, bounded in time.

In process per hook and record size (p50/p99, growth relative to 100 resources), HTTP throughput
and p99 under gunicorn next to a bare Flask app in the same run (and the ratio), what verifying a
JWT adds, start-up time and memory per worker, then each target of the issue: met or not.
``--smoke`` runs the smallest size for a moment (CI: the benchmark must keep working, not be fast).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

from . import http, inprocess, synthetic

ROOT = Path(__file__).resolve().parent.parent
#: The targets of issue 13 (this 2-core machine).
TARGET_P50_MS = 2.0
TARGET_P99_MS = 5.0
TARGET_GROWTH = 10.0
TARGET_RATIO = 0.45
TARGET_HTTP_P99_MS = 10.0
TARGET_STARTUP_S = 1.0
TARGET_RSS_MB = 100.0


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def _growth(timings: list[inprocess.Timing], t: inprocess.Timing) -> str:
    base = next((b for b in timings if b.hook == t.hook and b.kind == t.kind and b.size == 100), None)
    return f"{t.p50_ms / base.p50_ms:5.1f}x" if base else "    -"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="smallest size, a moment per measurement (CI)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per in-process cell (default 2)")
    parser.add_argument("--http-seconds", type=float, default=8.0, help="time per HTTP load level (default 8)")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    args = parser.parse_args(argv)

    sizes = (10,) if args.smoke else synthetic.SIZES
    seconds = 0.2 if args.smoke else args.seconds
    http_seconds = 1.0 if args.smoke else args.http_seconds
    levels = (1,) if args.smoke else (1, 8, 32)
    http_size = 10 if args.smoke else 100
    print(f"lbp-cds benchmark, {datetime.now().isoformat(timespec='seconds')}; {machine()}; {_load()}")
    print(f"command: {sys.executable.rsplit('/', 1)[-1]} -m benchmarks {' '.join(argv or sys.argv[1:])}".rstrip())

    started = time.perf_counter()
    engine = inprocess.engine_timings(sizes, seconds)
    app = inprocess.app_timings(sizes, seconds)
    parsed = inprocess.parsed_counts(sizes)
    print("\nIn process (engine: evaluate_request on a decoded request; app: the Flask test client, whole stack:")
    print("JSON, checks, schema, pipeline, SQLite row, log line; authentication off). ms; growth = p50 / p50 at 100.")
    print(f"{'hook':<13}{'resources':>10}{'KB':>7}{'parsed':>8} |{'engine p50':>11}{'p99':>8}{'growth':>8} |"
          f"{'app p50':>9}{'p99':>8}{'growth':>8}")
    for e, a in zip(engine, app, strict=True):
        size_kb = len(json.dumps(synthetic.request(e.hook, e.size))) / 1000
        print(f"{e.hook:<13}{e.size:>10}{size_kb:>7.0f}{parsed[(e.hook, e.size)]:>8} |{e.p50_ms:>11.2f}{e.p99_ms:>8.2f}"
              f"{_growth(engine, e):>8} |{a.p50_ms:>9.2f}{a.p99_ms:>8.2f}{_growth(app, a):>8}")

    results: list[http.HttpResult] = []
    facts: dict[str, float] = {}
    jwt = (float("nan"), float("nan"))
    if not args.no_http:
        body = synthetic.request("order-select", http_size)
        raw = json.dumps(body).encode()
        path = "/cds-services/lbp-order-select"
        results, facts = http.benchmark(raw, path, levels, http_seconds)
        tool = results[0].tool if results else "?"
        print(f"\nHTTP: order-select, {http_size} resources ({len(raw) / 1000:.0f} KB), gunicorn "
              f"deploy/gunicorn.conf.py (2 workers x 16 gthreads), loopback, {tool}, {http_seconds:.0f} s per level;")
        print("LBP_CDS_AUTH=off for both (tokens are single-use; JWT cost below). The bare app only decodes the "
              "body and returns a fixed card.")
        print(f"{'concurrency':>11} |{'service req/s':>14}{'p50 ms':>8}{'p99 ms':>8} |{'bare req/s':>11}{'p50 ms':>8}"
              f"{'p99 ms':>8} |{'ratio':>7}")
        for level in levels:
            ours = next(r for r in results if r.app == "service" and r.concurrency == level)
            bare = next(r for r in results if r.app == "bare" and r.concurrency == level)
            errors = f"  ({ours.errors + bare.errors} errors)" if ours.errors or bare.errors else ""
            print(f"{level:>11} |{ours.rate:>14.0f}{ours.p50_ms:>8.1f}{ours.p99_ms:>8.1f} |{bare.rate:>11.0f}"
                  f"{bare.p50_ms:>8.1f}{bare.p99_ms:>8.1f} |{ours.rate / bare.rate if bare.rate else 0:>7.2f}{errors}")
        jwt = http.jwt_cost_ms(body, path, calls=20 if args.smoke else 200)
        print(f"\nJWT verification (in process, order-select {http_size} resources, a fresh ES384 token per call): "
              f"p50 {jwt[0]:.2f} ms with LBP_CDS_AUTH=off, {jwt[1]:.2f} ms on: +{jwt[1] - jwt[0]:.2f} ms per call")
    startup = http.startup_seconds(1 if args.smoke else 3)
    print(f"\nStart-up: a fresh interpreter importing the service and building the app: {startup:.2f} s"
          + (f"; gunicorn answering: service {facts['service_ready_s']:.2f} s, bare {facts['bare_ready_s']:.2f} s"
             if facts else ""))
    if facts:
        print(f"Memory: RSS of the largest worker after the load: service {facts['service_rss_mb']:.0f} MB, "
              f"bare {facts['bare_rss_mb']:.0f} MB; service started on a fresh database (it migrates it, "
              f"Alembic stays loaded): {facts['service_fresh_db_rss_mb']:.0f} MB")

    if not args.smoke:
        _targets(engine, results, facts, startup)
    print(f"\n({time.perf_counter() - started:.0f} s; {_load()})")
    broken = [r for r in results if r.errors or not r.rate] if args.smoke else []
    if broken:
        print(f"FAILED: HTTP errors or no answers: {broken}", file=sys.stderr)
        return 1
    return 0


def _load() -> str:
    """The machine's load average: other processes on the same cores make every figure slower."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _targets(engine: list[inprocess.Timing], results: list[http.HttpResult], facts: dict[str, float],
             startup: float) -> None:
    print("\nTargets (issue 13):")

    def line(ok: bool, text: str) -> None:
        print(f"  [{'met' if ok else 'NOT MET'}] {text}")

    select100 = next(t for t in engine if t.hook == "order-select" and t.size == 100)
    line(select100.p50_ms <= TARGET_P50_MS and select100.p99_ms <= TARGET_P99_MS,
         f"order-select 100 resources in process: p50 {select100.p50_ms:.2f} ms (<= {TARGET_P50_MS}), "
         f"p99 {select100.p99_ms:.2f} ms (<= {TARGET_P99_MS})")
    for hook in synthetic.HOOKS:
        big = next(t for t in engine if t.hook == hook and t.size == 5000)
        base = next(t for t in engine if t.hook == hook and t.size == 100)
        line(big.p50_ms / base.p50_ms <= TARGET_GROWTH,
             f"{hook} 5,000 resources = {big.p50_ms / base.p50_ms:.1f}x the 100-resource call "
             f"(<= {TARGET_GROWTH:.0f}x)")
    if results:
        for level in sorted({r.concurrency for r in results}):
            ours = next(r for r in results if r.app == "service" and r.concurrency == level)
            bare = next(r for r in results if r.app == "bare" and r.concurrency == level)
            line(ours.rate / bare.rate >= TARGET_RATIO,
                 f"HTTP c={level}: {ours.rate / bare.rate:.2f}x the bare app (>= {TARGET_RATIO})")
        at8 = next(r for r in results if r.app == "service" and r.concurrency == 8)
        line(at8.p99_ms <= TARGET_HTTP_P99_MS,
             f"HTTP p99 at concurrency 8: {at8.p99_ms:.1f} ms (<= {TARGET_HTTP_P99_MS:.0f})")
    line(startup < TARGET_STARTUP_S, f"start-up {startup:.2f} s (< {TARGET_STARTUP_S:.0f} s)")
    if facts:
        line(facts["service_rss_mb"] < TARGET_RSS_MB,
             f"RSS per worker {facts['service_rss_mb']:.0f} MB (< {TARGET_RSS_MB:.0f} MB)")
