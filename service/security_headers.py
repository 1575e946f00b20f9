"""Security headers on every response; no server version announced.

API answers (``/cds-services``) are never cached: they are about one patient at one moment.
HTML pages (``/knowledge``) get a Content-Security-Policy that allows nothing but their own
inline style; the demo page (``/demo``) its own scripts, styles and JSON from this origin and
nothing inline; JSON answers one that allows nothing at all. The admin pages (``/admin``, behind a
token) load their script and style from ``/admin/static`` only: no inline script anywhere.
The ``Server`` header is the HTTP server's: the development server says ``lbp-cds``
(``service.cli``), gunicorn says ``gunicorn`` without a version (it cannot be removed from gunicorn's configuration).
"""

from __future__ import annotations

from flask import Flask, Response, request

API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
#: The demo page (/demo): its own script, style and JSON only; no inline script, no other origin.
DEMO_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: /admin: scripts, styles and images only from this service (no inline script or style), the report
#: form submits to itself, never framed.
ADMIN_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = DEMO_CSP if request.path.startswith("/demo") else PAGE_CSP
        else:
            headers["Content-Security-Policy"] = API_CSP
        if request.path.startswith("/admin"):
            headers["Content-Security-Policy"] = ADMIN_CSP
            headers["X-Frame-Options"] = "DENY"
        if request.path.startswith(("/cds-services", "/admin")):
            headers["Cache-Control"] = "no-store"
        headers.pop("Server", None)  # the HTTP server adds its own (see service.cli for the dev server's)
        return response
