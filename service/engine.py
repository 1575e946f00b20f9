"""One hook request in, one CDS Hooks response out — with no web framework in sight.

``evaluate_request`` is the whole pipeline (data → record → rules → cards) and is what
both the HTTP view and ``python -m service evaluate`` call, so they cannot disagree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .cardset import card_set, indicator
from .errors import PreconditionFailed
from .facts import ConceptLookup, build_record
from .knowledge import INDICATOR_RANK, KnowledgeBase, RuleCard
from .prefetch import INCOMPLETE, FetchSettings, FhirSource, PrefetchUnavailable, gather
from .record import DraftOrder, PatientRecord
from .registry import DATA_CATEGORIES, CdsService
from .render import Renderer
from .rules.base import Finding

log = logging.getLogger(__name__)

EXPLAIN_KEY = "lbp-cds-explain"
TRACE_KEY = "lbp-cds-trace"
PROBLEMS_KEY = "lbp-cds-data-problems"
OK_STATUSES = {"prefetched", "fetched", "no-data"}


@dataclass(frozen=True)
class Options:
    """How to evaluate: language, explain, noise cap, FHIR fallback limits, links."""

    language: str = "da"
    explain: bool = False
    max_cards_patient_view: int = 3
    #: Most cards in any response (many draft orders x rules): the rest are in the trace.
    max_cards: int = 20
    fetch: FetchSettings = field(default_factory=FetchSettings)
    base_url: str = ""
    #: Re-raise a rule's exception (tests, debugging) instead of reporting it.
    strict: bool = False


@dataclass(frozen=True)
class IssuedCard:
    """What is stored about each card sent, so feedback can be traced to a rule version."""

    uuid: str
    rule_id: str
    rule_version: str
    #: The uuids of the card's suggestions: feedback may accept only these.
    suggestions: tuple[str, ...] = ()
    #: What the card memory (service/memory.py) needs to tell a repeat: how urgent, whether it is a
    #: routine reminder, the draft order it speaks for (a fingerprint, no ids) and the facts it used.
    indicator: str = "info"
    routine: bool = False
    order_fingerprint: str = ""
    facts_fingerprint: str = ""


@dataclass(frozen=True)
class Result:
    response: dict[str, Any]
    issued: tuple[IssuedCard, ...]
    #: What became of each prefetch key (service.prefetch.KeyResult.status), for service.metrics.
    fetch_statuses: Mapping[str, str] = field(default_factory=dict)
    #: The FHIR fallback was stopped by the call's deadline (service.metrics counts it).
    deadline_reached: bool = False
    #: Resources parsed into models, and those left unparsed because no rule could use them.
    parsed: int = 0
    skipped: int = 0


def _run_rule(rule: RuleCard, record: PatientRecord, strict: bool) -> tuple[list[Finding], str | None]:
    try:
        return list(rule.fn(record, rule.params)), None
    except Exception:  # a rule bug must not take the other rules' advice down with it
        if strict:
            raise
        log.exception("rule %s failed", rule.id)
        return [], f"Rule {rule.id} could not be evaluated (internal error); its advice is missing."


def _trace_entry(rule: RuleCard, findings: list[Finding], error: str | None, renderer: Renderer) -> dict[str, Any]:
    entry: dict[str, Any] = {"rule": rule.id, "version": rule.version, "fired": any(f.fired for f in findings)}
    if error:
        entry["error"] = error
    facts = [
        {
            **({"order": f.order_ref} if f.order_ref else {}),
            **({"nearMiss": True} if not f.fired else {}),
            "facts": {k: renderer.value(v) for k, v in f.facts.items()},
            **(
                {"redFlags": {"found": list(f.screen.found), "absent": list(f.screen.absent),
                              "notDocumented": list(f.screen.missing)}}
                if f.screen else {}
            ),
        }
        for f in findings
    ]
    if facts:
        entry["findings"] = facts
    return entry


def evaluate_record(
    record: PatientRecord, hook: str, kb: KnowledgeBase, hook_instance: str, options: Options
) -> tuple[list[dict[str, Any]], list[IssuedCard], list[dict[str, Any]], list[str]]:
    """Run the hook's rules over ``record``: cards, what was issued, the trace, problems."""
    renderer = Renderer(kb, options.language, options.base_url)
    fired: list[tuple[RuleCard, Finding]] = []
    trace: list[dict[str, Any]] = []
    problems: list[str] = []
    ran: list[tuple[RuleCard, list[Finding]]] = []
    for rule in kb.for_hook(hook):
        findings, error = _run_rule(rule, record, options.strict)
        ran.append((rule, findings))
        if error:
            problems.append(error)
        trace.append(_trace_entry(rule, findings, error, renderer))
        fired += [(rule, f) for f in findings if f.fired]
    fired.sort(key=lambda rf: (INDICATOR_RANK[rf[1].indicator or rf[0].indicator], rf[0].priority,
                               rf[0].id, rf[1].order_ref or ""))
    fired, set_reasons = card_set(fired)
    for entry in trace:
        if entry["rule"] in set_reasons:
            entry["suppressed"] = set_reasons[entry["rule"]]
    if hook == "patient-view" and len(fired) > options.max_cards_patient_view:
        hidden = {rule.id for rule, _ in fired[options.max_cards_patient_view:]}
        for entry in trace:
            if entry["rule"] in hidden:
                entry["suppressed"] = f"noise limit: at most {options.max_cards_patient_view} cards"
        fired = fired[: options.max_cards_patient_view]
    if len(fired) > options.max_cards:
        hidden_findings = {id(finding) for _, finding in fired[options.max_cards:]}
        for entry, (_, findings) in zip(trace, ran, strict=True):
            if any(id(f) in hidden_findings for f in findings):
                entry["suppressed"] = f"response limit: at most {options.max_cards} cards"
        problems.append(
            f"{len(fired) - options.max_cards} further card(s) not shown: at most {options.max_cards} cards per "
            "response, the most urgent first; the rule trace (lbp-cds-explain) lists every rule that fired."
        )
        fired = fired[: options.max_cards]
    cards = [renderer.card(rule, finding, record, hook_instance) for rule, finding in fired]
    orders = {o.ref: o for o in record.draft_orders}
    issued = [IssuedCard(c["uuid"], rule.id, rule.version, tuple(s["uuid"] for s in c.get("suggestions", ())),
                         indicator=indicator(rule, finding), routine=rule.routine,
                         order_fingerprint=order_fingerprint(orders.get(finding.order_ref or "")),
                         facts_fingerprint=facts_fingerprint(finding))
              for c, (rule, finding) in zip(cards, fired, strict=True)]
    return cards, issued, trace, problems


