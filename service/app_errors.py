"""Every error leaves as a FHIR OperationOutcome: ours, werkzeug's, and the unexpected."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .errors import CdsError, operation_outcome

log = logging.getLogger(__name__)

_ISSUE_TYPES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                409: "conflict", 413: "too-costly", 415: "not-supported", 429: "throttled"}


def _respond(status: int, body: dict[str, Any], headers: Any = None) -> Any:
    response = jsonify(body)
    response.status_code = status
    if headers:
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if name in headers:
                response.headers[name] = headers[name]
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CdsError)
    def cds_error(exc: CdsError) -> Any:
        body = operation_outcome(exc.diagnostics, code=exc.code, issue_type=exc.issue_type, details=exc.details)
        return _respond(exc.status, body, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        text = {413: f"The request body is larger than {app.config['MAX_REQUEST_BYTES']} bytes.",
                405: f"{exc.description}"}.get(status, exc.description or exc.name)
        body = operation_outcome(text, code=f"LBP-0{status}", issue_type=_ISSUE_TYPES.get(status, "processing"))
        return _respond(status, body, exc.get_response().headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if app.testing and app.config.get("PROPAGATE_EXCEPTIONS") is not False:
            raise exc  # unit tests see bugs; no-500 tests set PROPAGATE_EXCEPTIONS False
        log.exception("unexpected error")
        body = operation_outcome(
            "The service failed to process this request. The error has been logged; no details are shown.",
            code="LBP-0500",
            issue_type="exception",
        )
        return _respond(500, body)
