"""EHR profiles: the same advice, shaped for what each CDS client can show and apply.

Rules never change for a profile; only the response does, after the engine (:func:`shape`).
A client's profile is the ``profile`` key of its ``LBP_CDS_CLIENTS`` entry (``LBP_CDS_DEFAULT_PROFILE``
for the development client). The profiles and where their limits come from:

- ``generic``: the CDS Hooks 2.0.1 specification as written; the response is not changed.
- ``epic``: Epic's documented limits (its CDS Hooks tutorial): ``selectionBehavior`` ``any``;
  one action per suggestion (a delete+create suggestion becomes a delete and a create, the
  delete kept once per card); ``source.topic.code`` letters and digits only (the rule id without
  dashes, mapped back by :func:`rule_for_topic`).
- ``sandbox``: the official CDS Hooks sandbox. Its imaging (PAMA) screen applies only ``update``
  system actions carrying the Argonaut ``pama-rating`` extension, read from
  ``extension.systemActions``; so each rated imaging card adds an ``update`` of its draft
  ServiceRequest with our rating (``cards/_meta/profiles.json``), in ``systemActions`` (the
  specification's place) and in ``extension.systemActions`` (the sandbox's). It cannot delete or
  create an imaging order, so such suggestions are offered but marked not applicable (feedback
  that "accepts" them did not change the order).
- ``patient-view-only``: Oracle Health (Cerner) supports only ``patient-view``; the order services
  are neither listed nor answered for it.

:func:`offered` says, per suggestion, which actions it carries and whether this client can apply
them; storage records that with the issued card, so feedback stays honest.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

GENERIC, EPIC, SANDBOX, PATIENT_VIEW_ONLY = "generic", "epic", "sandbox", "patient-view-only"
PROFILES = frozenset({GENERIC, EPIC, SANDBOX, PATIENT_VIEW_ONLY})
#: Hooks a profile's client can call; ``None`` = every hook we offer.
HOOKS: Mapping[str, frozenset[str] | None] = {
    GENERIC: None, EPIC: None, SANDBOX: None, PATIENT_VIEW_ONLY: frozenset({"patient-view"}),
}
RULE_EXTENSION = "dk.lbp-cds.rule"
PAMA_RATING_URL = "http://fhir.org/argonaut/Extension/pama-rating"
PAMA_RATING_SYSTEM = "http://fhir.org/argonaut/CodeSystem/pama-rating"
PAMA_RATINGS = frozenset({"appropriate", "not-appropriate", "no-guidelines-apply"})
EPIC_TOPIC_MAX = 100
_SPLIT_NAMESPACE = uuid.UUID("0f2c8a53-6f0e-4b7e-9c61-3a1d5e2b9f40")
_ALNUM = re.compile(r"^[A-Za-z0-9]+$")
DATA_FILE = Path(__file__).resolve().parent.parent / "cards" / "_meta" / "profiles.json"


class ProfileError(Exception):
    """An unknown profile name or a malformed ``cards/_meta/profiles.json`` (start-up stops)."""


def check_profile(name: str, where: str) -> str:
    """``name`` if it is a profile we know; else :class:`ProfileError` naming ``where`` and the choices."""
    if name not in PROFILES:
        raise ProfileError(f"{where}: unknown profile {name!r}; use one of {sorted(PROFILES)}")
    return name


def offers(profile: str, hook: str) -> bool:
    """Whether a client with ``profile`` can use a service for ``hook`` (discovery lists only these)."""
    hooks = HOOKS.get(profile)
    return hooks is None or hook in hooks


def _load_ratings(path: Path = DATA_FILE) -> Mapping[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{path.name}: cannot read: {exc}") from exc
    ratings = data.get("sandbox", {}).get("pamaRating", {}) if isinstance(data, dict) else {}
    bad = sorted(k for k, v in ratings.items() if v not in PAMA_RATINGS)
    if not isinstance(ratings, dict) or bad:
        raise ProfileError(f"{path.name}: sandbox.pamaRating: ratings must be one of {sorted(PAMA_RATINGS)} ({bad})")
    return dict(ratings)


#: Rule id → Argonaut PAMA rating of the imaging order the card is about (sandbox profile).
PAMA_RATING_OF_RULE: Mapping[str, str] = _load_ratings()


# -- Epic topic codes ----------------------------------------------------------------------------


def topic_code(rule_id: str) -> str:
    """Epic's alphanumeric ``source.topic.code`` for a rule: ``IMG-NOT-INDICATED`` → ``IMGNOTINDICATED``."""
    return re.sub(r"[^A-Za-z0-9]", "", rule_id)[:EPIC_TOPIC_MAX]


