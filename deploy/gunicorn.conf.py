"""Gunicorn configuration for production: ``gunicorn -c deploy/gunicorn.conf.py``.

The app is built once in the master (``preload_app``) so knowledge, value sets and the
FHIR models are loaded before workers fork. Settings come from the environment.
"""

import os

wsgi_app = "service.wsgi:app"
bind = os.environ.get("LBP_CDS_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("LBP_CDS_THREADS", "4"))
worker_class = "gthread"
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Requests bigger than this never reach the app (the app's own cap is LBP_CDS_MAX_REQUEST_BYTES).
limit_request_field_size = 16384
