"""Alert burden on a synthetic population of Danish GP back-pain consultations (issue 15).

``python -m benchmarks.population [--n 2000] [--seed 15] [--memory on|off]`` generates seeded
consultations as a Danish GP system would send them (ICPC-2 on the problem list, ATC, the
lbp-cds template codes), runs each through patient-view and, when something is ordered,
order-select and order-sign, and prints the burden table (``docs/alert-burden.md`` explains
the case mix and where each rate comes from). Not timed: the numbers are what matters.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
CPH = ZoneInfo("Europe/Copenhagen")
START = datetime(2026, 3, 2, 8, 0, tzinfo=CPH)

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
LBP = "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts"
CPT = "http://www.ama-assn.org/go/cpt"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
AMB = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}
DISCOURAGING = {"IMG-NOT-INDICATED", "IMG-NERVE-ROOT-EARLY", "IMG-STENOSIS-EARLY", "IMG-XRAY-NO-INDICATION"}

#: The case mix and habits; every number is discussed in docs/alert-burden.md (seed line or published source).
RATES: dict[str, float] = {
    "serious": 0.01,            # serious pathology: DSAM 003 L450 "under 5 %"; ~1 % in primary care (Henschke 2009)
    "nerve_root": 0.08,         # DSAM 003 L450 "omkring 5-10 %"
    "stenosis_over_60": 0.06,   # assumption: neurogenic claudication among older back-pain patients
    "chronic": 0.15,            # assumption: consultations for pain > 3 months (DSAM L99-L100 definitions)
    "better_by_6_weeks": 0.60,  # DSAM 003 L583 "omkring 60 % ... inden for 6 uger"
    "old_unclosed": 0.30,       # assumption: an earlier back-pain episode never closed on the problem list
    "reuse_old_episode": 0.40,  # assumption: of those, the GP re-uses the old problem (no new Condition)
    "template_practice": 0.50,  # assumption: practices that use a structured back-pain template
    "no_as_value": 0.10,        # issue 15: a tenth of practices code "No" answers as values
    "contact_reason_coded": 0.70,  # assumption: the consultation's Encounter carries the ICPC-2 reason
    "knee_oa_over_50": 0.15,    # assumption (published knee OA prevalence in over-50s ~ 10-20 %)
    "oa_renewal": 0.30,         # assumption: an OA analgesic renewed at the back-pain consultation
    "nsaid": 0.20, "paracetamol": 0.10, "opioid": 0.04, "relaxant": 0.03, "gabapentinoid_nr": 0.10,
    "mri_nonspecific": 0.03, "mri_nonspecific_chronic": 0.06, "mri_nerve_root_early": 0.10,
    "mri_nerve_root_late": 0.50, "mri_serious": 0.60, "mri_stenosis": 0.20, "xray": 0.02,
    "reason_on_order": 0.50,    # assumption: imaging orders with a coded reason
    "old_incontinence_women_over_60": 0.08, "old_stroke_paresis_over_65": 0.02,
}


@dataclass
class Visit:
    """One consultation: the record up to then, what is ordered, and the truth behind it."""

    patient_id: str
    when: datetime
    encounter_id: str
    resources: list[dict[str, Any]]
    orders: list[dict[str, Any]] = field(default_factory=list)
    serious: bool = False
    #: Truth for each imaging order id: indicated or not.
    imaging_truth: dict[str, bool] = field(default_factory=dict)


def _cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _iso(moment: datetime) -> str:
    return moment.astimezone(CPH).isoformat(timespec="seconds")


class Patient:
    """Builds one patient's resources, each stamped with the moment it was recorded."""

    def __init__(self, pid: str, rng: random.Random) -> None:
        self.pid, self.rng, self.n = pid, rng, 0
        self.timeline: list[tuple[datetime, dict[str, Any]]] = []

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{self.pid}-{prefix}{self.n}"

    def _add(self, when: datetime, resource: dict[str, Any]) -> dict[str, Any]:
        resource["subject"] = {"reference": f"Patient/{self.pid}"}
        resource.setdefault("meta", {})["lastUpdated"] = _iso(when)
        self.timeline.append((when, resource))
        return resource

    def condition(self, when: datetime, system: str, code: str, *, onset: datetime | None = None,
                  verification: str | None = None) -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": "Condition", "id": self._id("c"), "code": _cc(system, code),
                                    "clinicalStatus": _cc(CLINICAL, "active"), "recordedDate": _iso(when),
                                    "onsetDateTime": _iso(onset or when)}
        if verification:
            resource["verificationStatus"] = _cc(VERIFICATION, verification)
        return self._add(when, resource)

    def finding(self, when: datetime, code: str, present: bool, *, as_value: bool = False) -> None:
        resource: dict[str, Any] = {"resourceType": "Observation", "id": self._id("o"), "status": "final",
                                    "code": _cc(LBP, code), "effectiveDateTime": _iso(when)}
        if as_value and not present:
            resource["valueCodeableConcept"] = _cc(SNOMED, "373067005")  # "No"
        else:
            resource["valueBoolean"] = present
        self._add(when, resource)

    def pain(self, when: datetime, score: int) -> None:
        self._add(when, {"resourceType": "Observation", "id": self._id("o"), "status": "final",
                         "code": _cc(LOINC, "72514-3"), "effectiveDateTime": _iso(when), "valueInteger": score})

    def encounter(self, when: datetime, reason: str | None, kind: str | None = None) -> str:
        rid = self._id("e")
        resource: dict[str, Any] = {"resourceType": "Encounter", "id": rid, "status": "finished", "class": AMB,
                                    "period": {"start": _iso(when)}}
        if kind:
            resource["type"] = [_cc(LBP, kind)]
        if reason:
            resource["reasonCode"] = [_cc(ICPC2, reason)]
        self._add(when, resource)
        return rid

    def prescription(self, when: datetime, atc: str, reason: str | None) -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": "MedicationRequest", "id": self._id("m"), "status": "active",
                                    "intent": "order", "medicationCodeableConcept": _cc(ATC, atc),
                                    "authoredOn": _iso(when)}
        if reason:
            resource["reasonCode"] = [_cc(ICPC2, reason)]
        return self._add(when, resource)

    def record_until(self, moment: datetime) -> list[dict[str, Any]]:
        return [r for when, r in self.timeline if when <= moment]


