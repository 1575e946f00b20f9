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
    """Paracetamol ordered with no NSAID active or ordered alongside."""
    if record.medications_of([Concept.NSAID]) or record.orders_of([Concept.NSAID]):
        return
    for order in _drafts(record, Concept.PARACETAMOL):
        yield Finding("MED-PARACETAMOL-MONOTHERAPY", facts={"medicine": order.display or Concept.PARACETAMOL},
                      order_ref=order.ref)


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
