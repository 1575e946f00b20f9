"""Card memory: one card per problem per consultation, reminders at an interval (issue 15).

The rules and the card set (:mod:`service.engine`) stay pure: the same request gives the same
cards. This step runs *after* them, in the hook view (and in the dry run and the population
benchmark), with a store shared by every worker and replica (:mod:`service.storage`):

- **Order cards** (a card about a draft order): not shown again in the same consultation for
  the same draft order with the same facts, so order-sign does not repeat what order-select
  showed. Another order, or changed facts, is a new card.
- **Critical cards**: shown once per consultation; the first time in a consultation always.
- **Other cards** are treated like critical ones: once per consultation (same rule, same facts).
- **Reminders** (cards marked ``routine``: annual review, exercise, analgesic review, closer
  follow-up, sick leave, back-medicine assessment): not repeated for the same patient within
  ``REMINDER_INTERVAL_DAYS`` (or the card's own ``reminder_days``, or the site's
  ``REMINDER_INTERVAL_DAYS_BY_RULE``) unless the
  facts they used changed. When the record shows the step
  was taken, the rule itself is silent (that is in the rules, not here).

A **consultation** is the EHR's ``context.encounterId`` when the call carries one; otherwise the
same client and patient within ``CONSULTATION_HOURS`` of the card first being shown.

Nothing identifying is stored: a key is ``HMAC-SHA256(secret, client iss, patient id, rule id,
order fingerprint, facts fingerprint, scope)`` where scope is the encounter id (or "window") or
"reminder". The secret is ``LBP_CDS_MEMORY_KEY`` or a random key generated into ``DATA_DIR``
(mode 0600); entries expire after the consultation window or the reminder interval
(``docs/security.md``, "Card memory").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from .engine import TRACE_KEY, IssuedCard, Result
from .keyfiles import private_file

log = logging.getLogger(__name__)

KEY_FILE = "memory-key"
MEMORY_TRACE_KEY = "lbp-cds-memory"


class CardMemory(Protocol):
    """The storage seam (:class:`service.storage.SqliteStorage` implements it)."""

    def card_seen(self, key: str) -> bool: ...
    def remember_card(self, key: str, expires_at: float) -> None: ...


@dataclass(frozen=True)
class MemorySettings:
    secret: bytes
    consultation_hours: float = 4.0
    reminder_interval_days: float = 28.0
    #: Rule id → days, for reminders whose own rhythm differs (a yearly review): the card's, or a site's choice.
    reminder_days_by_rule: Mapping[str, float] = field(default_factory=dict)

    def reminder_days(self, rule_id: str) -> float:
        return self.reminder_days_by_rule.get(rule_id, self.reminder_interval_days)


def settings_from_config(config: Mapping[str, Any], secret: bytes,
                         reminders: Mapping[str, float | None]) -> MemorySettings:
    """The memory's settings from the app's configuration and the reminder cards.

    ``reminders`` maps each reminder (routine) rule to its card's own interval (``reminder_days``,
    a yearly review's rhythm) or ``None`` for the global one; a site's ``REMINDER_INTERVAL_DAYS_BY_RULE``
    overrides both. A per-rule interval for a rule that is not a reminder, or that is not a positive
    number of days, stops start-up (ValueError) instead of being ignored.
    """
    raw = config.get("REMINDER_INTERVAL_DAYS_BY_RULE") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ValueError(f"REMINDER_INTERVAL_DAYS_BY_RULE: not JSON ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise ValueError("REMINDER_INTERVAL_DAYS_BY_RULE: a JSON object of rule id → days")
    by_rule: dict[str, float] = {rule_id: float(days) for rule_id, days in reminders.items() if days is not None}
    for rule_id, days in raw.items():
        if rule_id not in reminders:
            raise ValueError(f"REMINDER_INTERVAL_DAYS_BY_RULE: {rule_id!r} is not a reminder (routine) rule; "
                             f"reminders: {', '.join(sorted(reminders))}")
        if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
            raise ValueError(f"REMINDER_INTERVAL_DAYS_BY_RULE: {rule_id}: days must be a positive number")
        by_rule[rule_id] = float(days)
    return MemorySettings(secret, float(config["CONSULTATION_HOURS"]), float(config["REMINDER_INTERVAL_DAYS"]),
                          by_rule)


class DictMemory:
    """An in-process store for the dry run and the benchmark (same semantics, a simulated clock)."""

    def __init__(self) -> None:
        self.entries: dict[str, float] = {}
        self.clock = 0.0

    def card_seen(self, key: str) -> bool:
        return self.entries.get(key, -1.0) >= self.clock

    def remember_card(self, key: str, expires_at: float) -> None:
        self.entries[key] = expires_at


def memory_secret(configured: str, data_dir: Path) -> bytes:
    """``LBP_CDS_MEMORY_KEY``, else the key in ``DATA_DIR/memory-key`` (made on first use, mode 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE
    text = private_file(path, lambda: secrets.token_hex(32).encode(), ready=lambda b: len(b.strip()) >= 32)
    return text.strip()


def _key(secret: bytes, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Decision:
    card: IssuedCard
    shown: bool
    reason: str = ""


def _scope(card: IssuedCard, hook: str) -> str:
    if card.routine and card.indicator != "critical":
        return "reminder"
    if card.order_fingerprint:
        return "order"
    return "critical" if card.indicator == "critical" else "card"


REASONS = {
    "reminder": "reminder already shown within {days:g} days with the same facts",
    "order": "already shown in this consultation for the same draft order with the same facts",
    "critical": "critical card already shown in this consultation with the same facts",
    "card": "already shown in this consultation with the same facts",
}


def decide(
    issued: Sequence[IssuedCard], *, hook: str, client_iss: str, patient_id: str, encounter_id: str | None,
    store: CardMemory, settings: MemorySettings, now: float,
) -> list[Decision]:
    """Which issued cards to show, remembering the shown ones. Fails open: a store error shows the card."""
    consultation = f"encounter:{encounter_id}" if encounter_id else "window"
    decisions = []
    for card in issued:
        scope = _scope(card, hook)
        days = settings.reminder_days(card.rule_id)
        if scope == "reminder":
            key = _key(settings.secret, client_iss, patient_id, card.rule_id, card.order_fingerprint,
                       card.facts_fingerprint, "reminder")
            ttl = days * 86400
        else:
            key = _key(settings.secret, client_iss, patient_id, card.rule_id, card.order_fingerprint,
                       card.facts_fingerprint, consultation)
            ttl = settings.consultation_hours * 3600
        try:
            if store.card_seen(key):
                decisions.append(Decision(card, False, REASONS[scope].format(days=days)))
                continue
            store.remember_card(key, now + ttl)
        except Exception:  # the memory must never withhold advice: a store failure shows the card
            log.warning("card memory unavailable; card %s shown", card.rule_id)
        decisions.append(Decision(card, True))
    return decisions


def apply(
    result: Result, context: Mapping[str, Any], *, hook: str, client_iss: str, store: CardMemory,
    settings: MemorySettings, now: datetime | None = None,
) -> tuple[Result, list[Decision]]:
    """The result with repeated cards removed; each removed card is listed in the trace with its reason."""
    patient = str(context.get("patientId") or "")
    encounter = context.get("encounterId")
    decisions = decide(result.issued, hook=hook, client_iss=client_iss, patient_id=patient,
                       encounter_id=str(encounter) if encounter else None, store=store, settings=settings,
                       now=(now.timestamp() if now is not None else time.time()))
    hidden = {d.card.uuid: d for d in decisions if not d.shown}
    if not hidden:
        return result, decisions
    response = dict(result.response)
    response["cards"] = [c for c in response["cards"] if c.get("uuid") not in hidden]
    extension = dict(response.get("extension") or {})
    if TRACE_KEY in extension:
        trace = [dict(entry) for entry in extension[TRACE_KEY]]
        for entry in trace:
            reasons = [d.reason for d in hidden.values() if d.card.rule_id == entry["rule"]]
            if reasons:
                entry["suppressed"] = "; ".join(dict.fromkeys(reasons))
        extension[TRACE_KEY] = trace
        extension[MEMORY_TRACE_KEY] = [{"rule": d.card.rule_id, "suppressed": d.reason} for d in hidden.values()]
        response["extension"] = extension
    issued = tuple(c for c in result.issued if c.uuid not in hidden)
    return replace(result, response=response, issued=issued), decisions
