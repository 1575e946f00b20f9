"""In-process timings: the pipeline alone, and one call through the whole Flask app.

``engine``: :func:`service.engine.evaluate_request` on a decoded request (data → record →
rules → cards), what the issue's "in process" figures measure. ``app``: the same request
through the Flask test client (JSON decode, checks, schema validation, pipeline, response
shaping, the issued-card row in SQLite, the log line); authentication off (its cost is
measured on its own line, see :mod:`benchmarks.http`).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from service import create_app
from service.engine import Options, evaluate_request
from service.knowledge import load_knowledge
from service.registry import SERVICES
from service.terminology import Terminology

from . import synthetic

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timing:
    hook: str
    size: int
    kind: str  # engine | app
    p50_ms: float
    p99_ms: float
    runs: int


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(fn: Callable[[], Any], budget_s: float, min_runs: int = 5, max_runs: int = 2000) -> list[float]:
    """Run ``fn`` for about ``budget_s`` seconds (bounded both ways); seconds per call."""
    fn()  # warm
    samples: list[float] = []
    end = time.perf_counter() + budget_s
    while len(samples) < max_runs and (len(samples) < min_runs or time.perf_counter() < end):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _timing(hook: str, size: int, kind: str, samples: list[float]) -> Timing:
    return Timing(hook, size, kind, percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000, len(samples))


def _settle_like_production() -> None:
    """What the production entry point (service/wsgi.py) does after start-up, where the service has it."""
    try:
        from service.settle import settle
    except ImportError:  # a checkout from before service/settle.py: nothing was done after start-up
        return
    settle()


def engine_timings(sizes: tuple[int, ...], budget_s: float) -> list[Timing]:
    kb = load_knowledge(ROOT / "cards")
    terms = Terminology.load(ROOT / "fhir_profiles")
    now = datetime.fromisoformat("2026-11-22T10:15:00+01:00")
    _settle_like_production()
    out = []
    for hook in synthetic.HOOKS:
        service = SERVICES[synthetic.SERVICE_IDS[hook]]
        for size in sizes:
            body = synthetic.request(hook, size)

            def call(body: dict[str, Any] = body, service: Any = service) -> Any:
                return evaluate_request(body, service, kb, terms, Options(), now=now)

            out.append(_timing(hook, size, "engine", measure(call, budget_s)))
    return out


def app_timings(sizes: tuple[int, ...], budget_s: float) -> list[Timing]:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app({"AUTH": "off", "DATA_DIR": data_dir, "MAX_REQUEST_BYTES": 16_000_000})
        _settle_like_production()
        calls = logging.getLogger("service.calls")
        calls.propagate = False  # the per-call JSON line is still formatted, not printed over the table
        calls.addHandler(logging.NullHandler())
        client = app.test_client()
        out = []
        for hook in synthetic.HOOKS:
            for size in sizes:
                data = json.dumps(synthetic.request(hook, size)).encode()
                url = f"/cds-services/{synthetic.SERVICE_IDS[hook]}"

                def call(data: bytes = data, url: str = url) -> None:
                    response = client.post(url, data=data, content_type="application/json")
                    if response.status_code != 200:
                        raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:300]}")

                out.append(_timing(hook, size, "app", measure(call, budget_s)))
        return out





def parsed_counts(sizes: tuple[int, ...]) -> dict[tuple[str, int], int]:
    """How many resources each synthetic request has parsed into models (the rest were not usable)."""
    kb = load_knowledge(ROOT / "cards")
    terms = Terminology.load(ROOT / "fhir_profiles")
    now = datetime.fromisoformat("2026-11-22T10:15:00+01:00")
    counts = {}
    for hook in synthetic.HOOKS:
        for size in sizes:
            result = evaluate_request(synthetic.request(hook, size), SERVICES[synthetic.SERVICE_IDS[hook]], kb, terms,
                                      Options(), now=now)
            counts[(hook, size)] = getattr(result, "parsed", size)  # before the selection: every resource
    return counts
