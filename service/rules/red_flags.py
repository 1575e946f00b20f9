"""Red flags: acute referral comes before every other piece of advice (DSAM 2026, L391-L396, L644).

The red-flag *screen* says, for the flags DSAM lists (and the systemic symptoms seed 000 asks
about), which were documented present, which were checked and absent, and which are not
documented at all. Imaging cards attach it, so that "nothing documented" is never shown as
"no red flags".
"""

from __future__ import annotations

from collections.abc import Iterator

from ..concepts import EPISODE_CONCEPTS, Concept
from ..record import PatientRecord
from .base import Finding, Params, RedFlagScreen, rule
from .strength import acute_paresis, current_paresis, measured_progression

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
#: A suspicion of these is DSAM's "mistanke om": acute work-up (L391-L392, L644).
SUSPECTED_SERIOUS = (Concept.MALIGNANCY, Concept.INFECTION)
#: Risk factors for fracture: with trauma (incl. a fall) they raise the suspicion of fracture (DSAM L396, L402).
FRACTURE_RISK = (Concept.OSTEOPOROSIS, Concept.LONG_TERM_CORTICOSTEROID)
INFLAMMATORY = (Concept.NIGHT_PAIN, Concept.MORNING_STIFFNESS, Concept.IMPROVES_WITH_ACTIVITY,
                Concept.FAMILY_HISTORY_SPA)


def progressive(record: PatientRecord, params: Params) -> bool:
    """Progressive neurological deficit now: recorded as such, or a falling strength series."""
    return record.has(Concept.PROGRESSIVE_DEFICIT) or measured_progression(record, params) is not None


def serious_flags(record: PatientRecord, params: Params) -> list[str]:
    """Confirmed current cancer, infection or fracture; or a recent trauma with a fracture risk factor."""
    flags: list[str] = [c for c in SERIOUS if record.confirmed(c)]
    if record.recent(Concept.TRAUMA, float(params["recent_trauma_days"])) and fracture_risk(record):
        flags.append(Concept.TRAUMA)
    return flags


def suspected_flags(record: PatientRecord) -> list[str]:
    """Cancer or infection recorded as a suspicion (provisional or differential diagnosis)."""
    return [c for c in SUSPECTED_SERIOUS if record.suspected(c)]


def fracture_risk(record: PatientRecord) -> list[str]:
    """Osteoporosis or long-term corticosteroids (also as an active systemic corticosteroid)."""
    risk: list[str] = [c for c in FRACTURE_RISK if record.has(c)]
    if record.medications_of([Concept.SYSTEMIC_CORTICOSTEROID]) and Concept.LONG_TERM_CORTICOSTEROID not in risk:
        risk.append(Concept.SYSTEMIC_CORTICOSTEROID)
    return risk


def imaging_red_flags(record: PatientRecord, params: Params) -> list[str]:
    """Everything documented now that can make imaging relevant, in screen order.

    Acute and serious flags, a suspicion of cancer, infection or fracture, a recent trauma
    (DSAM L396: "fraktur efter traume"), and recent fever or weight loss (seed 000 L369:
    systemic symptoms that can indicate serious disease).
    """
    days = float(params["new_symptom_days"])
    found = set(acute_flags(record, params)) | set(serious_flags(record, params))
    found |= {c for c in SERIOUS if record.suspected(c)}
    if record.recent(Concept.TRAUMA, float(params["recent_trauma_days"])):
        found.add(Concept.TRAUMA)
    found |= {c for c in (Concept.WEIGHT_LOSS, Concept.FEVER) if record.recent(c, days)}
    return [c for c in SCREENED if c in found]


def red_flag_screen(record: PatientRecord, params: Params) -> RedFlagScreen:
    """Found now / checked and absent now / documented only in the past / not documented now.

    A flag documented only in the past (an old fall, a previous cancer, incontinence a year
    ago) is listed as history: not found now, and never "absent".
    """
    found = imaging_red_flags(record, params)
    absent = [c for c in record.checked_absent(SCREENED) if c not in found]
    history = [c for c in SCREENED if c not in found and record.status(c) is not True and record.history(c)]
    missing = [c for c in record.not_documented(SCREENED) if c not in found and c not in history]
    return RedFlagScreen(
        found=tuple(found),
        absent=tuple(absent),
        missing=tuple(missing),
        history=tuple(history),
        screened_negative=record.status(Concept.RED_FLAG_SCREEN) is False,
    )