def draft_drug(pid: str, rid: str, atc: str, reason: str | None = None,
               prior: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
                                "medicationCodeableConcept": _cc(ATC, atc), "subject": {"reference": f"Patient/{pid}"}}
    if reason:
        resource["reasonCode"] = [_cc(ICPC2, reason)]
    if prior:
        resource["priorPrescription"] = {"reference": f"MedicationRequest/{prior}"}
    return resource


def draft_imaging(pid: str, rid: str, xray: bool, reason: str | None) -> dict[str, Any]:
    code = _cc(SNOMED, "241648005") if not xray else _cc(LOINC, "24972-2")
    resource: dict[str, Any] = {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
                                "code": code, "subject": {"reference": f"Patient/{pid}"}}
    if reason:
        resource["reasonCode"] = [_cc(ICPC2, reason)]
    return resource


def _patient_visits(index: int, rng: random.Random) -> list[Visit]:  # noqa: C901 - one patient's story, top to bottom
    """One patient's back-pain consultations in the benchmark year, with what is recorded at each."""
    pid = f"bp{index:05d}"
    p = Patient(pid, rng)
    age = int(min(90, max(18, rng.gauss(50, 16))))
    sex = rng.choice(("female", "male"))
    practice = random.Random(index // 25)  # 25 patients per practice: habits are a practice's
    template = practice.random() < RATES["template_practice"]
    no_as_value = practice.random() < RATES["no_as_value"]
    reason_coded = practice.random() < RATES["contact_reason_coded"]
    first = START + timedelta(days=rng.uniform(0, 300), hours=rng.uniform(0, 7))
    birth = {"resourceType": "Patient", "id": pid, "gender": sex,
             "birthDate": f"{first.year - age}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}
    serious = rng.random() < RATES["serious"]
    nerve_root = not serious and rng.random() < RATES["nerve_root"]
    stenosis = not serious and not nerve_root and age > 60 and rng.random() < RATES["stenosis_over_60"]
    chronic = not serious and rng.random() < RATES["chronic"]
    onset = first - timedelta(days=rng.uniform(100, 900) if chronic else min(rng.expovariate(1 / 9), 40))
    # Background: comorbidity and an old episode never closed.
    if age > 60 and sex == "female" and rng.random() < RATES["old_incontinence_women_over_60"]:
        p.condition(first - timedelta(days=rng.uniform(400, 3000)), ICPC2, "U04")
    if age > 65 and rng.random() < RATES["old_stroke_paresis_over_65"]:
        p.condition(first - timedelta(days=rng.uniform(400, 3000)), ICPC2, "N18")
    oa_drug = None
    if age > 50 and rng.random() < RATES["knee_oa_over_50"]:
        oa_when = first - timedelta(days=rng.uniform(60, 300))
        p.condition(oa_when - timedelta(days=400), ICPC2, "L90")
        oa_drug = p.prescription(oa_when, rng.choice(("M01AE01", "N02BE01")), "L90" if rng.random() < 0.5 else None)
    old = None
    if rng.random() < RATES["old_unclosed"]:
        old_when = first - timedelta(days=rng.uniform(400, 2200))
        old = p.condition(old_when, ICPC2, "L03", onset=old_when)
        p.encounter(old_when, "L03" if reason_coded else None)
    # The episode.
    code = "L86" if nerve_root and rng.random() < 0.5 else "L03"  # half re-coded to L86 at follow-up
    if old is None or rng.random() >= RATES["reuse_old_episode"] or chronic:
        p.condition(first, SNOMED, "278860009") if chronic and rng.random() < 0.1 else p.condition(
            first, ICPC2, code, onset=onset)
    visits_at = [first]
    better = rng.random() < RATES["better_by_6_weeks"]
    if not better or nerve_root or serious:
        visits_at.append(first + timedelta(days=rng.uniform(14, 28)))
        if not better and (nerve_root or stenosis or rng.random() < 0.3):
            visits_at.append(visits_at[-1] + timedelta(days=rng.uniform(21, 35)))
    elif chronic and rng.random() < 0.3:
        visits_at.append(first + timedelta(days=rng.uniform(7, 28)))
    visits: list[Visit] = []
    for number, when in enumerate(visits_at):
        weeks = (when - onset).days / 7
        reason = "L86" if nerve_root and number > 0 else code
        eid = p.encounter(when, reason if reason_coded else None, "follow-up-consultation" if number and template
                          else None)
        if nerve_root and number > 0 and code == "L03":
            p.condition(when, ICPC2, "L86", onset=when)  # re-coded: must not restart the clock
        if template:
            p.finding(when, "red-flag-screen", serious, as_value=no_as_value)
            for flag in ("saddle-anaesthesia", "bladder-dysfunction"):
                p.finding(when, flag, False, as_value=no_as_value)
            p.pain(when, rng.randint(6, 8) if not better else max(1, 7 - 2 * number))
            if nerve_root:
                p.finding(when, "straight-leg-raise-positive", True)
            if number > 0 and not better:
                p.finding(when, "no-satisfactory-improvement", True)
            if stenosis:
                p.finding(when, "walking-related-leg-pain", True)
        if serious and number == 0:
            kind = rng.choice(("cancer", "fracture", "fracture", "infection"))
            if kind == "cancer":
                p.condition(when, SNOMED, "363346000", verification="provisional")
            elif kind == "infection":
                p.condition(when, SNOMED, "2304001", verification="provisional")
            else:
                p.condition(when, ICPC2, "L76", verification="provisional")
        visit = Visit(pid, when, eid, [birth], serious=serious)
        orders: list[dict[str, Any]] = []
        # Imaging.
        late = weeks >= 6 and not better
        truth = serious or ((nerve_root and late) or (stenosis and weeks >= 8 and not better))
        p_mri = (RATES["mri_serious"] if serious else RATES["mri_nerve_root_late"] if nerve_root and late
                 else RATES["mri_nerve_root_early"] if nerve_root else RATES["mri_stenosis"] if stenosis
                 else RATES["mri_nonspecific_chronic"] if chronic else RATES["mri_nonspecific"])
        if rng.random() < p_mri:
            rid = f"{eid}-mri"
            orders.append(draft_imaging(pid, rid, False, reason if rng.random() < RATES["reason_on_order"] else None))
            visit.imaging_truth[rid] = truth
        elif rng.random() < RATES["xray"]:
            orders.append(draft_imaging(pid, f"{eid}-xr", True, None))
        # Medicines: a new back-pain prescription at the first visit.
        if number == 0:
            for name, atc in (("nsaid", "M01AE01"), ("paracetamol", "N02BE01"), ("opioid", "N02AX02"),
                              ("relaxant", "M03BX01")):
                if rng.random() < RATES[name]:
                    orders.append(draft_drug(pid, f"{eid}-{name}", atc))
                    break
            if nerve_root and rng.random() < RATES["gabapentinoid_nr"]:
                orders.append(draft_drug(pid, f"{eid}-gaba", "N03AX16"))
        if oa_drug is not None and rng.random() < RATES["oa_renewal"]:
            style = rng.random()
            atc = oa_drug["medicationCodeableConcept"]["coding"][0]["code"]
            orders.append(draft_drug(pid, f"{eid}-oa", atc, "L90" if style < 0.3 else None,
                                     oa_drug["id"] if 0.3 <= style < 0.8 else None))
        visit.orders = orders
        visit.resources = [birth, *p.record_until(when)]
        visits.append(visit)
        # What was prescribed becomes part of the record after the visit.
        for order in orders:
            if order["resourceType"] == "MedicationRequest" and order["id"].endswith(
                    ("nsaid", "paracetamol", "opioid", "relaxant", "gaba")):
                p.prescription(when + timedelta(minutes=10),
                               order["medicationCodeableConcept"]["coding"][0]["code"], None)
    return visits


def generate(n: int, seed: int) -> list[Visit]:
    """At least ``n`` consultations (whole patients), seeded: the same call gives the same population."""
    rng = random.Random(seed)
    visits: list[Visit] = []
    index = 0
    while len(visits) < n:
        visits += _patient_visits(index, random.Random(rng.getrandbits(64)))
        index += 1
    return sorted(visits[:n], key=lambda v: v.when)


# -- running the hooks -------------------------------------------------------------------------


PREFETCH_KEYS: Mapping[str, tuple[str, ...]] = {
    "conditions": ("Condition",), "observations": ("Observation",), "medications": ("MedicationRequest", "Medication"),
    "servicerequests": ("ServiceRequest",), "procedures": ("Procedure",), "encounters": ("Encounter",),
}


def hook_body(hook: str, prefetch: Mapping[str, Any], patient_id: str, encounter_id: str,
              orders: Sequence[Mapping[str, Any]], instance: str) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/gp", "patientId": patient_id, "encounterId": encounter_id}
    if hook != "patient-view":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": dict(o)} for o in orders]}
    if hook == "order-select":
        context["selections"] = [f"{o['resourceType']}/{o['id']}" for o in orders]
    return {"hook": hook, "hookInstance": instance, "context": context, "prefetch": dict(prefetch)}


def prefetch_for(resources: Iterable[Mapping[str, Any]], patient_id: str) -> dict[str, Any]:
    patient = next((r for r in resources if r["resourceType"] == "Patient"), {"resourceType": "Patient",
                                                                                 "id": patient_id})
    out: dict[str, Any] = {"patient": patient}
    for key, types in PREFETCH_KEYS.items():
        out[key] = {"resourceType": "Bundle", "type": "searchset",
                    "entry": [{"resource": r} for r in resources if r["resourceType"] in types]}
    return out


@dataclass
class Shown:
    """One card a GP saw."""

    consultation: int
    hook: str
    rule: str
    indicator: str
    order: str | None


class Runner:
    """Runs hook calls through the pipeline (``evaluate_request``), with or without the card memory."""

    def __init__(self, memory: bool, rule_params: Mapping[str, Any] | None = None,
                 reminder_days_by_rule: Mapping[str, float] | None = None) -> None:
        from service.engine import Options
        from service.knowledge import load_knowledge
        from service.registry import SERVICES
        from service.terminology import Terminology

        self.kb = load_knowledge(ROOT / "cards", dict(rule_params or {}))
        self.terms = Terminology.load(ROOT / "fhir_profiles")
        self.services = {s.hook: s for s in SERVICES.values()}
        self.options = Options(language="en")
        self.memory: Any = None
        if memory:
            from service.config import DEFAULTS
            from service.memory import DictMemory, settings_from_config

            self.store = DictMemory()
            config = {**DEFAULTS, "REMINDER_INTERVAL_DAYS_BY_RULE": dict(reminder_days_by_rule or {})}
            self.memory = settings_from_config(config, b"benchmark-memory-key-not-a-secret", self.kb.reminders())
        self.calls = 0

    def call(self, hook: str, body: Mapping[str, Any], now: datetime) -> list[tuple[str, str, str | None]]:
        """(rule, indicator, order ref) of every card shown."""
        from service.engine import evaluate_request

        self.calls += 1
        result = evaluate_request(body, self.services[hook], self.kb, self.terms, self.options, now=now)
        if self.memory is not None:
            from service import memory

            self.store.clock = now.timestamp()
            result, _ = memory.apply(result, body["context"], hook=hook, client_iss="benchmark", store=self.store,
                                     settings=self.memory, now=now)
        shown = []
        for card in result.response["cards"]:
            rule = card["extension"]["dk.lbp-cds.rule"]["ruleId"]
            links = [str(a["resourceId"]).rsplit("/", 1)[-1] for s in card.get("suggestions", ())
                     for a in s.get("actions", ()) if a.get("resourceId")]
            shown.append((rule, card["indicator"], next(iter(links), None)))
        return shown


def run_visit(runner: Runner, number: int, visit: Visit, patient_id: str, encounter_id: str,
              resources: Sequence[Mapping[str, Any]], orders: Sequence[Mapping[str, Any]], now: datetime
              ) -> list[Shown]:
    """patient-view, then (when something is ordered) order-select and order-sign, as an EHR fires them."""
    prefetch = prefetch_for(resources, patient_id)
    shown: list[Shown] = []
    hooks = ["patient-view"] + (["order-select", "order-sign"] if orders else [])
    for step, hook in enumerate(hooks):
        at = now + timedelta(minutes=2 + 3 * step)
        instance = f"00000000-0000-4000-8000-{number:06d}{step:06d}"
        body = hook_body(hook, prefetch, patient_id, encounter_id, orders, instance)
        shown += [Shown(number, hook, r, i, o) for r, i, o in runner.call(hook, body, at)]
    return shown


# -- the table ---------------------------------------------------------------------------------


def _order_of(card: Shown, visit: Visit) -> str | None:
    if card.order:
        return card.order
    imaging = list(visit.imaging_truth)
    return imaging[0] if len(imaging) == 1 else None


def burden(visits: Sequence[Visit], shown: Sequence[Shown]) -> dict[str, Any]:
    """The numbers of the issue's table (per 100 consultations, shares, critical, MRI precision)."""
    n = len(visits)
    per_visit = Counter(c.consultation for c in shown)
    by_rule = Counter(c.rule for c in shown)
    by_indicator = Counter(c.indicator for c in shown)
    benign = [i for i, v in enumerate(visits) if not v.serious]
    benign_set = set(benign)
    critical_benign = sum(1 for c in shown if c.indicator == "critical" and c.consultation in benign_set)
    not_indicated = [(c, visits[c.consultation]) for c in shown if c.rule == "IMG-NOT-INDICATED"
                     and c.hook == "order-select"]
    judged = [(c, v) for c, v in not_indicated if _order_of(c, v) in v.imaging_truth]
    right = sum(1 for c, v in judged if not v.imaging_truth[_order_of(c, v) or ""])
    indicated = [(i, rid) for i, v in enumerate(visits) for rid, truth in v.imaging_truth.items() if truth]
    # An imaging card discourages when it warns; an info card saying "may be indicated if ..." does not.
    discouraged = {(c.consultation, _order_of(c, visits[c.consultation])) for c in shown
                   if c.rule in DISCOURAGING and c.indicator != "info"}
    return {
        "consultations": n,
        "cards": len(shown),
        "per_100": 100 * len(shown) / n,
        "per_100_by_rule": {r: 100 * k / n for r, k in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))},
        "per_100_by_indicator": {i: 100 * by_indicator.get(i, 0) / n for i in ("critical", "warning", "info")},
        "share_ge1": 100 * sum(1 for k in per_visit.values() if k >= 1) / n,
        "share_ge3": 100 * sum(1 for k in per_visit.values() if k >= 3) / n,
        "critical_per_1000_benign": 1000 * critical_benign / max(len(benign), 1),
        "mri_not_indicated_cards": len(judged),
        "not_indicated_precision": 100 * right / len(judged) if judged else None,
        "indicated_mri_drafts": len(indicated),
        "indicated_discouraged": 100 * sum(1 for x in indicated if x in discouraged) / len(indicated) if indicated
        else None,
    }


