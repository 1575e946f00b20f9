"""The one module that knows which FHIR models parse our R4 input.

``fhir.resources`` has no R4 package since 7.0; its R4B models parse the R4 resources we
read (Patient, Condition, Observation, MedicationRequest, ServiceRequest, Procedure,
Encounter). Should that change, this file is the only one to touch.

Resources are parsed one by one: a bad resource is reported and skipped, never the
whole request. Before parsing, empty values (``null``, ``""``, ``[]``, ``{}``) are
dropped, because real clients send them (the CDS Hooks sandbox drafts an order with
``coding: [{}]`` and ``reasonCode: []``) and they carry no information.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

#: Resource types the data layer reads; anything else is ignored (not an error).
READ_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "Observation",
        "MedicationRequest",
        "ServiceRequest",
        "Procedure",
        "Encounter",
        "OperationOutcome",
    }
)

_MODELS = {name: get_fhir_model_class(name) for name in READ_TYPES}


def warm_up() -> None:
    """Build the lazy pydantic validators once at start-up, not on the first request."""
    _MODELS["Patient"].model_validate({"resourceType": "Patient", "birthDate": "1970-01-01"})
    _MODELS["Condition"].model_validate(
        {"resourceType": "Condition", "subject": {"reference": "Patient/x"}, "onsetDateTime": "2020-01-01"}
    )


def prune(value: Any) -> Any:
    """Drop empty members recursively; ``None`` when nothing is left."""
    if isinstance(value, dict):
        pruned = {k: p for k, v in value.items() if (p := prune(v)) is not None}
        return pruned or None
    if isinstance(value, list):
        items = [p for v in value if (p := prune(v)) is not None]
        return items or None
    if value == "":
        return None
    return value


def label(resource: Mapping[str, Any]) -> str:
    """``Type/id`` of a raw resource, for messages and references."""
    rtype = resource.get("resourceType", "?")
    rid = resource.get("id")
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else str(rtype)


def parse(resource: Mapping[str, Any]) -> tuple[Any | None, str | None]:
    """Parse one raw resource: ``(model, None)``, ``(None, None)`` if not read, or ``(None, problem)``."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or rtype not in _MODELS:
        return None, None
    data = prune(dict(resource)) or {}
    data["resourceType"] = rtype
    try:
        return _MODELS[rtype].model_validate(data), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return None, f"{label(resource)} skipped: {where}: {first.get('msg', 'invalid')}"


def parse_all(resources: Iterable[Mapping[str, Any]]) -> tuple[list[Any], list[str]]:
    """Parse every resource; return the models and the problems of those skipped."""
    models: list[Any] = []
    problems: list[str] = []
    for resource in resources:
        model, problem = parse(resource)
        if model is not None:
            models.append(model)
        elif problem:
            problems.append(problem)
    return models, problems


def to_datetime(value: Any) -> datetime | None:
    """A FHIR date/dateTime (possibly partial, ``"2026-10"``) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        parts = value.split("-")
        try:
            year = int(parts[0])
            month = int(parts[1]) if len(parts) > 1 else 1
            return datetime(year, month, 1, tzinfo=UTC)
        except (ValueError, IndexError):
            return None
    return None


def to_date(value: Any) -> date | None:
    moment = to_datetime(value)
    return None if moment is None else moment.date()


def codings(*concepts: Any) -> list[dict[str, str | None]]:
    """The codings of CodeableConcept models (``None`` and empty ones ignored)."""
    out: list[dict[str, str | None]] = []
    for concept in concepts:
        if concept is None:
            continue
        for coding in concept.coding or ():
            out.append({"system": coding.system, "code": coding.code})
    return out


def codes_of(concept: Any) -> set[str]:
    """Plain codes of a CodeableConcept model (for status-like fields)."""
    return {c["code"] for c in codings(concept) if c["code"]}
