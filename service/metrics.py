"""Prometheus metrics at ``/metrics``: counts and latencies, never patient data.

Every label value comes from a small closed set (Flask endpoint names, the registered service
ids, HTTP status codes, rule ids of the knowledge base, card indicators, fetch outcomes, a fixed
list of authentication failure reasons), so a caller cannot grow the series, and no label
carries an identifier of a patient, a clinician, a token or a ``hookInstance``.

Nothing in the request path calls this module: one ``after_request`` reads what the views put
on ``flask.g`` (``g.audit`` from :func:`service.logs.note`, ``g.evaluation`` — the
:class:`service.engine.Result` of a hook call —, ``g.feedback_outcomes`` and ``g.auth_failure``).

Several gunicorn workers: prometheus-client's multiprocess mode. ``deploy/gunicorn.conf.py``
sets ``PROMETHEUS_MULTIPROC_DIR`` before the app is imported (prometheus-client picks its value
store at import time) and removes a dead worker's files in ``child_exit``; whichever worker
answers ``/metrics`` then reports the sum over all workers. Without that variable (the
development server, tests) the process's own registry is served.

``/metrics`` is not authenticated by default (like ``/healthz``): keep it off the public route
(the NetworkPolicy in ``deploy/k8s`` admits only the ingress controller and the monitoring
namespace, and only ``/cds-services`` and ``/knowledge`` should be routed from outside), or set
``LBP_CDS_METRICS_TOKEN`` and give Prometheus that bearer token.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from .config import flag
from .registry import SERVICES

PREFIX = "lbp_cds"
#: Latency buckets (seconds): a hook call is milliseconds with prefetch, up to the FHIR deadline without.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: What a prefetch key not carried by the request became (``service.prefetch.KeyResult.status``).
FALLBACK_STATUSES = ("fetched", "incomplete", "fetch-failed", "not-fetched")
#: Statuses that mean the fallback sent requests to the caller's FHIR server.
_FALLBACK_RAN = frozenset({"fetched", "incomplete", "fetch-failed"})

REQUESTS = Counter(f"{PREFIX}_http_requests", "HTTP requests answered, by endpoint, CDS service and status.",
                   ("endpoint", "service", "status"))
LATENCY = Histogram(f"{PREFIX}_http_request_duration_seconds",
                    "Time to answer, by endpoint, CDS service and status (seconds).",
                    ("endpoint", "service", "status"), buckets=LATENCY_BUCKETS)
IN_PROGRESS = Gauge(f"{PREFIX}_http_requests_in_progress", "Requests being answered now (all workers).",
                    multiprocess_mode="livesum")
CARDS = Counter(f"{PREFIX}_cards", "Cards sent, by rule id and indicator.", ("rule_id", "indicator"))
FALLBACK_CALLS = Counter(f"{PREFIX}_fhir_fallback_calls",
                         "Hook calls that sent requests to the caller's FHIR server (prefetch missing).")
FALLBACK_KEYS = Counter(f"{PREFIX}_fhir_fallback_keys",
                        "Prefetch keys the request did not carry, by what became of them: fetched, incomplete "
                        "(a cap or the deadline cut it), fetch-failed, not-fetched (refused, busy, prefetch-only).",
                        ("status",))
DEADLINE_CUTS = Counter(f"{PREFIX}_fhir_deadline_cuts",
                        "Hook calls whose FHIR fallback was stopped by LBP_CDS_FHIR_DEADLINE.")
AUTH_FAILURES = Counter(f"{PREFIX}_auth_failures", "Refused hook and feedback calls (401/503), by reason.",
                        ("reason",))
FEEDBACK = Counter(f"{PREFIX}_feedback_outcomes", "Feedback items stored, by service and outcome.",
                   ("service", "outcome"))

#: ``g.auth_failure`` text (service.auth) → a reason label. First match wins; anything else is ``other``.
AUTH_REASONS: tuple[tuple[str, str], ...] = (
    (r"^no bearer token", "no_token"),
    (r"^malformed token|^no kid in the header", "malformed"),
    (r"^alg ", "algorithm"),
    (r"^unknown iss ", "unknown_issuer"),
    (r"^jku .* not on the list", "jku_not_allowed"),
    (r"^JWK Set at ", "jwks_unavailable"),
    (r"^unknown kid ", "unknown_key"),
    (r"^key .* (is not for|unusable)", "unusable_key"),
    (r"^ExpiredSignatureError", "expired"),
    (r"^ImmatureSignatureError", "not_yet_valid"),
    (r"^InvalidSignatureError", "bad_signature"),
    (r"^InvalidIssuedAtError", "issued_in_future"),
    (r"^MissingRequiredClaimError", "missing_claim"),
    (r"^Invalid\w*Error|^DecodeError", "invalid_token"),
    (r"^aud ", "audience"),
    (r"^token valid for more than", "lifetime_too_long"),
    (r"^jti is not", "bad_jti"),
    (r"^jti replayed", "replayed"),
    (r"^replay cache unavailable", "replay_cache_unavailable"),
)
_AUTH_PATTERNS = tuple((re.compile(pattern), label) for pattern, label in AUTH_REASONS)
AUTH_REASON_LABELS = tuple(dict.fromkeys([label for _, label in AUTH_REASONS] + ["other"]))

bp = Blueprint("metrics", __name__)


def multiprocess_dir() -> str | None:
    """The shared folder of prometheus-client's multiprocess mode, when gunicorn set one up."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def auth_reason(failure: str) -> str:
    """A bounded label for why authentication failed (the full text is in the call's log line)."""
    for pattern, label in _AUTH_PATTERNS:
        if pattern.search(failure):
            return label
    return "other"