def cauda_equina_signs(record: PatientRecord, params: Params) -> list[str]:
    """Cauda equina now: the diagnosis, saddle anaesthesia, or bladder/bowel dysfunction that is new."""
    days = float(params["new_symptom_days"])
    signs: list[str] = [c for c in (Concept.CAUDA_EQUINA, Concept.SADDLE_ANAESTHESIA) if record.has(c)]
    signs += [c for c in (Concept.BLADDER_DYSFUNCTION, Concept.BOWEL_DYSFUNCTION) if record.recent(c, days)]
    return signs


def acute_flags(record: PatientRecord, params: Params) -> list[str]:
    """Red flags present that call for acute referral (cauda equina, acute paresis, progression)."""
    flags = cauda_equina_signs(record, params)
    if acute_paresis(record, params) is not None:
        flags.append(Concept.PARESIS)
    if progressive(record, params):
        flags.append(Concept.PROGRESSIVE_DEFICIT)
    return flags


@rule("RF-CAUDA-EQUINA")
def cauda_equina(record: PatientRecord, params: Params) -> Iterator[Finding]:
    signs = cauda_equina_signs(record, params)
    if signs:
        yield Finding("RF-CAUDA-EQUINA", facts={"signs": tuple(signs)}, screen=red_flag_screen(record, params))


@rule("RF-ACUTE-PARESIS")
def paresis(record: PatientRecord, params: Params) -> Iterator[Finding]:
    found = acute_paresis(record, params)
    if found is None:
        return
    facts: dict[str, object] = {"since": found.since, "max_grade": int(params["paresis_max_grade"]),
                                "window_hours": int(params["paresis_window_hours"])}
    if found.grade is not None:
        facts["grade"] = found.grade
    variant = None
    if found.basis == "grades":
        facts["earlier_grade"] = found.earlier_grade
        variant = "grades"
    elif found.basis == "diagnosis-and-grade":
        variant = "diagnosis_and_grade"
    yield Finding("RF-ACUTE-PARESIS", facts=facts, variant=variant, screen=red_flag_screen(record, params))


@rule("RF-PROGRESSIVE-DEFICIT")
def progressive_deficit(record: PatientRecord, params: Params) -> Iterator[Finding]:
    screen = red_flag_screen(record, params)
    recorded = record.current(Concept.PROGRESSIVE_DEFICIT)
    if recorded is not None and recorded.present:
        facts = {"recorded": recorded.when} if recorded.when else {}
        yield Finding("RF-PROGRESSIVE-DEFICIT", facts=facts, variant=None if recorded.when else "undated",
                      screen=screen)
        return
    measured = measured_progression(record, params)
    if measured is None or acute_paresis(record, params) is not None:
        return  # one card per problem: the acute-paresis card already asks for acute referral
    _, top, last = measured
    yield Finding("RF-PROGRESSIVE-DEFICIT", variant="grades", screen=screen,
                  facts={"earlier_grade": int(top.value), "earlier": top.when, "grade": int(last.value),
                         "measured": last.when})


@rule("RF-PARESIS-NON-ACUTE")
def paresis_non_acute(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """Grade ≤ 3 that is not new: hospital assessment, but not acute (DSAM L305, L647)."""
    if acute_flags(record, params):
        return
    found = current_paresis(record, params)
    if found is None:
        return
    if found.basis == "diagnosis" and not record.episodes_of(EPISODE_CONCEPTS):
        return  # a paresis diagnosis alone (after a stroke, say) is not about back pain
    facts: dict[str, object] = {"max_grade": int(params["paresis_max_grade"])}
    if found.grade is not None:
        facts |= {"grade": found.grade, "measured": found.since}
        variant = None
    else:
        facts["since"] = found.since
        variant = "diagnosis"
    yield Finding("RF-PARESIS-NON-ACUTE", facts=facts, variant=variant, screen=red_flag_screen(record, params))


@rule("RF-SUSPECTED-SERIOUS")
def suspected_serious(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """A suspicion of cancer or infection recorded: acute work-up (DSAM L391-L392, L644)."""
    flags = suspected_flags(record)
    if flags:
        yield Finding("RF-SUSPECTED-SERIOUS", facts={"flags": tuple(flags)}, screen=red_flag_screen(record, params))


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
    if record.has(Concept.AXIAL_SPONDYLOARTHRITIS) or record.history(Concept.AXIAL_SPONDYLOARTHRITIS):
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
