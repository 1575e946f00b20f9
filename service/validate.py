"""Request validation against the JSON Schemas in ``service/schemas/``.

The schemas are loaded and compiled once (at app start-up); validation reports every
problem with its JSON path, so a caller can fix the request in one round trip.

Formats are checked by exactly the checkers the schemas use (``date-time`` by
``rfc3339-validator``, ``uri`` by ``rfc3986-validator``, ``uuid`` built in), not by the
``format-nongpl`` extra: that pulls in ``rfc3987-syntax``, which builds a grammar at import
time (about 2 s of every start-up) for formats no schema names. A format with no checker
would pass silently, so start-up refuses a schema naming one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Validators:
    """Compiled validators: one per hook, one for feedback."""

    hooks: Mapping[str, Draft202012Validator]
    feedback: Draft202012Validator

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
        for hook in HOOKS:
            schema = {**request_doc, "$ref": f"#/$defs/{hook}"}
            hooks[hook] = Draft202012Validator(schema, format_checker=checker)
        Draft202012Validator.check_schema(feedback_doc)
        return cls(hooks, Draft202012Validator(feedback_doc, format_checker=checker))

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