def table(numbers: Mapping[str, Any], title: str) -> str:
    lines = [f"## {title}", "", f"{numbers['consultations']} consultations, {numbers['cards']} cards", "",
             "| Measure | Value | Target |", "|---|---|---|"]
    ind = numbers["per_100_by_indicator"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} %"

    lines += [
        f"| Cards per 100 consultations | {numbers['per_100']:.1f} | ≤ 50 |",
        f"| Warning or critical per 100 | {ind['warning'] + ind['critical']:.1f} | ≤ 20 |",
        f"| Consultations with ≥ 1 card | {pct(numbers['share_ge1'])} | ≤ 35 % |",
        f"| Consultations with ≥ 3 cards | {pct(numbers['share_ge3'])} | ≤ 5 % |",
        f"| Critical per 1,000 without serious pathology | {numbers['critical_per_1000_benign']:.2f} | ≤ 0.5 |",
        f"| \"Not indicated\" right (MRI drafts, n={numbers['mri_not_indicated_cards']}) | "
        f"{pct(numbers['not_indicated_precision'])} | ≥ 85 % |",
        f"| Indicated MRI drafts discouraged (n={numbers['indicated_mri_drafts']}) | "
        f"{pct(numbers['indicated_discouraged'])} | ≤ 5 % |",
        "", "| Per 100 consultations | critical | warning | info |", "|---|---|---|---|",
        f"| by indicator | {ind['critical']:.1f} | {ind['warning']:.1f} | {ind['info']:.1f} |",
        "", "| Rule | Cards per 100 consultations |", "|---|---|",
    ]
    lines += [f"| {rule} | {value:.1f} |" for rule, value in numbers["per_100_by_rule"].items()]
    return "\n".join(lines) + "\n"