#: Facts that change with the clock alone (durations, age): a card is not "new" because a week passed.
CLOCK_FACTS = frozenset({"weeks", "age", "days"})


def _stable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _stable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_stable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(_stable(value), sort_keys=True).encode()).hexdigest()[:32]


def facts_fingerprint(finding: Finding) -> str:
    """A digest of what the card says about the record: facts (not the clock), variant, urgency, red flags."""
    screen = finding.screen
    return _digest({
        "facts": {k: v for k, v in finding.facts.items() if k not in CLOCK_FACTS},
        "variant": finding.variant, "indicator": finding.indicator, "notes": finding.notes,
        "notDocumented": finding.not_documented, "suggestions": finding.suggestions,
        "screen": None if screen is None else (screen.found, screen.absent, screen.missing, screen.history,
                                               screen.screened_negative),
    })


#: The parts of a draft order that make it "the same order": what is ordered and why.
ORDER_FIELDS = ("resourceType", "id", "code", "medicationCodeableConcept", "medicationReference", "reasonCode",
                "reasonReference", "dosageInstruction", "bodySite")


def order_fingerprint(order: DraftOrder | None) -> str:
    """A digest of a draft order's identity and content ("" for a card about no order)."""
    if order is None:
        return ""
    return _digest({"ref": order.ref, **{k: order.resource.get(k) for k in ORDER_FIELDS}})


#: At most this many medicines are fetched by reference in one call.
MAX_MEDICATION_READS = 10
_MEDICATION_ID = re.compile(r"^Medication/[A-Za-z0-9\-.]{1,64}$")


def _fetch_medicines(
    request: Mapping[str, Any], references: Sequence[str], settings: FetchSettings, source: FhirSource | None,
    started: float,
) -> list[Mapping[str, Any]]:
    """Read ``Medication/{id}`` that a draft or active prescription names but the request did not carry.

    Through the same fallback as the prefetch keys (allowlist, caps), within what is left of the
    call's one deadline; what cannot be read stays unresolved and is reported by the record builder.
    """
    wanted = [r for r in references if _MEDICATION_ID.match(r)][:MAX_MEDICATION_READS]
    left = settings.deadline - (time.monotonic() - started)
    if not wanted or left < 0.2 or (source is None and not request.get("fhirServer")):
        return []
    queries = {f"medication {ref}": ref for ref in wanted}
    try:
        extra = gather(request, queries, (), replace(settings, deadline=left), source)
    except PrefetchUnavailable:  # nothing is required here; kept for safety
        return []
    return [r for result in extra.keys.values() for r in result.resources if r.get("resourceType") == "Medication"]


def evaluate_request(
    request: Mapping[str, Any],
    service: CdsService,
    kb: KnowledgeBase,
    terms: ConceptLookup,
    options: Options,
    *,
    now: datetime | None = None,
    source: FhirSource | None = None,
) -> Result:
    """The pipeline for a validated hook request (see the module docstring)."""
    started = time.monotonic()
    try:
        data = gather(request, service.prefetch, service.required, options.fetch, source)
    except PrefetchUnavailable as exc:
        raise PreconditionFailed(str(exc)) from exc
    unavailable = sorted(
        DATA_CATEGORIES.get(key, key)
        for key, result in data.keys.items()
        if result.status not in OK_STATUSES and result.status != INCOMPLETE
    )
    incomplete = sorted(DATA_CATEGORIES.get(k, k) for k, result in data.keys.items() if result.status == INCOMPLETE)
    resources = data.resources()
    built = build_record(resources, request["context"], service.hook, terms, now or datetime.now(UTC), unavailable,
                         incomplete, validity=kb.validity, episode_limits=kb.episode_limits)
    fetched = _fetch_medicines(request, built.unresolved_medications, options.fetch, source, started)
    if fetched:
        built = build_record([*resources, *fetched], request["context"], service.hook, terms,
                             now or datetime.now(UTC), unavailable, incomplete, validity=kb.validity,
                             episode_limits=kb.episode_limits)
    cards, issued, trace, rule_problems = evaluate_record(
        built.record, service.hook, kb, str(request["hookInstance"]), options
    )
    response: dict[str, Any] = {"cards": cards}
    problems = [*data.problems(), *built.problems, *rule_problems]
    extension: dict[str, Any] = {}
    if problems:
        extension[PROBLEMS_KEY] = problems
    wants_trace = options.explain or bool((request.get("extension") or {}).get(EXPLAIN_KEY))
    if wants_trace:
        extension[TRACE_KEY] = trace
    if extension:
        response["extension"] = extension
    return Result(response, tuple(issued), {k: r.status for k, r in data.keys.items()}, data.deadline_reached,
                  built.parsed, built.skipped)