def topic_map(rule_ids: Iterable[str]) -> dict[str, str]:
    """Topic code → rule id for every rule, built once from the knowledge base; a clash stops start-up."""
    out: dict[str, str] = {}
    for rule_id in rule_ids:
        code = topic_code(rule_id)
        if code in out and out[code] != rule_id:
            raise ProfileError(f"rules {out[code]} and {rule_id} have the same Epic topic code {code}")
        out[code] = rule_id
    return out


def check_knowledge(rule_ids: Iterable[str]) -> dict[str, str]:
    """At start-up: Epic topic codes are unique and every rated rule exists; the topic map is returned."""
    ids = list(rule_ids)
    unknown = sorted(set(PAMA_RATING_OF_RULE) - set(ids))
    if unknown:
        raise ProfileError(f"{DATA_FILE.name}: sandbox.pamaRating names unknown rule(s) {unknown}")
    return topic_map(ids)


def rule_for_topic(code: str, topics: Mapping[str, str]) -> str | None:
    """The rule id behind a topic code as we send it to any profile (rule id or its Epic form)."""
    return code if code in topics.values() else topics.get(code)


# -- shaping ---------------------------------------------------------------------------------------


def _rule(card: Mapping[str, Any]) -> Mapping[str, Any]:
    rule: Mapping[str, Any] = (card.get("extension") or {}).get(RULE_EXTENSION) or {}
    return rule


def _split_uuid(suggestion_uuid: str, index: int) -> str:
    """The first action keeps the suggestion's uuid; the others get a stable one derived from it."""
    return suggestion_uuid if index == 0 else str(uuid.uuid5(_SPLIT_NAMESPACE, f"{suggestion_uuid}|{index}"))


def _action_key(action: Mapping[str, Any]) -> str:
    return json.dumps(action, sort_keys=True, ensure_ascii=False)


def _epic_card(card: dict[str, Any]) -> dict[str, Any]:
    topic = (card.get("source") or {}).get("topic")
    if isinstance(topic, dict) and isinstance(topic.get("code"), str):
        topic["code"] = topic_code(topic["code"])
    suggestions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for suggestion in card.get("suggestions", ()):
        for index, action in enumerate(suggestion.get("actions", ())):
            key = _action_key({k: v for k, v in action.items() if k != "description"})
            if key in seen:
                continue  # "remove the order" once, not once per alternative
            seen.add(key)
            single: dict[str, Any] = {
                "label": suggestion["label"] if index == 0 else action.get("description", suggestion["label"]),
                "uuid": _split_uuid(str(suggestion["uuid"]), index),
                "actions": [action],
            }
            if index == 0 and "isRecommended" in suggestion:
                single["isRecommended"] = suggestion["isRecommended"]
            suggestions.append(single)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def _draft(context: Mapping[str, Any] | None, ref: str) -> dict[str, Any] | None:
    bundle = (context or {}).get("draftOrders") or {}
    for entry in bundle.get("entry") or () if isinstance(bundle, dict) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and f"{resource.get('resourceType')}/{resource.get('id')}" == ref:
            return resource
    return None


def _rating_action(card: Mapping[str, Any], context: Mapping[str, Any] | None) -> dict[str, Any] | None:
    rule = _rule(card)
    rating = PAMA_RATING_OF_RULE.get(str(rule.get("ruleId")))
    ref = str(rule.get("orderRef") or "")
    draft = _draft(context, ref) if rating and ref.startswith("ServiceRequest/") else None
    if draft is None or rating is None:
        return None
    resource = copy.deepcopy(draft)
    resource["extension"] = [e for e in resource.get("extension") or () if e.get("url") != PAMA_RATING_URL] + [
        {"url": PAMA_RATING_URL, "valueCodeableConcept": {"coding": [{"system": PAMA_RATING_SYSTEM, "code": rating}]}}
    ]
    return {"type": "update", "description": f"{rule.get('ruleId')}: {rating}", "resource": resource}


