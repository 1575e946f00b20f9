"""Back-pain medicines ordered (draft MedicationRequests by ATC class), against DSAM 2026 §medicin.

DSAM's evidence box (L607-L614) is the source: paracetamol not as monotherapy, NSAID short and
with caution, opioids generally not, gabapentinoids not, muscle relaxants not routinely. The
2016 NKR has no medicine recommendations (its L280) and is never cited here. Rules speak only
for patients with a known back-pain episode: the indication of a medicine is not coded.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..concepts import EPISODE_CONCEPTS, Concept
from ..record import DraftOrder, PatientRecord
from .base import Finding, Params, rule
from .common import back_pain_duration

NSAID_RISKS = (Concept.GI_RISK, Concept.CARDIOVASCULAR_DISEASE, Concept.KIDNEY_DISEASE, Concept.PREGNANCY)


def _drafts(record: PatientRecord, concept: str) -> list[DraftOrder]:
    """Selected drafts of ``concept`` for back pain: an open episode, or the order's reason says so.

    A draft whose reason names something else (knee osteoarthritis) is not about back pain.
    """
    out = []
    for order in record.orders_of([concept]):
        if not order.selected or order.resource_type != "MedicationRequest":
            continue
        if order.reason_concepts and not order.reason_concepts & EPISODE_CONCEPTS:
            continue
        if record.for_order(order, EPISODE_CONCEPTS).episodes_of(EPISODE_CONCEPTS):
            out.append(order)
    return out


def _simple(rule_id: str, concept: str) -> None:
    """Register a rule that speaks for every selected draft of ``concept``."""

    @rule(rule_id)
    def check(record: PatientRecord, params: Params) -> Iterator[Finding]:
        for order in _drafts(record, concept):
            yield Finding(rule_id, facts={"medicine": order.display or concept}, order_ref=order.ref,
                          suggestions=("remove-order",))

    check.__name__ = rule_id.lower().replace("-", "_")


_simple("MED-OPIOID", Concept.OPIOID)
_simple("MED-GABAPENTINOID", Concept.GABAPENTINOID)
_simple("MED-MUSCLE-RELAXANT", Concept.MUSCLE_RELAXANT)
_simple("MED-BENZODIAZEPINE", Concept.BENZODIAZEPINE)


@rule("MED-PARACETAMOL-MONOTHERAPY")
def paracetamol_monotherapy(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """Paracetamol ordered again in this episode, alone, for pain that may still be acute.

    DSAM names paracetamol the first choice, short and as needed (L606, L585), and its evidence
    box finds no clinically relevant effect and advises against monotherapy, with "no effect →
    stop, not titrate up" (L609, L614). Read together: the first try gets no card; paracetamol
    ordered again, with no NSAID, does (``first_prescription`` true: the first one too). The box
    speaks of acute pain, up to three months in DSAM (L99): pain certainly longer, or coded
    chronic, gets no card (the annual review reviews its medicines, L672-L676).
    """
    if record.medications_of([Concept.NSAID]) or record.orders_of([Concept.NSAID]):
        return
    weeks = back_pain_duration(record).whole_weeks
    if record.episodes_of([Concept.CHRONIC_LOW_BACK_PAIN]) or (
            weeks is not None and weeks >= int(params["chronic_weeks"])):
        return
    tried = record.tried_in_episode([Concept.PARACETAMOL])
    if not tried and not params["first_prescription"]:
        return
    for order in _drafts(record, Concept.PARACETAMOL):
        facts: dict[str, object] = {"medicine": order.display or Concept.PARACETAMOL}
        if tried:
            facts["since"] = tried[0].authored
        yield Finding("MED-PARACETAMOL-MONOTHERAPY", facts=facts, order_ref=order.ref,
                      variant=None if tried else "first")


@rule("MED-NSAID-CAUTION")
def nsaid_caution(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """An NSAID for a patient with a documented reason for caution; lists what is not documented."""
    older = int(params["older_age"])
    risks: list[str] = [c for c in NSAID_RISKS if record.has(c)]
    if record.medications_of([Concept.ANTICOAGULANT]) or record.orders_of([Concept.ANTICOAGULANT]):
        risks.append(Concept.ANTICOAGULANT)
    age = record.age
    facts: dict[str, object] = {}
    if age is not None and age >= older:
        facts["age"] = age
    if not risks and "age" not in facts:
        return
    missing = record.not_documented(NSAID_RISKS[:3])
    variant = "age_only" if not risks else ("age_and_risks" if "age" in facts else None)
    for order in _drafts(record, Concept.NSAID):
        yield Finding(
            "MED-NSAID-CAUTION",
            facts={**facts, "medicine": order.display or Concept.NSAID, "risks": tuple(risks)},
            not_documented=tuple(missing),
            order_ref=order.ref,
            variant=variant,
        )
