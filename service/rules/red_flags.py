"""Red flags: acute referral comes before every other piece of advice (DSAM 2026, L391-L396, L644).

The red-flag *screen* says, for the flags DSAM lists (and the systemic symptoms seed 000 asks
about), which were documented present, which were checked and absent, and which are not
documented at all. Imaging cards attach it, so that "nothing documented" is never shown as
"no red flags".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ..concepts import Concept
from ..record import Measurement, PatientRecord
from .base import Finding, Params, RedFlagScreen, rule

#: What is checked for red flags, in the order a GP would read them.
SCREENED = (
    Concept.CAUDA_EQUINA,
    Concept.SADDLE_ANAESTHESIA,
    Concept.BLADDER_DYSFUNCTION,
    Concept.BOWEL_DYSFUNCTION,
    Concept.PARESIS,
    Concept.PROGRESSIVE_DEFICIT,
    Concept.MALIGNANCY,
    Concept.INFECTION,
    Concept.FRACTURE,
    Concept.TRAUMA,
    Concept.WEIGHT_LOSS,
    Concept.FEVER,
)
#: Red flags that call for acute referral rather than an outpatient scan.
ACUTE = (Concept.CAUDA_EQUINA, Concept.SADDLE_ANAESTHESIA, Concept.BLADDER_DYSFUNCTION,
         Concept.BOWEL_DYSFUNCTION, Concept.PARESIS, Concept.PROGRESSIVE_DEFICIT)
#: Documented present, these make imaging indicated (DSAM L391-L396, L402-L403).
SERIOUS = (Concept.MALIGNANCY, Concept.INFECTION, Concept.FRACTURE)
#: Risk factors for fracture: with trauma (incl. a fall) they raise the suspicion of fracture (DSAM L396, L402).
FRACTURE_RISK = (Concept.OSTEOPOROSIS, Concept.LONG_TERM_CORTICOSTEROID)
INFLAMMATORY = (Concept.NIGHT_PAIN, Concept.MORNING_STIFFNESS, Concept.IMPROVES_WITH_ACTIVITY,
                Concept.FAMILY_HISTORY_SPA)


def _recent(record: PatientRecord, concept: str, days: float) -> bool:
    """Documented present within ``days`` (or undated): "nyopstået" symptoms only."""
    limit = record.now - timedelta(days=days)
    return any(f.present and (f.when is None or f.when >= limit) for f in record.facts_of(concept))


def acute_paresis(record: PatientRecord, params: Params) -> dict[str, object] | None:
    """Paresis of grade ≤ ``max_grade`` that arose within ``window_hours`` (data contract).

    Either a paresis / foot-drop diagnosis with onset in the window, or a measured grade at
    or below the threshold whose earlier grade in the record, within the window, was higher.
    """
    window = timedelta(hours=float(params["paresis_window_hours"]))
    max_grade = float(params["paresis_max_grade"])
    for fact in record.facts_of(Concept.PARESIS):
        if fact.present and fact.when is not None and timedelta(0) <= record.now - fact.when <= window:
            return {"paresis_since": fact.when, "basis": "diagnosis"}
    grades: list[Measurement] = [m for m in record.strength if m.when is not None]
    for later in grades:
        if later.value > max_grade or later.when is None:
            continue
        for earlier in grades:
            if earlier.when is None or not earlier.when < later.when <= earlier.when + window:
                continue
            if earlier.value > later.value and record.now - later.when <= window:
                return {"grade": int(later.value), "earlier_grade": int(earlier.value),
                        "paresis_since": later.when, "basis": "grades"}
    return None


def serious_flags(record: PatientRecord, params: Params) -> list[str]:
    """Suspected cancer, infection or fracture; or a recent trauma with a fracture risk factor."""
    flags: list[str] = [c for c in SERIOUS if record.has(c)]
    if _recent(record, Concept.TRAUMA, float(params["recent_trauma_days"])) and fracture_risk(record):
        flags.append(Concept.TRAUMA)
    return flags


def fracture_risk(record: PatientRecord) -> list[str]:
    """Osteoporosis or long-term corticosteroids (also as an active systemic corticosteroid)."""
    risk: list[str] = [c for c in FRACTURE_RISK if record.has(c)]
    if record.medications_of([Concept.SYSTEMIC_CORTICOSTEROID]) and Concept.LONG_TERM_CORTICOSTEROID not in risk:
        risk.append(Concept.SYSTEMIC_CORTICOSTEROID)
    return risk


def imaging_red_flags(record: PatientRecord, params: Params) -> list[str]:
    """Everything documented now that can make imaging relevant, in screen order.

    Acute and serious flags, a recent trauma (DSAM L396: "fraktur efter traume"), and recent
    fever or weight loss (seed 000 L369: systemic symptoms that can indicate serious disease).
    """
    days = float(params["new_symptom_days"])
    found = set(acute_flags(record, params)) | set(serious_flags(record, params))
    if _recent(record, Concept.TRAUMA, float(params["recent_trauma_days"])):
        found.add(Concept.TRAUMA)
    found |= {c for c in (Concept.WEIGHT_LOSS, Concept.FEVER) if _recent(record, c, days)}
    return [c for c in SCREENED if c in found]


def red_flag_screen(record: PatientRecord, params: Params) -> RedFlagScreen:
    """Found now / checked and absent / not documented, for the flags in :data:`SCREENED`.

    A flag documented only in the past (an old fall, long-standing incontinence) is not
    "found" and not "absent"; it is simply not listed.
    """
    found = imaging_red_flags(record, params)
    return RedFlagScreen(
        found=tuple(found),
        absent=tuple(c for c in record.checked_absent(SCREENED) if c not in found),
        missing=tuple(record.not_documented(SCREENED)),
        screened_negative=record.status(Concept.RED_FLAG_SCREEN) is False,
    )


def acute_flags(record: PatientRecord, params: Params) -> list[str]:
    """Red flags present that call for acute referral (cauda equina, acute paresis, progression)."""
    days = float(params["new_symptom_days"])
    flags: list[str] = [c for c in (Concept.CAUDA_EQUINA, Concept.SADDLE_ANAESTHESIA) if record.has(c)]
    flags += [c for c in (Concept.BLADDER_DYSFUNCTION, Concept.BOWEL_DYSFUNCTION) if _recent(record, c, days)]
    if acute_paresis(record, params) is not None:
        flags.append(Concept.PARESIS)
    if record.has(Concept.PROGRESSIVE_DEFICIT):
        flags.append(Concept.PROGRESSIVE_DEFICIT)
    return flags


@rule("RF-CAUDA-EQUINA")
def cauda_equina(record: PatientRecord, params: Params) -> Iterator[Finding]:
    days = float(params["new_symptom_days"])
    signs = [c for c in (Concept.CAUDA_EQUINA, Concept.SADDLE_ANAESTHESIA) if record.has(c)]
    signs += [c for c in (Concept.BLADDER_DYSFUNCTION, Concept.BOWEL_DYSFUNCTION) if _recent(record, c, days)]
    if signs:
        yield Finding("RF-CAUDA-EQUINA", facts={"signs": tuple(signs)}, screen=red_flag_screen(record, params))


@rule("RF-ACUTE-PARESIS")
def paresis(record: PatientRecord, params: Params) -> Iterator[Finding]:
    found = acute_paresis(record, params)
    if found is None:
        return
    facts = {"since": found["paresis_since"], "max_grade": int(params["paresis_max_grade"]),
             "window_hours": int(params["paresis_window_hours"])}
    if found["basis"] == "grades":
        facts |= {"grade": found["grade"], "earlier_grade": found["earlier_grade"]}
        yield Finding("RF-ACUTE-PARESIS", facts=facts, variant="grades", screen=red_flag_screen(record, params))
    else:
        yield Finding("RF-ACUTE-PARESIS", facts=facts, screen=red_flag_screen(record, params))


@rule("RF-PROGRESSIVE-DEFICIT")
def progressive_deficit(record: PatientRecord, params: Params) -> Iterator[Finding]:
    facts = [f for f in record.facts_of(Concept.PROGRESSIVE_DEFICIT) if f.present]
    if facts:
        when = max((f.when for f in facts if f.when is not None), default=None)
        variant = None if when is not None else "undated"
        yield Finding("RF-PROGRESSIVE-DEFICIT", facts={"recorded": when} if when else {}, variant=variant,
                      screen=red_flag_screen(record, params))


@rule("RF-SERIOUS-PATHOLOGY")
def serious_pathology(record: PatientRecord, params: Params) -> Iterator[Finding]:
    flags = serious_flags(record, params)
    if not flags:
        return
    risk = fracture_risk(record)
    facts: dict[str, object] = {"flags": tuple(c for c in flags if c != Concept.TRAUMA)}
    if Concept.TRAUMA in flags:
        facts["risk"] = tuple(risk)
        variant = "trauma" if facts["flags"] == () else "both"
    else:
        variant = None
    yield Finding("RF-SERIOUS-PATHOLOGY", facts=facts, variant=variant, screen=red_flag_screen(record, params))


@rule("RF-INFLAMMATORY")
def inflammatory(record: PatientRecord, params: Params) -> Iterator[Finding]:
    if record.has(Concept.AXIAL_SPONDYLOARTHRITIS):
        return  # already diagnosed: the card is about suspicion
    features: list[str] = [c for c in INFLAMMATORY if record.has(c)]
    onset = record.earliest_onset()
    age_at_onset = None
    if record.birth_date is not None and onset is not None and onset.onset is not None:
        born = record.birth_date
        age_at_onset = onset.onset.year - born.year - ((onset.onset.month, onset.onset.day) < (born.month, born.day))
    young = age_at_onset is not None and age_at_onset < int(params["onset_age_below"])
    count = len(features) + (1 if young else 0)
    if count < int(params["min_features"]):
        return
    facts: dict[str, object] = {"features": tuple(features), "count": count}
    if young:
        facts["onset_age"] = age_at_onset
    yield Finding("RF-INFLAMMATORY", facts=facts, variant="young_onset" if young else None)
