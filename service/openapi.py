"""The OpenAPI 3.1 document of every endpoint, served at ``/openapi.json`` and kept in ``docs/openapi.json``.

Built from what the service itself uses, so it cannot describe another service: the request and
response JSON Schemas in ``service/schemas/`` (their ``$defs`` become components) and the CDS
services of :mod:`service.registry` (one path per service, so each hook's request schema is exact).
``python -m service openapi > docs/openapi.json`` writes the copy in ``docs/``; tests check that the
copy is current and that the paths are exactly the app's routes (``tests/test_openapi.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify

from .registry import SERVICES
from .validate import SCHEMA_DIR

EXTENSION_KEY = "lbp_cds_openapi"
bp = Blueprint("openapi", __name__)

_JSON = "application/json"
_OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}


def _hoist(doc: Mapping[str, Any], prefix: str, components: dict[str, Any]) -> dict[str, Any]:
    """Move a schema's ``$defs`` into ``components`` as ``{prefix}.{name}``; return the root schema."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items() if k not in ("$defs", "$schema", "$id")}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                out["$ref"] = f"#/components/schemas/{prefix}.{ref.removeprefix('#/$defs/')}"
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name, schema in (doc.get("$defs") or {}).items():
        components[f"{prefix}.{name}"] = rewrite(schema)
    return dict(rewrite(doc))


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed request: every problem listed with its JSON path",
            401: "Authentication failed (no detail; the reason is logged)",
            404: "Unknown service, or feedback on a card not issued to this client",
            405: "Method not allowed", 409: "Feedback contradicting the outcome recorded for a card",
            412: "Required data neither prefetched nor fetchable from fhirServer",
            413: "Body larger than LBP_CDS_MAX_REQUEST_BYTES", 415: "Body not JSON",
            503: "Feedback could not be stored, or tokens cannot be checked just now (try again)"}
    return {str(s): {"description": text[s], "content": {_JSON: {"schema": _OUTCOME_REF}}} for s in statuses}


