"""Structured JSON logs (structlog): one line per call, never patient data, never tokens.

The line names the service, hook, ``hookInstance``, the client's ``iss``, the rules that
fired, how many data problems there were, the status and the latency. Patient ids, names,
resources, comments and tokens are never put on it. Exceptions are logged as their type and
the frames they passed through — not their message, which may quote the request.

Every record of the process (ours, werkzeug's, libraries') goes through the same JSON
formatter on the root logger, so the rule holds for lines we did not write too.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Any

import structlog
from flask import Flask, Response, g, request

CALL_LOGGER = "service.calls"
_MARK = "_lbp_cds_json"


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never take a request down
            self.handleError(record)


def _exception_without_message(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Replace ``exc_info`` by the exception's type and frames: its message may hold patient data."""
    info = event.pop("exc_info", None)
    if info is True:
        info = sys.exc_info()
    elif isinstance(info, BaseException):
        info = (type(info), info, info.__traceback__)
    if isinstance(info, tuple) and info[0] is not None:
        tb: TracebackType | None = info[2]
        frames = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)[-12:]]
        event["exception"] = {"type": info[0].__name__, "frames": frames}
    event.pop("stack_info", None)
    return event


_SHARED: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _exception_without_message,
]


def configure() -> None:
    """Route all logging through one JSON formatter on the root logger (once per process)."""
    root = logging.getLogger()
    if any(getattr(h, _MARK, False) for h in root.handlers):
        return
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *_SHARED,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(json_formatter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    service = logging.getLogger("service")
    if service.level == logging.NOTSET:
        service.setLevel(logging.INFO)


def json_formatter() -> logging.Formatter:
    """The formatter every line goes through (tests attach it to their own handler)."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        foreign_pre_chain=_SHARED,
    )


def note(**fields: Any) -> None:
    """Add fields to this call's log line (only ids, counts and codes: never patient data)."""
    audit: dict[str, Any] = g.setdefault("audit", {})
    audit.update(fields)


def init_app(app: Flask) -> None:
    configure()
    calls = structlog.get_logger(CALL_LOGGER)

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_call(response: Response) -> Response:
        if g.get("quiet"):  # probes and scrapes (service.health, service.metrics): no line each
            return response
        started = g.get("started", time.perf_counter())
        client = g.get("client")
        fields: dict[str, Any] = {
            "method": request.method,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            **({"iss": client.iss} if client is not None else {}),
            **g.get("audit", {}),
        }
        if g.get("auth_failure"):
            fields["auth_failure"] = g.auth_failure
        calls.info("call", **fields)
        return response
