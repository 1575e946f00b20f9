"""Clinical scenario suite: realistic patients, each with the cards a GP would expect.

Every ``tests/scenarios/NNN-slug.json`` is one patient as a Danish EHR would send it (ICPC-2, SKS,
ATC, SNOMED, revised and retracted entries, several episodes, zone-less and partial dates) with the
cards expected **from the guideline** (the ``guideline`` field cites the seed lines). The
expectations were written before running the code: this is an acceptance test, not a snapshot.

Each call is run twice: with every prefetch key filled as a capable EHR would, and with no
prefetch at all, the data coming from a stub FHIR server. The harness only uses the public seams
(``evaluate_request``, ``Options``, ``load_knowledge``, ``Terminology``, ``SERVICES``), never the
record or fact internals.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from service.engine import Options, evaluate_request
from service.knowledge import load_knowledge
from service.registry import SERVICES
from service.terminology import Terminology

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "tests" / "scenarios"
SCENARIO_FILES = sorted(SCENARIO_DIR.glob("*.json"))
MODES = ("prefetch", "fallback")
SERVICE_FOR_HOOK = {"patient-view": "lbp-patient-view", "order-select": "lbp-order-select",
                    "order-sign": "lbp-order-sign"}
ORDER_TYPES = ("ServiceRequest", "MedicationRequest")
FHIR_SERVER = "https://fhir.region.example.dk/r4"
#: Rules being added in the current rewrite; every one must be expected by some scenario.
NEW_RULES = ("RF-PARESIS-NON-ACUTE", "RF-SUSPECTED-SERIOUS", "REF-SURGICAL-ASSESSMENT-OVERDUE", "REF-NEUROLOGIST")
#: Scenarios that send dateTimes without a zone on purpose (read as Europe/Copenhagen).
ZONELESS_ON_PURPOSE = {"052-zoneless-bladder-14-days-ago", "090-zoneless-summer-footdrop-49-hours"}
#: Draft orders that are not valid R4 on purpose: what vendors really send (read leniently, or reported on a card).
VENDOR_SHAPED_ON_PURPOSE = {"093-sandbox-rxnorm-tramadol-sloppy-r4"}
ZONELESS = re.compile(r'"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"')
INDICATORS = {"critical", "warning", "info"}
#: Resources the harness puts in each prefetch key / answers for each search (like ``_include``).
PREFETCH_TYPES: Mapping[str, tuple[str, ...]] = {
    "conditions": ("Condition",),
    "observations": ("Observation",),
    "medications": ("MedicationRequest", "Medication"),
    "servicerequests": ("ServiceRequest",),
    "procedures": ("Procedure",),
    "encounters": ("Encounter",),
}


# --- loading ---------------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


SCENARIOS: dict[str, dict[str, Any]] = {p.stem: _load(p) for p in SCENARIO_FILES}


@cache
def _kb() -> Any:
    return load_knowledge(ROOT / "cards")


@cache
def _terms() -> Terminology:
    return Terminology.load(ROOT / "fhir_profiles")


def _cases() -> list[Any]:
    cases = []
    for stem, scenario in SCENARIOS.items():
        for index, call in enumerate(scenario.get("calls", [])):
            for mode in MODES:
                same_hook = [c["hook"] for c in scenario["calls"]].count(call["hook"]) > 1
                label = f"{call['hook']}#{index}" if same_hook else call["hook"]
                cases.append(pytest.param(stem, index, mode, id=f"{stem}[{label}][{mode}]"))
    return cases


# --- building requests -----------------------------------------------------------------------------


def _bundle(resources: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{FHIR_SERVER}/{r['resourceType']}/{r.get('id', '')}", "resource": r,
                       "search": {"mode": "include" if r["resourceType"] == "Medication" else "match"}}
                      for r in resources]}


def _of_type(resources: list[Mapping[str, Any]], *types: str) -> list[Mapping[str, Any]]:
    return [r for r in resources if r.get("resourceType") in types]


class StubSource:
    """Answers the service's FHIR reads and searches from the scenario, like a FHIR server would."""

    def __init__(self, resources: list[Mapping[str, Any]], patient: Mapping[str, Any]) -> None:
        self.resources = resources
        self.patient = patient
        self.queries: list[str] = []

    def search(self, relative_url: str) -> list[Mapping[str, Any]]:
        self.queries.append(relative_url)
        parts = urlsplit(relative_url.lstrip("/"))
        path = parts.path.strip("/").split("/")
        params = parse_qs(parts.query)
        rtype = path[0] if path else ""
        if len(path) == 2 and rtype == "Patient":
            return [self.patient] if path[1] == self.patient.get("id") else []
        if len(path) == 2:
            return [r for r in _of_type(self.resources, rtype) if r.get("id") == path[1]]
        if len(path) != 1 or not rtype:
            return []
        found = _of_type(self.resources, rtype)
        if "_id" in params:
            wanted = {i for value in params["_id"] for i in value.split(",")}
            return [r for r in found if r.get("id") in wanted]
        if not any(k in params for k in ("patient", "subject")):
            return []
        if rtype == "MedicationRequest" and any("medication" in v for v in params.get("_include", [])):
            found = [*found, *_of_type(self.resources, "Medication")]
        return found


