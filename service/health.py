"""Probes for the orchestrator: ``/healthz`` (the process answers) and ``/readyz`` (it can do its work).

``/healthz`` is the liveness probe: it touches nothing but the process, so a slow database or
a slow FHIR server never gets a healthy pod restarted. ``/readyz`` is the readiness probe:
knowledge and value sets loaded (they are, or ``create_app`` would have failed, but a probe
that says so is cheap) and the store reachable (:meth:`service.storage.Storage.ping`). A pod that
cannot reach its database is taken out of the Service until it can, instead of answering hook
calls whose cards it cannot record and feedback it cannot store.

Both are unauthenticated and say nothing about patients, clients or configuration: only
``ok``/``failing`` per check and counts of what is loaded. Neither writes a log line.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify

from .runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    g.quiet = True
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    g.quiet = True
    state = runtime()
    rules = len(state.knowledge.rules)
    concepts = len(state.terminology.concept_ids())
    try:
        store = bool(state.storage.ping())
    except Exception:  # a probe reports, it never raises
        store = False
    checks = {
        "knowledge": "ok" if rules else "failing",
        "valueSets": "ok" if concepts else "failing",
        "store": "ok" if store else "failing",
    }
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks, "rules": rules, "concepts": concepts}
    return jsonify(body), 200 if ready else 503
