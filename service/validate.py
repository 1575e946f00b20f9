"""Request validation against the JSON Schemas in ``service/schemas/``.

The schemas are loaded and compiled once (at app start-up); validation reports every
problem with its JSON path, so a caller can fix the request in one round trip.

Formats are checked by exactly the checkers the schemas use (``date-time`` by
``rfc3339-validator``, ``uri`` by ``rfc3986-validator``, ``uuid`` built in), not by the
``format-nongpl`` extra: that pulls in ``rfc3987-syntax``, which builds a grammar at import
time (about 2 s of every start-up) for formats no schema names. A format with no checker
would pass silently, so start-up refuses a schema naming one.

A hook request is first checked by a plain-Python predicate compiled from the same schema
(:func:`compile_check`, the keywords the request schema uses): a valid request, nearly every
call, then costs about a tenth of jsonschema's walk. Only when the predicate says no does
jsonschema run, so a 400 lists exactly jsonschema's messages. The predicate is never the last
word on a request it rejects, so it may only err towards "no"; tests/test_validate_fast.py
holds it to jsonschema's verdict on every request the tests and scenarios send and on mutations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .errors import BadRequest

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
HOOKS = ("patient-view", "order-select", "order-sign")
#: Every ``format`` in service/schemas/*.json; each must have a checker installed (pyproject.toml).
FORMATS = ("date-time", "uri", "uuid")


def format_checker(formats: tuple[str, ...] = FORMATS) -> FormatChecker:
    """A checker of just ``formats``; raises if a checker's library is missing (it would pass anything)."""
    missing = sorted(set(formats) - set(FormatChecker.checkers))
    if missing:
        raise RuntimeError(f"no format checker installed for {', '.join(missing)} (see service/validate.py)")
    return FormatChecker(formats)


