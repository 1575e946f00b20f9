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

Bound to loopback by default: put a TLS-terminating proxy in front (LBP_CDS_BIND to change).
"""

import os

wsgi_app = "service.wsgi:app"
bind = os.environ.get("LBP_CDS_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("LBP_CDS_THREADS", "16"))
worker_class = "gthread"
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Requests bigger than this never reach the app (the app's own cap is LBP_CDS_MAX_REQUEST_BYTES).
limit_request_field_size = 16384
