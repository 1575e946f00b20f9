"""Gunicorn configuration for production: ``gunicorn -c deploy/gunicorn.conf.py``.

The app is built once in the master (``preload_app``) so knowledge, value sets and the
FHIR models are loaded before workers fork. Settings come from the environment.

Worker model (docs/security.md, "Fetching from fhirServer, budgets and workers"): threaded
workers, because a hook call mostly waits (on the caller's FHIR server) and threads are
cheap. A slow FHIR server costs a call at most LBP_CDS_FHIR_DEADLINE, and at most
LBP_CDS_FHIR_MAX_CONCURRENT_CALLS (8) threads per worker are ever inside that wait, so
with 16 threads per worker at least 8 stay free for everyone else. gunicorn's ``timeout``
does not stop a busy thread of a gthread worker (it only watches the worker's main loop);
the deadline is what bounds a call.

Bound to loopback by default: put a TLS-terminating proxy in front (LBP_CDS_BIND to change;
the container image sets 0.0.0.0:8080).

Graceful shutdown: on SIGTERM the master stops accepting and gives workers ``graceful_timeout``
seconds to finish the calls they hold. That is at least the FHIR deadline plus 10 s, so a call
waiting on a slow FHIR server still gets its answer (Kubernetes: preStop sleep 5 s, then this,
within terminationGracePeriodSeconds; docs/operations.md).

Metrics (service/metrics.py): prometheus-client's multiprocess mode, so that /metrics sums every
worker. PROMETHEUS_MULTIPROC_DIR must be set before prometheus-client is imported, that is before
the app is loaded below; a dead worker's files are marked in ``child_exit``.
"""

import glob
import math
import os
import tempfile

# -- metrics across workers: before anything imports prometheus_client ----------------------
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="lbp-cds-metrics-")
os.makedirs(_metrics_dir, exist_ok=True)
for _stale in glob.glob(os.path.join(_metrics_dir, "*.db")):  # counts of an earlier run are not this run's
    os.remove(_stale)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def _defaults() -> dict[str, object]:
    """``service.config.DEFAULTS``, read from its file without importing the ``service`` package.

    Importing ``service.config`` runs ``service/__init__``, i.e. the whole app, in the master of
    every app this file serves: the bare app of ``benchmarks/bare_app.py`` then carried the
    service's 70 MB heap, unfrozen, and its workers' full garbage collections (tens of ms) made
    the yardstick's p99 (docs/performance.md, 2026-11-23). The service's app is still loaded
    below by ``preload_app``.
    """
    import importlib.util

    package = importlib.util.find_spec("service")  # finds the package, does not run it
    assert package is not None and package.submodule_search_locations, "the service package is not installed"
    path = os.path.join(list(package.submodule_search_locations)[0], "config.py")
    spec = importlib.util.spec_from_file_location("lbp_cds_config_defaults", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.DEFAULTS)


DEFAULTS = _defaults()


def _setting(name: str) -> str:
    return os.environ.get(f"LBP_CDS_{name}") or str(DEFAULTS[name])


wsgi_app = "service.wsgi:app"
bind = _setting("BIND")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# 16 threads (LBP_CDS_THREADS): more than FHIR_MAX_CONCURRENT_CALLS (8), see above. Under CPU-bound load
# 2 or 4 threads per worker were measured too (docs/performance.md, 2026-11-23): a little better for the
# service and the bare app alike, not enough to give up threads for calls waiting on a FHIR server.
threads = int(_setting("THREADS"))
worker_class = "gthread"
preload_app = True
timeout = 30
graceful_timeout = max(20, math.ceil(float(_setting("FHIR_DEADLINE"))) + 10)
keepalive = 5
accesslog = "-"
errorlog = "-"
# Requests bigger than this never reach the app (the app's own cap is LBP_CDS_MAX_REQUEST_BYTES).
limit_request_field_size = 16384


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker is gone: its live gauges no longer count (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