def formats_in(schema: Any) -> set[str]:
    """The ``format`` values a schema uses, anywhere in it."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("format"), str):
                found.add(item["format"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _path(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _message(error: ValidationError) -> str:
    # For a nested schema (allOf/anyOf) the innermost errors name the real problem.
    leaf = min(error.context, key=lambda e: len(e.absolute_path), default=None) if error.context else None
    best = leaf or error
    text = best.message
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{_path(best)}: {text}"


Check = Callable[[Any], bool]


class NotCompiled(ValueError):
    """The schema uses a keyword :func:`compile_check` does not implement: use jsonschema alone."""


#: Keywords that only annotate (no effect on validity).
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment"})
_TYPES: dict[str, Check] = {
    "object": lambda v: v.__class__ is dict,
    "array": lambda v: v.__class__ is list,
    "string": lambda v: v.__class__ is str,
    "null": lambda v: v is None,
    "boolean": lambda v: v.__class__ is bool,
    "integer": lambda v: v.__class__ is int or (v.__class__ is float and v.is_integer()),
    "number": lambda v: v.__class__ is int or v.__class__ is float,
}


def compile_check(schema: Mapping[str, Any], root: Mapping[str, Any], checker: FormatChecker) -> Check:
    """A predicate that is true only for instances ``schema`` accepts (draft 2020-12, one document).

    Implements the keywords the hook-request schema uses, with jsonschema's meaning of each; any
    other keyword raises :class:`NotCompiled`. ``$ref`` is resolved within ``root`` (``#/$defs/...``).
    """
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "additionalProperties":  # its meaning depends on the sibling "properties"
            checks.append(_additional(value, frozenset(schema.get("properties", ())), root, checker))
            continue
        checks.append(_keyword(keyword, value, root, checker))
    if not checks:
        return lambda _v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def _keyword(keyword: str, value: Any, root: Mapping[str, Any], checker: FormatChecker) -> Check:
    """The predicate of one keyword (each applies only to the instance types it names, as in JSON Schema)."""
    if keyword == "$ref":
        if not isinstance(value, str) or not value.startswith("#/$defs/"):
            raise NotCompiled(f"$ref {value!r}")
        resolved: list[Check] = []  # filled on first use: definitions may refer to each other

        def ref(v: Any, name: str = value.removeprefix("#/$defs/")) -> bool:
            if not resolved:
                resolved.append(compile_check(root["$defs"][name], root, checker))
            return resolved[0](v)
        return ref
    if keyword == "type":
        names = [value] if isinstance(value, str) else list(value)
        if any(n not in _TYPES for n in names):
            raise NotCompiled(f"type {value!r}")
        tests = [_TYPES[n] for n in names]
        return tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests))
    if keyword == "const":
        if value is not None and not isinstance(value, str):
            raise NotCompiled("const of a non-string")  # jsonschema's equality differs from == for bool/int
        return lambda v: v is None if value is None else (v.__class__ is str and v == value)
    if keyword == "required":
        required = tuple(value)
        return lambda v: v.__class__ is not dict or all(n in v for n in required)
    if keyword == "properties":
        props = {name: compile_check(sub, root, checker) for name, sub in value.items()}
        return lambda v: v.__class__ is not dict or all(check(v[n]) for n, check in props.items() if n in v)
    if keyword == "items":
        item = compile_check(value, root, checker)
        return lambda v: v.__class__ is not list or all(item(i) for i in v)
    if keyword == "allOf":
        parts = [compile_check(sub, root, checker) for sub in value]
        return lambda v: all(part(v) for part in parts)
    if keyword == "dependentRequired":
        deps = {name: tuple(needed) for name, needed in value.items()}
        return lambda v: v.__class__ is not dict or all(all(n in v for n in needed)
                                                        for name, needed in deps.items() if name in v)
    if keyword == "pattern":
        search = re.compile(value).search
        return lambda v: v.__class__ is not str or search(v) is not None
    if keyword == "minLength":
        return lambda v: v.__class__ is not str or len(v) >= value
    if keyword == "maxLength":
        return lambda v: v.__class__ is not str or len(v) <= value
    if keyword == "minimum":
        return lambda v: v.__class__ not in (int, float) or v >= value
    if keyword == "format":
        return lambda v: checker.conforms(v, value)
    raise NotCompiled(keyword)


def _additional(value: Any, known: frozenset[str], root: Mapping[str, Any], checker: FormatChecker) -> Check:
    """``additionalProperties``: members not named in the sibling ``properties`` (no patternProperties here)."""
    if not isinstance(value, dict):
        raise NotCompiled("additionalProperties: a boolean")
    other = compile_check(value, root, checker)
    return lambda v: v.__class__ is not dict or all(other(m) for n, m in v.items() if n not in known)


@dataclass(frozen=True)
class Validators:
    """Compiled validators: one per hook, one for feedback."""

    hooks: Mapping[str, Draft202012Validator]
    feedback: Draft202012Validator
    #: Per hook, a fast predicate true only for requests jsonschema accepts (absent: jsonschema alone).
    fast: Mapping[str, Check] = field(default_factory=dict)

    @classmethod
    def load(cls, schema_dir: Path = SCHEMA_DIR) -> Validators:
        request_doc = json.loads((schema_dir / "hook-request.schema.json").read_text(encoding="utf-8"))
        feedback_doc = json.loads((schema_dir / "feedback.schema.json").read_text(encoding="utf-8"))
        unknown = (formats_in(request_doc) | formats_in(feedback_doc)) - set(FORMATS)
        if unknown:
            raise RuntimeError(f"schema format(s) {sorted(unknown)} have no checker; add them to validate.FORMATS")
        checker = format_checker()
        Draft202012Validator.check_schema(request_doc)  # once: each hook's schema only adds a $ref into it
        hooks = {}
        fast = {}
        for hook in HOOKS:
            schema = {**request_doc, "$ref": f"#/$defs/{hook}"}
            hooks[hook] = Draft202012Validator(schema, format_checker=checker)
            try:
                fast[hook] = compile_check(schema, schema, checker)
            except NotCompiled:  # a keyword added to the schema later: jsonschema alone, as before
                pass
        Draft202012Validator.check_schema(feedback_doc)
        return cls(hooks, Draft202012Validator(feedback_doc, format_checker=checker), fast)

    def hook_request(self, hook: str, body: Any, max_draft_orders: int | None = None) -> Mapping[str, Any]:
        """Validate a hook call for the service's ``hook``; raise BadRequest listing every problem.

        ``max_draft_orders`` is checked first: every order costs a pass of every order rule
        and possibly a card, so the count is capped before any of that work is done.
        """
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object (a CDS Hooks request).")
        if isinstance(body.get("hook"), str) and body["hook"] != hook:
            raise BadRequest(f"This service answers the '{hook}' hook, but the request is for '{body['hook']}'.")
        if max_draft_orders is not None:
            orders = _draft_order_count(body)
            if orders > max_draft_orders:
                raise BadRequest(
                    f"$.context.draftOrders: {orders} draft orders; this service checks at most {max_draft_orders} "
                    "per request. Send them in smaller groups."
                )
        fast = self.fast.get(hook)
        if fast is None or not fast(body):
            _raise_all(self.hooks[hook], body, "The CDS Hooks request is not valid")
        return body

    def feedback_request(self, body: Any) -> Mapping[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("The feedback body must be a JSON object with a 'feedback' array.")
        _raise_all(self.feedback, body, "The feedback request is not valid")
        return body


def _draft_order_count(body: Mapping[str, Any]) -> int:
    context = body.get("context")
    orders = context.get("draftOrders") if isinstance(context, dict) else None
    entries = orders.get("entry") if isinstance(orders, dict) else None
    return len(entries) if isinstance(entries, list) else 0


def _raise_all(validator: Draft202012Validator, body: Any, what: str) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        details = [_message(e) for e in errors]
        raise BadRequest(f"{what}: {details[0]}", details=details[1:])