def _selections(call: Mapping[str, Any]) -> list[str]:
    if "selections" in call:
        return list(call["selections"])
    return [f"{d['resourceType']}/{d['id']}" for d in call.get("draftOrders", []) if d["resourceType"] in ORDER_TYPES]


def _request(scenario: Mapping[str, Any], call: Mapping[str, Any], mode: str, index: int) -> dict[str, Any]:
    patient = scenario["patient"]
    context: dict[str, Any] = {"userId": "Practitioner/gp-1", "patientId": patient["id"]}
    if call["hook"] in ("order-select", "order-sign"):
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in call.get("draftOrders", [])]}
    if call["hook"] == "order-select":
        context["selections"] = _selections(call)
    request: dict[str, Any] = {
        "hook": call["hook"],
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"lbp-cds-scenario/{patient['id']}/{index}/{mode}")),
        "context": context,
        "extension": {"lbp-cds-explain": True},
    }
    service = SERVICES[SERVICE_FOR_HOOK[call["hook"]]]
    if mode == "prefetch":
        resources = scenario.get("resources", [])
        prefetch: dict[str, Any] = {}
        for key in service.prefetch:
            if key == "patient":
                prefetch[key] = patient
            else:
                prefetch[key] = _bundle(_of_type(resources, *PREFETCH_TYPES.get(key, ())))
        request["prefetch"] = prefetch
    else:
        request["fhirServer"] = FHIR_SERVER
        request["fhirAuthorization"] = {"access_token": "dummy-token-for-tests", "token_type": "Bearer",
                                        "expires_in": 300, "scope": "patient/*.read", "subject": "lbp-cds"}
    return request


# --- reading the response --------------------------------------------------------------------------


def _fired(response: Mapping[str, Any]) -> tuple[Counter[str], set[tuple[str, str]]]:
    """Fired rule ids (one per non-near-miss finding) and the (rule, order) pairs that fired."""
    trace = response.get("extension", {}).get("lbp-cds-trace")
    assert isinstance(trace, list), "the response has no explain trace"
    fired: Counter[str] = Counter()
    per_order: set[tuple[str, str]] = set()
    for entry in trace:
        if not entry.get("fired"):
            continue
        findings = [f for f in entry.get("findings", []) if not f.get("nearMiss")]
        fired[entry["rule"]] += max(1, len(findings))
        per_order |= {(entry["rule"], f["order"]) for f in findings if f.get("order")}
    return fired, per_order


def _rule_of(card: Mapping[str, Any]) -> tuple[str, str | None]:
    ext = card.get("extension", {}).get("dk.lbp-cds.rule", {})
    return ext.get("ruleId", "?"), ext.get("orderRef")


def _text(cards: list[Mapping[str, Any]]) -> str:
    return "\n".join(f"{c.get('summary', '')}\n{c.get('detail', '')}" for c in cards)


def _explain(stem: str, scenario: Mapping[str, Any], call: Mapping[str, Any], fired: Counter[str],
             cards: list[Mapping[str, Any]]) -> str:
    expected = sorted(e["rule"] for e in call["expect"])
    visible = [f"{_rule_of(c)[0]}({c.get('indicator')})" for c in cards]
    return (f"\n{stem} [{call['hook']}] {scenario['title']}\n  expected: {expected}\n"
            f"  fired:    {sorted(fired.elements())}\n  visible:  {visible}\n"
            f"  guideline: {scenario['guideline']}")


# --- the scenario test -----------------------------------------------------------------------------


@pytest.mark.parametrize(("stem", "index", "mode"), _cases())
def test_scenario(stem: str, index: int, mode: str) -> None:
    scenario = SCENARIOS[stem]
    call = scenario["calls"][index]
    service = SERVICES[SERVICE_FOR_HOOK[call["hook"]]]
    now = datetime.fromisoformat(scenario["now"])
    request = _request(scenario, call, mode, index)
    source = StubSource(scenario.get("resources", []), scenario["patient"]) if mode == "fallback" else None
    options = Options(language="da", explain=True, strict=True)
    response = evaluate_request(request, service, _kb(), _terms(), options, now=now, source=source).response
    check_response(stem, scenario, call, response)


