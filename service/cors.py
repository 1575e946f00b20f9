"""CORS for browser-based CDS clients (the CDS Hooks sandbox, our demo page).

The ``Authorization`` header makes browsers send a preflight; we answer it for every
route. Allowed origins are an explicit list (``CORS_ORIGINS``); by default none, so no
web page can call the service from a browser unless the deployer says so. ``*`` must be
set on purpose and is never combined with credentials: only listed origins are echoed back.
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Accept-Language"
ALLOWED_METHODS = "GET, POST, OPTIONS"


def _origins(value: object) -> list[str] | None:
    """``None`` means any origin (``*``); else the explicit list (empty: no origin)."""
    if value in ("*", ["*"]):
        return None
    if value is None:
        return []
    if isinstance(value, str):
        return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
    if isinstance(value, (list, tuple)):
        return [str(o).rstrip("/") for o in value]
    raise ValueError("CORS_ORIGINS must be '*', a comma-separated string or a list of origins")


def init_app(app: Flask) -> None:
    allowed = _origins(app.config["CORS_ORIGINS"])
    credentials = bool(app.config["CORS_ALLOW_CREDENTIALS"]) and allowed is not None

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if not origin:
            return response
        if allowed is None:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin.rstrip("/") in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.add("Vary", "Origin")
            if credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
        else:
            return response
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response