def _service_label(audit: Mapping[str, Any]) -> str:
    service = audit.get("service")
    return service if isinstance(service, str) and service in SERVICES else ""


def _count_evaluation(result: Any) -> None:
    """Cards by rule and indicator, and what the FHIR fallback did, for one hook call."""
    for card, issued in zip(result.response.get("cards", ()), result.issued, strict=False):
        CARDS.labels(issued.rule_id, str(card.get("indicator", "unknown"))).inc()
    statuses: Mapping[str, str] = getattr(result, "fetch_statuses", {}) or {}
    for status in statuses.values():
        if status in FALLBACK_STATUSES:
            FALLBACK_KEYS.labels(status).inc()
    if _FALLBACK_RAN & set(statuses.values()):
        FALLBACK_CALLS.inc()
    if getattr(result, "deadline_reached", False):
        DEADLINE_CUTS.inc()


def _count_feedback(service: str, outcomes: Iterable[Any]) -> None:
    for outcome in outcomes:
        FEEDBACK.labels(service, outcome if outcome in ("accepted", "overridden") else "other").inc()


def render() -> tuple[bytes, str]:
    """The exposition text: every worker's counts summed in multiprocess mode, else this process's."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@bp.get("/metrics")
def metrics() -> Response:
    g.quiet = True  # no log line per scrape (service.logs)
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            abort(401)
    body, content_type = render()
    return Response(body, content_type=content_type)



def init_app(app: Flask) -> None:
    """Count every call after it is answered, and serve ``/metrics`` (unless ``LBP_CDS_METRICS=off``)."""
    if not flag(app.config["METRICS"], "METRICS", empty_is_off=False):
        return

    @app.before_request
    def metrics_start() -> None:
        g.metrics_started = time.perf_counter()
        IN_PROGRESS.inc()

    @app.after_request
    def metrics_count(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is None:
            return response
        IN_PROGRESS.dec()
        if request.endpoint == "metrics.metrics":
            return response  # scrapes are not traffic
        audit: Mapping[str, Any] = g.get("audit", {})
        endpoint = request.endpoint or "unmatched"
        service = _service_label(audit)
        status = str(response.status_code)
        REQUESTS.labels(endpoint, service, status).inc()
        LATENCY.labels(endpoint, service, status).observe(time.perf_counter() - started)
        failure = g.get("auth_failure")
        if failure:
            AUTH_FAILURES.labels(auth_reason(str(failure))).inc()
        result = g.get("evaluation")
        if result is not None and response.status_code == 200:
            _count_evaluation(result)
        outcomes = g.get("feedback_outcomes")
        if outcomes and response.status_code == 200:
            _count_feedback(service, outcomes)
        return response

    @app.teardown_request
    def metrics_unwind(_exc: BaseException | None) -> None:
        if g.pop("metrics_started", None) is not None:  # after_request did not run (an unhandled error)
            IN_PROGRESS.dec()

    app.register_blueprint(bp)
