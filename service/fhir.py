"""The one module that knows which FHIR models parse our R4 input.

``fhir.resources`` has no R4 package since 7.0; its R4B models parse the R4 resources we
read (Patient, Condition, Observation, MedicationRequest, ServiceRequest, Procedure,
Encounter). Should that change, this file is the only one to touch.

Resources are parsed one by one: a bad resource is reported and skipped, never the
whole request. Before parsing, empty values (``null``, ``""``, ``[]``, ``{}``) are
dropped, because real clients send them (the CDS Hooks sandbox drafts an order with
``coding: [{}]`` and ``reasonCode: []``) and they carry no information. A single object
where R4 says a list (the sandbox's and Epic's ``MedicationRequest.category``, the
sandbox's ``reasonCode``) is wrapped in a list, at any depth, and each such repair is
reported like a zone-less time: lenient in what we read, never silent about it.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
        "Medication",
    }
)
#: Where a date or time without a zone was recorded: Danish local time (the data contract).
LOCAL_ZONE = ZoneInfo("Europe/Copenhagen")
_ZONELESS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$")

_MODELS = {name: get_fhir_model_class(name) for name in READ_TYPES}
#: Element fields (per FHIR type name) that R4 makes lists, and the FHIR type of each element field.
_SHAPES: dict[str, tuple[frozenset[str], dict[str, str]]] = {}


def _fhir_type(annotation: Any) -> tuple[bool, str | None]:
    """``(is_list, FHIR type name)`` of a field annotation: ``List[CodeableConceptType]`` → list of CodeableConcept."""
    is_list = False
    while True:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(annotation)
        if origin in (list, typing.List):  # noqa: UP006  (the models use typing.List)
            is_list = True
        if not args or origin is typing.Annotated:
            break
        annotation = args[0]
    name = getattr(annotation, "__name__", "")
    return is_list, (name.removesuffix("Type") if name.endswith("Type") and name != "ResourceType" else None)


def _shape(type_name: str) -> tuple[frozenset[str], dict[str, str]]:
    """Which fields of ``type_name`` are lists and which hold other elements (cached per type)."""
    if type_name not in _SHAPES:
        lists: set[str] = set()
        children: dict[str, str] = {}
        try:
            model = get_fhir_model_class(type_name)
        except (KeyError, ValueError):
            _SHAPES[type_name] = (frozenset(), {})
            return _SHAPES[type_name]
        for name, info in model.model_fields.items():
            is_list, child = _fhir_type(info.annotation)
            key = info.alias or name
            if is_list:
                lists.add(key)
            if child and child not in ("Extension", "Resource", "Element"):
                children[key] = child
        _SHAPES[type_name] = (frozenset(lists), children)
    return _SHAPES[type_name]


def wrap_lists(value: Any, type_name: str, repairs: list[str], path: str = "") -> Any:
    """Wrap a single object in a list where ``type_name`` says the field is a list, at any depth.

    Only objects are wrapped (``category: {...}`` → ``category: [{...}]``); a string where an
    object belongs is left for the parser to refuse. Each repair appends its path.
    """
    if not isinstance(value, dict):
        return value
    lists, children = _shape(type_name)
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key in lists and isinstance(item, dict):
            repairs.append(where)
            item = [item]
        child = children.get(key)
        if child is not None:
            if isinstance(item, list):
                item = [wrap_lists(v, child, repairs, f"{where}[{i}]") for i, v in enumerate(item)]
            else:
                item = wrap_lists(item, child, repairs, where)
        out[key] = item
    return out


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


def localise(value: Any, repairs: list[str], path: str = "") -> Any:
    """Give every zone-less ``dateTime`` the Danish offset of that local time, noting each repair.

    FHIR requires a zone on a time; Danish EHRs sometimes omit it. Reading it as UTC would
    shift it by one or two hours, dropping it would lose the finding, so it is read as
    Europe/Copenhagen local time (summer time included) and the repair is reported.
    """
    if isinstance(value, dict):
        return {k: localise(v, repairs, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [localise(v, repairs, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and _ZONELESS.match(value):
        local = datetime.fromisoformat(value).replace(tzinfo=LOCAL_ZONE)
        repairs.append(path)
        return local.isoformat()
    return value


@dataclass(frozen=True)
class Parsed:
    """One resource parsed: the model (or ``None``), why it was skipped, what was repaired."""

    model: Any | None
    problem: str | None = None
    repairs: tuple[str, ...] = ()


def parse_one(resource: Mapping[str, Any]) -> Parsed:
    """Parse one raw resource; unknown types give an empty :class:`Parsed` (not read, not an error)."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or rtype not in _MODELS:
        return Parsed(None)
    repairs: list[str] = []
    wrapped: list[str] = []
    data = localise(wrap_lists(prune(dict(resource)) or {}, rtype, wrapped), repairs)
    data["resourceType"] = rtype
    try:
        model = _MODELS[rtype].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return Parsed(None, f"{label(resource)} skipped: {where}: {first.get('msg', 'invalid')}")
    notes = tuple(
        f"{label(resource)}: {path} is a single object where FHIR R4 requires a list; read as a list of one"
        for path in wrapped
    ) + tuple(
        f"{label(resource)}: {path} has a time without a time zone; read as Danish local time (Europe/Copenhagen)"
        for path in repairs
    )
    return Parsed(model, None, notes)


def parse(resource: Mapping[str, Any]) -> tuple[Any | None, str | None]:
    """Parse one raw resource: ``(model, None)``, ``(None, None)`` if not read, or ``(None, problem)``."""
    parsed = parse_one(resource)
    return parsed.model, parsed.problem


def parse_all(resources: Iterable[Mapping[str, Any]]) -> tuple[list[Any], list[str]]:
    """Parse every resource; return the models and the problems (skipped or repaired)."""
    models: list[Any] = []
    problems: list[str] = []
    for resource in resources:
        parsed = parse_one(resource)
        if parsed.model is not None:
            models.append(parsed.model)
        elif parsed.problem:
            problems.append(parsed.problem)
        problems += parsed.repairs
    return models, problems


def to_moment(value: Any) -> tuple[datetime, datetime, str] | None:
    """A FHIR date/dateTime as ``(earliest, latest, precision)``; a partial date is a range.

    ``"2026-09"`` is any time in September (precision ``month``); a date without a time is
    that Danish calendar day. Nothing is invented: the caller sees how much is known.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=LOCAL_ZONE)
        return moment, moment, "instant"
    if isinstance(value, date):
        start = datetime(value.year, value.month, value.day, tzinfo=LOCAL_ZONE)
        return start, start + timedelta(days=1) - timedelta(microseconds=1), "day"
    if isinstance(value, str):
        parts = value.split("-")
        try:
            year = int(parts[0])
            if len(parts) > 1:
                month = int(parts[1])
                start = datetime(year, month, 1, tzinfo=LOCAL_ZONE)
                following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LOCAL_ZONE)
                return start, following - timedelta(microseconds=1), "month"
            start = datetime(year, 1, 1, tzinfo=LOCAL_ZONE)
            return start, datetime(year + 1, 1, 1, tzinfo=LOCAL_ZONE) - timedelta(microseconds=1), "year"
        except (ValueError, IndexError):
            return None
    return None


def to_datetime(value: Any) -> datetime | None:
    """The earliest instant a FHIR date/dateTime may mean (partial dates: their first day)."""
    moment = to_moment(value)
    return None if moment is None else moment[0]


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
