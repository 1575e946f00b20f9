"""Feedback as vendors send it, read into the specification's shape before it is validated.

Epic documents feedback with ``overrideReasons`` (a list) where CDS Hooks 2.0.1 has one
``overrideReason``, and, when the override reasons are configured in Epic rather than sent by
us, extension keys naming the reason. Both are read; the item keeps everything else as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EPIC_REASON_PREFIX = "com.epic.cdshooks.feedback.overrideReason."


def _reason(value: Any) -> dict[str, Any] | None:
    """An ``overrideReason`` from one ``overrideReasons`` entry: ``{reason, userComment}`` or a bare Coding."""
    if not isinstance(value, Mapping):
        return None
    if "reason" in value or "userComment" in value:
        return dict(value)
    if "code" in value:
        return {"reason": {k: value[k] for k in ("system", "code", "display") if k in value}}
    return None


def _epic_extension_reason(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """Epic-configured override reasons arrive as extension keys (category, title, display)."""
    extension = item.get("extension")
    if not isinstance(extension, Mapping):
        return None
    values = {k.removeprefix(EPIC_REASON_PREFIX): v for k, v in extension.items()
              if isinstance(k, str) and k.startswith(EPIC_REASON_PREFIX) and isinstance(v, str) and v}
    code = values.get("reasonCategory") or values.get("reasonTitle")
    if not code:
        return None
    reason: dict[str, Any] = {"code": code}
    display = values.get("reasonDisplay") or values.get("reasonTitle")
    if display:
        reason["display"] = display
    return {"reason": reason}


def normalise_item(item: Any) -> Any:
    """One feedback item with a vendor's override reason moved to ``overrideReason`` (first one wins)."""
    if not isinstance(item, Mapping) or "overrideReason" in item:
        return item
    reasons = item.get("overrideReasons")
    found = next((r for r in map(_reason, reasons) if r), None) if isinstance(reasons, list) else None
    found = found or _epic_extension_reason(item)
    return {**item, "overrideReason": found} if found else item


def normalise(body: Any) -> Any:
    """The feedback request body with every item normalised (anything malformed is left for validation)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("feedback"), list):
        return body
    return {**body, "feedback": [normalise_item(i) for i in body["feedback"]]}
