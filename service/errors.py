"""Errors a caller can cause, each answered with a FHIR OperationOutcome.

::

    CdsError                    (any status; stable code LBP-xxxx)
    ├── BadRequest              400  malformed JSON, schema violation, wrong hook
    ├── Unauthorized            401  caller not authenticated (no details given)
    ├── NotFound                404  unknown CDS service id; feedback on a card not issued to the caller
    ├── Conflict                409  feedback contradicting the outcome already recorded for a card
    ├── UnsupportedMediaType    415  body not declared as JSON
    ├── PreconditionFailed      412  required FHIR data neither prefetched nor fetchable
    ├── PayloadTooLarge         413  body over MAX_REQUEST_BYTES
    └── ServiceUnavailable      503  storage down: feedback not stored, so not acknowledged

Handlers in :mod:`service.hooks` turn these, werkzeug's HTTP errors and any
unexpected exception into OperationOutcome bodies; a caller never sees a traceback.
"""

from __future__ import annotations

from typing import Any


class CdsError(Exception):
    """An error with an HTTP status, a stable code and a message safe to show the caller."""

    status = 500
    code = "LBP-0500"
    issue_type = "exception"
    #: Extra response headers (e.g. ``WWW-Authenticate`` on 401).
    headers: dict[str, str] = {}

    def __init__(self, diagnostics: str, *, details: list[str] | None = None) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.details = details or []


class BadRequest(CdsError):
    status, code, issue_type = 400, "LBP-0400", "invalid"


class Unauthorized(CdsError):
    """Why authentication failed goes to the log, never to the caller (no oracle for forging tokens)."""

    status, code, issue_type = 401, "LBP-0401", "login"
    headers = {"WWW-Authenticate": 'Bearer realm="lbp-cds"'}


class NotFound(CdsError):
    status, code, issue_type = 404, "LBP-0404", "not-found"


class Conflict(CdsError):
    status, code, issue_type = 409, "LBP-0409", "conflict"


class UnsupportedMediaType(CdsError):
    status, code, issue_type = 415, "LBP-0415", "not-supported"


class PreconditionFailed(CdsError):
    status, code, issue_type = 412, "LBP-0412", "incomplete"


class PayloadTooLarge(CdsError):
    status, code, issue_type = 413, "LBP-0413", "too-costly"


class ServiceUnavailable(CdsError):
    status, code, issue_type = 503, "LBP-0503", "transient"


def operation_outcome(
    diagnostics: str, *, code: str, issue_type: str, details: list[str] | None = None
) -> dict[str, Any]:
    """A FHIR R4 OperationOutcome with one issue per problem (the first is the summary)."""
    issues = [
        {
            "severity": "error",
            "code": issue_type,
            "details": {"coding": [{"system": "https://lbp-cds.org/fhir/CodeSystem/errors", "code": code}]},
            "diagnostics": diagnostics,
        }
    ]
    issues += [{"severity": "error", "code": issue_type, "diagnostics": d} for d in (details or [])[:20]]
    return {"resourceType": "OperationOutcome", "issue": issues}