def measure(n: int, seed: int, memory: bool, rule_params: Mapping[str, Any] | None = None,
            reminder_days_by_rule: Mapping[str, float] | None = None) -> dict[str, Any]:
    visits = generate(n, seed)
    runner = Runner(memory, rule_params, reminder_days_by_rule)
    shown: list[Shown] = []
    for number, visit in enumerate(visits):
        shown += run_visit(runner, number, visit, visit.patient_id, visit.encounter_id, visit.resources,
                           visit.orders, visit.when)
    return burden(visits, shown)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.population", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="consultations (default 2000)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--memory", choices=("on", "off", "both"), default="both",
                        help="card memory on, off, or both tables (default)")
    parser.add_argument("--reminder-days-by-rule", default="{}", metavar="JSON",
                        help="per-reminder intervals, as LBP_CDS_REMINDER_INTERVAL_DAYS_BY_RULE")
    args = parser.parse_args(argv)
    by_rule = json.loads(args.reminder_days_by_rule)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import logging

    logging.disable(logging.WARNING)
    modes = ("off", "on") if args.memory == "both" else (args.memory,)
    for mode in modes:
        numbers = measure(args.n, args.seed, mode == "on", reminder_days_by_rule=by_rule)
        print(table(numbers, f"Card memory {mode} (seed {args.seed})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