def check_response(stem: str, scenario: Mapping[str, Any], call: Mapping[str, Any],
                   response: Mapping[str, Any]) -> None:
    """The response (with the rule trace) gives exactly the cards ``call`` expects (also for examples/)."""
    cards = response.get("cards", [])
    fired, per_order = _fired(response)
    why = _explain(stem, scenario, call, fired, cards)

    expected = Counter(e["rule"] for e in call["expect"])
    assert fired == expected, "fired rules differ from the guideline's expectation" + why
    for e in call["expect"]:
        if "order" in e:
            assert (e["rule"], e["order"]) in per_order, f"{e['rule']} did not fire for {e['order']}" + why

    trace = response.get("extension", {}).get("lbp-cds-trace", [])
    hidden = {e["rule"]: str(e["suppressed"]) for e in trace if e.get("suppressed")}
    visible: dict[str, list[str]] = {}
    for card in cards:
        rule, order = _rule_of(card)
        visible.setdefault(rule, []).append(card.get("indicator", "?"))
        wanted = [e for e in call["expect"] if e["rule"] == rule and e.get("order", order) == order]
        assert wanted, f"visible card {rule} ({order}) was not expected" + why
    for rule, count in expected.items():
        wanted_indicators = Counter(e["indicator"] for e in call["expect"] if e["rule"] == rule)
        shown = Counter(visible.get(rule, []))
        assert not shown - wanted_indicators, f"{rule}: indicator {dict(shown)} != {dict(wanted_indicators)}" + why
        if call["hook"] != "patient-view" and rule in hidden:
            # one problem, one card: the card that says it more specifically is shown instead (cardset.py)
            by = re.search(r"same problem as (\S+),", hidden[rule])
            assert by and by.group(1) in visible, f"{rule} hidden ({hidden[rule]}) but not said by another card" + why
        elif call["hook"] != "patient-view":
            assert sum(shown.values()) == count, f"{rule}: {sum(shown.values())} card(s) shown, {count} expected" + why
        elif wanted_indicators["critical"]:
            assert shown["critical"] == wanted_indicators["critical"], f"critical {rule} is not visible" + why

    text = _text(cards)
    for phrase in call.get("must_say", []):
        assert phrase in text, f"no visible card says {phrase!r}" + why + f"\n  text: {text!r}"
    for phrase in call.get("must_not_say", []):
        assert phrase not in text, f"a visible card says {phrase!r}" + why + f"\n  text: {text!r}"


# --- meta tests ------------------------------------------------------------------------------------


def test_at_least_sixty_scenarios() -> None:
    assert len(SCENARIOS) >= 60, f"only {len(SCENARIOS)} scenarios"


@pytest.mark.parametrize("stem", sorted(SCENARIOS))
def test_scenario_is_well_formed(stem: str) -> None:
    scenario = SCENARIOS[stem]
    assert re.fullmatch(r"\d{3}-[a-z0-9-]+", stem), "name files NNN-short-slug.json"
    for key in ("title", "story", "guideline", "now", "patient", "resources", "calls"):
        assert key in scenario, f"missing {key}"
    assert re.search(r"\bL\d+", scenario["guideline"]), "cite the seed lines the expectation rests on"
    assert datetime.fromisoformat(scenario["now"]).tzinfo is not None, "now needs a zone"
    assert scenario["calls"], "at least one call"
    ids = [(r["resourceType"], r.get("id")) for r in scenario["resources"]]
    assert len(ids) == len(set(ids)), "duplicate resource ids"
    for call in scenario["calls"]:
        assert call["hook"] in SERVICE_FOR_HOOK
        for e in call["expect"]:
            assert e["indicator"] in INDICATORS, e
        if call["hook"] == "patient-view":
            assert not call.get("draftOrders")
        drafts = {f"{d['resourceType']}/{d['id']}" for d in call.get("draftOrders", [])}
        for ref in call.get("selections", []):
            assert ref in drafts, f"selection {ref} is not a draft order"
        for e in call["expect"]:
            if "order" in e:
                assert e["order"] in drafts, e


def _fhir_valid(resource: Mapping[str, Any], zoneless_ok: bool) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    raw = json.dumps(resource)
    if zoneless_ok:
        raw = ZONELESS.sub(lambda m: f'"{m.group(1)}+01:00"', raw)
    get_fhir_model_class(resource["resourceType"]).model_validate(json.loads(raw))


@pytest.mark.parametrize("stem", sorted(SCENARIOS))
def test_scenario_resources_are_valid_r4(stem: str) -> None:
    scenario = SCENARIOS[stem]
    resources = [scenario["patient"], *scenario["resources"]]
    if stem not in VENDOR_SHAPED_ON_PURPOSE:
        resources += [d for call in scenario["calls"] for d in call.get("draftOrders", [])]
    has_zoneless = any(ZONELESS.search(json.dumps(r)) for r in resources)
    assert has_zoneless == (stem in ZONELESS_ON_PURPOSE), "zone-less dateTimes only where listed on purpose"
    for resource in resources:
        _fhir_valid(resource, stem in ZONELESS_ON_PURPOSE)
        subject = resource.get("subject", {}).get("reference")
        if subject:
            assert subject == f"Patient/{scenario['patient']['id']}", f"{resource.get('id')} names another patient"


def test_every_rule_is_expected_somewhere() -> None:
    expected = {e["rule"] for s in SCENARIOS.values() for c in s["calls"] for e in c["expect"]}
    rules = set(_kb().rules) | set(NEW_RULES)
    missing = sorted(rules - expected)
    assert not missing, f"rules no scenario expects: {missing}"
    unknown = sorted(expected - rules)
    assert not unknown, f"scenarios expect unknown rules: {unknown}"