def shape(response: Mapping[str, Any], profile: str, hook: str,
          context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The engine's ``response`` as ``profile``'s client needs it (a new dict; the input is not changed).

    ``context`` is the hook request's context: the sandbox profile updates its draft orders.
    """
    out: dict[str, Any] = copy.deepcopy(dict(response))
    if profile == EPIC:
        out["cards"] = [_epic_card(card) for card in out.get("cards", ())]
    elif profile == SANDBOX and hook in ("order-select", "order-sign"):
        actions = [a for a in (_rating_action(c, context) for c in out.get("cards", ())) if a is not None]
        if actions:
            out["systemActions"] = actions
            out.setdefault("extension", {})["systemActions"] = copy.deepcopy(actions)
    return out


# -- what a client can apply -------------------------------------------------------------------------


def _target_type(action: Mapping[str, Any]) -> str:
    resource = action.get("resource")
    if isinstance(resource, Mapping):
        return str(resource.get("resourceType", ""))
    return str(action.get("resourceId", "")).split("/", 1)[0]


def applicable(profile: str, action: Mapping[str, Any]) -> bool:
    """Whether ``profile``'s client applies ``action`` when the user accepts it.

    Only the sandbox is known not to: its medication screen applies create/update/delete of a
    MedicationRequest, its imaging and patient screens apply no suggestion at all.
    """
    if profile == SANDBOX:
        return _target_type(action) == "MedicationRequest"
    return True


def offered(response: Mapping[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    """Suggestion uuid → ``{"card", "actions" (types), "applicable"}`` for every card in ``response``."""
    out: dict[str, dict[str, Any]] = {}
    for card in response.get("cards", ()):
        for suggestion in card.get("suggestions", ()):
            actions = list(suggestion.get("actions", ()))
            out[str(suggestion["uuid"])] = {
                "card": str(card.get("uuid")),
                "actions": [str(a.get("type")) for a in actions],
                "applicable": all(applicable(profile, a) for a in actions),
            }
    return out


# -- checking a response against a profile's limits ------------------------------------------------


def violations(response: Mapping[str, Any], profile: str, hook: str) -> list[str]:
    """What in ``response`` breaks ``profile``'s documented limits (empty when it keeps them)."""
    problems: list[str] = []
    if not offers(profile, hook):
        problems.append(f"{profile} clients cannot call {hook}")
    for card in response.get("cards", ()):
        name = _rule(card).get("ruleId", card.get("summary", "?"))
        if profile == EPIC:
            if card.get("suggestions") and card.get("selectionBehavior") != "any":
                problems.append(f"{name}: selectionBehavior must be 'any' for Epic")
            for suggestion in card.get("suggestions", ()):
                if len(suggestion.get("actions", ())) != 1:
                    problems.append(f"{name}: suggestion {suggestion.get('label')!r} must have exactly one action")
            code = ((card.get("source") or {}).get("topic") or {}).get("code")
            if code is not None and not (_ALNUM.match(str(code)) and len(str(code)) <= EPIC_TOPIC_MAX):
                problems.append(f"{name}: source.topic.code {code!r} must be letters and digits, at most 100")
    if profile == SANDBOX and hook in ("order-select", "order-sign"):
        actions = list(response.get("systemActions", ()))
        if actions != list((response.get("extension") or {}).get("systemActions", ())):
            problems.append("systemActions must also be in extension.systemActions (the sandbox reads only that)")
        for action in actions:
            extensions = (action.get("resource") or {}).get("extension") or ()
            ratings = [e for e in extensions if e.get("url") == PAMA_RATING_URL]
            if action.get("type") != "update" or len(ratings) != 1:
                problems.append("a sandbox system action must be an update carrying one pama-rating extension")
        for card in response.get("cards", ()):
            rule = _rule(card)
            if rule.get("ruleId") in PAMA_RATING_OF_RULE and str(rule.get("orderRef", "")).startswith(
                    "ServiceRequest/") and "#" not in str(rule.get("orderRef")):
                if not any(f"{a['resource'].get('resourceType')}/{a['resource'].get('id')}" == rule["orderRef"]
                           for a in actions):
                    problems.append(f"{rule['ruleId']}: no rating update for {rule['orderRef']}")
    return problems