def _bearer() -> list[dict[str, list[str]]]:
    return [{"cdsHooksJwt": []}]


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (deterministic: same code and schemas, same bytes)."""
    components: dict[str, Any] = {}
    hook_doc = json.loads((SCHEMA_DIR / "hook-request.schema.json").read_text(encoding="utf-8"))
    response_doc = json.loads((SCHEMA_DIR / "response.schema.json").read_text(encoding="utf-8"))
    feedback_doc = json.loads((SCHEMA_DIR / "feedback.schema.json").read_text(encoding="utf-8"))
    _hoist(hook_doc, "HookRequest", components)
    components["CdsResponse"] = _hoist(response_doc, "CdsResponse", components)
    components["FeedbackRequest"] = _hoist(feedback_doc, "FeedbackRequest", components)
    components["OperationOutcome"] = {
        "type": "object", "required": ["resourceType", "issue"],
        "properties": {"resourceType": {"const": "OperationOutcome"},
                       "issue": {"type": "array", "minItems": 1, "items": {"type": "object"}}},
    }
    components["Discovery"] = {
        "type": "object", "required": ["services"],
        "properties": {"services": {"type": "array", "items": {
            "type": "object", "required": ["hook", "id", "description"],
            "properties": {"hook": {"type": "string"}, "id": {"type": "string"}, "title": {"type": "string"},
                           "description": {"type": "string"}, "prefetch": {"type": "object"},
                           "usageRequirements": {"type": "string"}}}}},
    }
    components["Health"] = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    components["Readiness"] = {
        "type": "object", "required": ["status", "checks"],
        "properties": {"status": {"enum": ["ready", "not ready"]},
                       "checks": {"type": "object", "additionalProperties": {"enum": ["ok", "failing"]}},
                       "rules": {"type": "integer"}, "concepts": {"type": "integer"}},
    }
    components["FeedbackStored"] = {"type": "object", "required": ["stored"],
                                    "properties": {"stored": {"type": "integer", "minimum": 0}}}
    paths: dict[str, Any] = {
        "/cds-services": {"get": {
            "operationId": "discovery", "tags": ["CDS Hooks"], "summary": "The CDS services (public)",
            "responses": {"200": {"description": "Discovery response",
                                  "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Discovery"}}}}},
        }},
    }
    for service in SERVICES.values():
        hook = service.hook
        paths[f"/cds-services/{service.id}"] = {"post": {
            "operationId": f"call-{service.id}", "tags": ["CDS Hooks"], "security": _bearer(),
            "summary": f"{hook} hook call",
            "description": "A JWT for exactly this URL (aud) with a single-use jti. Cards in Danish, or English "
                           "with Accept-Language: en.",
            "requestBody": {"required": True, "content": {_JSON: {"schema": {
                "$ref": f"#/components/schemas/HookRequest.{hook}"}}}},
            "responses": {"200": {"description": "Cards (and the rule trace when asked for)",
                                  "content": {_JSON: {"schema": {"$ref": "#/components/schemas/CdsResponse"}}}},
                          **_errors(400, 401, 404, 405, 412, 413, 415, 503)},
        }}
        paths[f"/cds-services/{service.id}/feedback"] = {"post": {
            "operationId": f"feedback-{service.id}", "tags": ["CDS Hooks"], "security": _bearer(),
            "summary": f"Feedback on cards of {service.id}",
            "requestBody": {"required": True, "content": {_JSON: {"schema": {
                "$ref": "#/components/schemas/FeedbackRequest"}}}},
            "responses": {"200": {"description": "Stored",
                                  "content": {_JSON: {"schema": {"$ref": "#/components/schemas/FeedbackStored"}}}},
                          **_errors(400, 401, 404, 405, 409, 413, 415, 503)},
        }}
    lang = [{"name": "lang", "in": "query", "required": False, "schema": {"enum": ["da", "en"]}}]
    html = {"text/html": {"schema": {"type": "string"}}}
    paths["/knowledge/rules"] = {"get": {
        "operationId": "rule-index", "tags": ["Knowledge"], "summary": "The rules, as a page cards link to",
        "parameters": lang, "responses": {"200": {"description": "HTML page", "content": html}},
    }}
    paths["/knowledge/rules/{rule_id}"] = {"get": {
        "operationId": "rule-page", "tags": ["Knowledge"], "summary": "One rule: sources, parameters, example card",
        "parameters": [{"name": "rule_id", "in": "path", "required": True, "schema": {"type": "string"}}, *lang],
        "responses": {"200": {"description": "HTML page", "content": html}, **_errors(404)},
    }}
    paths["/demo/"] = {"get": {
        "operationId": "demo-page", "tags": ["Demo (development only)"], "summary": "The demo EHR page",
        "responses": {"200": {"description": "HTML page", "content": html}},
    }}
    paths["/demo/scenarios"] = {"get": {
        "operationId": "demo-scenarios", "tags": ["Demo (development only)"], "summary": "The example scenarios",
        "responses": {"200": {"description": "Scenario list", "content": {_JSON: {"schema": {"type": "object"}}}}},
    }}
    paths["/demo/scenarios/{scenario_id}"] = {"get": {
        "operationId": "demo-scenario", "tags": ["Demo (development only)"], "summary": "One scenario, moved to now",
        "parameters": [{"name": "scenario_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Scenario", "content": {_JSON: {"schema": {"type": "object"}}}},
                      **_errors(404)},
    }}
    paths["/demo/token"] = {"post": {
        "operationId": "demo-token", "tags": ["Demo (development only)"],
        "summary": "A single-use token of the demo client for one hook or feedback URL of this service",
        "requestBody": {"required": True, "content": {_JSON: {"schema": {
            "type": "object", "properties": {"aud": {"type": "string"}}}}}},
        "responses": {"200": {"description": "Token", "content": {_JSON: {"schema": {"type": "object"}}}},
                      "400": {"description": "aud is not a URL of this service",
                              "content": {_JSON: {"schema": {"type": "object"}}}}},
    }}
    paths["/demo/static/{filename}"] = {"get": {
        "operationId": "demo-static", "tags": ["Demo (development only)"], "summary": "The demo page's files",
        "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "A file"}, **_errors(404)},
    }}
    admin_auth: dict[str, Any] = {"security": [{"adminBearer": []}, {"adminBasic": []}]}
    paths["/admin/"] = {"get": {
        "operationId": "admin-page", "tags": ["Feedback report"], **admin_auth,
        "summary": "The feedback report for the quality unit (HTML; off unless LBP_CDS_ADMIN_TOKEN is set)",
        "parameters": _report_parameters(),
        "responses": {"200": {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}},
                      **_errors(400, 401, 404)},
    }}
    paths["/admin/report"] = {"get": {
        "operationId": "admin-report", "tags": ["Feedback report"], **admin_auth,
        "summary": "The feedback report as JSON: per rule and version, issued, accepted, overridden, reasons",
        "parameters": _report_parameters(),
        "responses": {"200": {"description": "The report", "content": {_JSON: {"schema": {"type": "object"}}}},
                      **_errors(400, 401, 404)},
    }}
    paths["/admin/report.csv"] = {"get": {
        "operationId": "admin-report-csv", "tags": ["Feedback report"], **admin_auth,
        "summary": "The feedback report as CSV",
        "parameters": _report_parameters(),
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                      **_errors(400, 401, 404)},
    }}
    paths["/admin/static/{filename}"] = {"get": {
        "operationId": "admin-static", "tags": ["Feedback report"], **admin_auth,
        "summary": "The report page's script, style and charting library",
        "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "A file"}, **_errors(401, 404)},
    }}
    paths["/healthz"] = {"get": {
        "operationId": "healthz", "tags": ["Operations"], "summary": "Liveness: the process answers",
        "responses": {"200": {"description": "Alive",
                              "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Health"}}}}},
    }}
    paths["/readyz"] = {"get": {
        "operationId": "readyz", "tags": ["Operations"],
        "summary": "Readiness: knowledge and value sets loaded, store reachable",
        "responses": {code: {"description": text,
                             "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Readiness"}}}}
                      for code, text in (("200", "Ready"), ("503", "Not ready"))},
    }}
    paths["/metrics"] = {"get": {
        "operationId": "metrics", "tags": ["Operations"],
        "summary": "Prometheus metrics (counts and latencies, no patient data)",
        "description": "Unauthenticated unless LBP_CDS_METRICS_TOKEN is set (then a bearer token); not served "
                       "with LBP_CDS_METRICS=off. Keep it off the public route.",
        "responses": {"200": {"description": "Prometheus text exposition format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}, **_errors(401)},
    }}
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi", "tags": ["Operations"], "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {_JSON: {"schema": {"type": "object"}}}}},
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "lbp-cds", "version": _version(),
                 "summary": "CDS Hooks 2.0.1 service for the Danish low-back-pain guidelines",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "cdsHooksJwt": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "CDS Hooks client JWT: iss registered in LBP_CDS_CLIENTS, aud the URL called, "
                                   "single-use jti (docs/security.md)."},
                "adminBearer": {"type": "http", "scheme": "bearer",
                                "description": "LBP_CDS_ADMIN_TOKEN (the feedback report; /admin is 404 when unset)."},
                "adminBasic": {"type": "http", "scheme": "basic",
                               "description": "Any user name, LBP_CDS_ADMIN_TOKEN as the password."},
            },
        },
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lbp-cds")
    except PackageNotFoundError:
        return "0.0.0"


def text() -> str:
    """``docs/openapi.json`` as it should read."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def docs_path() -> Path:
    return Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


@bp.get("/openapi.json")
def openapi_json() -> Any:
    g.quiet = True
    return jsonify(current_app.extensions[EXTENSION_KEY])


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = document()  # built once at start-up, like every file the service reads
    app.register_blueprint(bp)


def _report_parameters() -> list[dict[str, Any]]:
    """``since``/``until`` (dates, ISO 8601) and ``lang`` of the feedback report."""
    return [{"name": name, "in": "query", "required": False, "schema": {"type": "string", **extra}}
            for name, extra in (("since", {"format": "date"}), ("until", {"format": "date"}),
                                ("lang", {"enum": ["da", "en"]}))]
