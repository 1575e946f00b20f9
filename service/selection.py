"""Which resources of a request any rule can use, decided from their raw codes before any is parsed.

A GP record is mostly lab values, blood pressures and chronic medicines; only a few resources
in a hundred carry a code the terminology maps to a concept. Parsing (pydantic validation of
the whole FHIR model) is what costs, so a resource is parsed only when the record builder
could use it:

- the Patient, always;
- a Condition, ServiceRequest or Procedure whose ``code``, an Encounter whose ``type``, or an
  Observation whose ``code`` or ``valueCodeableConcept`` maps to a concept (answer codes such as
  SNOMED 373067005 "no" alone do not count, as in :mod:`service.facts`);
- a MedicationRequest whose ``medicationCodeableConcept`` maps to a concept, or that names its
  medicine by ``medicationReference`` (resolved only after parsing);
- a Medication some MedicationRequest (in the record or among the draft orders) refers to;
- anything a ``reasonReference`` points to.

The test is a superset of what :mod:`service.facts` reads (codes are compared exactly as the
parser would keep them: the models coerce nothing), so the record is the same as when every
resource is parsed (``tests/test_selection.py`` checks this). What changes: a resource no rule
could use is not reported when it is unreadable, belongs to another patient or needed a repair;
those are counted instead (``skipped``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .concepts import ANSWER_CONCEPTS
from .fhir import label

#: The fields whose codes tell whether the record builder reads a resource, by resource type.
CODED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Condition": ("code",),
    "Observation": ("code", "valueCodeableConcept"),
    # reasonCode: a contact, referral or prescription *for back pain* keeps an episode open (facts.py).
    "ServiceRequest": ("code", "reasonCode"),
    "Procedure": ("code", "reasonCode"),
    "Encounter": ("type", "reasonCode"),
    "MedicationRequest": ("medicationCodeableConcept", "reasonCode"),
}


class ConceptLookup(Protocol):
    """What the selection needs from :class:`service.terminology.Terminology`."""

    def concepts_of(self, system: str | None, code: str | None) -> frozenset[str]: ...


@dataclass(frozen=True)
class Selection:
    """The resources to parse, in their original order, and how many were left unparsed."""

    kept: tuple[Mapping[str, Any], ...]
    skipped: int


def _items(value: Any) -> Sequence[Any]:
    """A list as is, a single object as a list of one (the parser wraps those too)."""
    return value if isinstance(value, list) else (value,)


def _references(resource: Mapping[str, Any], field: str) -> list[str]:
    return [r["reference"] for r in _items(resource.get(field))
            if isinstance(r, dict) and isinstance(r.get("reference"), str)]


def _medication_key(target: str) -> str:
    """The key :func:`service.facts._medicine_of` looks a ``medicationReference`` up by."""
    return "Medication/" + target.rsplit("Medication/", 1)[-1] if "Medication/" in target else target


def referenced(raws: Iterable[Any]) -> tuple[set[str], set[str]]:
    """``(medicines, reasons)``: the ``Type/id`` keys that medicationReference and reasonReference name."""
    medicines: set[str] = set()
    reasons: set[str] = set()
    for raw in raws:
        if not isinstance(raw, dict):
            continue
        if "medicationReference" in raw:
            medicines.update(_medication_key(t) for t in _references(raw, "medicationReference"))
        if "reasonReference" in raw:
            reasons.update("/".join(t.split("/")[-2:]) for t in _references(raw, "reasonReference"))
    return medicines, reasons


def usable(resource: Mapping[str, Any], terms: ConceptLookup) -> bool:
    """Whether a rule could read this resource, by its codes alone (references are :func:`select`'s part).

    Called for every resource of a record (thousands), so it is one tight loop: each Coding of a
    CodeableConcept or a list of them, a single object read as a list of one (as the parser wraps it).
    """
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        return True
    fields = CODED_FIELDS.get(rtype) if isinstance(rtype, str) else None
    if fields is None:
        return False
    lookup = terms.concepts_of
    for name in fields:
        value = resource.get(name)
        if value is None:
            continue
        for concept in value if value.__class__ is list else (value,):
            if concept.__class__ is not dict:
                continue
            coding = concept.get("coding")
            for item in coding if coding.__class__ is list else (coding,):
                if item.__class__ is dict:
                    found = lookup(item.get("system"), item.get("code"))
                    if found and (rtype != "Observation" or not found <= ANSWER_CONCEPTS):
                        return True
    return rtype == "MedicationRequest" and bool(resource.get("medicationReference"))


def select(resources: Sequence[Mapping[str, Any]], draft_orders: Iterable[Any], terms: ConceptLookup) -> Selection:
    """The resources worth parsing (see the module docstring), in their order."""
    medicines, reasons = referenced([*resources, *draft_orders])
    kept = tuple(
        r for r in resources
        if usable(r, terms)
        or (reasons and label(r) in reasons)
        or (medicines and r.get("resourceType") == "Medication" and label(r) in medicines)
    )
    return Selection(kept, len(resources) - len(kept))
