"""The clinical concepts the rules reason about, by stable id.

Each concept is one ``ValueSet`` in ``fhir_profiles/valuesets`` whose ``id`` is the
concept id below; :mod:`service.terminology` maps incoming codings onto these ids.
Rules and the record builder speak only in these ids, never in raw codes, so a site
can add its own codes (``LBP_CDS_EXTRA_VALUESETS``) without touching code.
"""

from __future__ import annotations

from enum import StrEnum


class Concept(StrEnum):
    """A clinical concept; the value is the ValueSet id in ``fhir_profiles/``."""

    # Back-pain episodes (Condition; also a draft order's reasonCode)
    LOW_BACK_PAIN = "low-back-pain"
    NERVE_ROOT = "nerve-root-involvement"
    SPINAL_STENOSIS = "spinal-stenosis"
    CHRONIC_LOW_BACK_PAIN = "chronic-low-back-pain"

    # Red flags: cauda equina and neurology
    CAUDA_EQUINA = "cauda-equina"
    SADDLE_ANAESTHESIA = "saddle-anaesthesia"
    BLADDER_DYSFUNCTION = "bladder-dysfunction"
    BOWEL_DYSFUNCTION = "bowel-dysfunction"
    PARESIS = "paresis"
    ATYPICAL_NEUROLOGY = "atypical-neurological-symptoms"
    PROGRESSIVE_DEFICIT = "progressive-neurological-deficit"
    # Red flags: serious pathology and its risk factors
    MALIGNANCY = "malignancy"
    #: Codes that *mean* a history ("H/O cancer", ICD-10 Z85): read as history of MALIGNANCY.
    MALIGNANCY_HISTORY = "malignancy-history"
    INFECTION = "spinal-infection"
    FRACTURE = "vertebral-fracture"
    TRAUMA = "trauma"
    OSTEOPOROSIS = "osteoporosis"
    LONG_TERM_CORTICOSTEROID = "long-term-corticosteroid-use"
    IMMUNOSUPPRESSION = "immunosuppression"
    INTRAVENOUS_DRUG_USE = "intravenous-drug-use"
    WEIGHT_LOSS = "unexplained-weight-loss"
    FEVER = "fever"
    # Inflammatory back disease
    AXIAL_SPONDYLOARTHRITIS = "axial-spondyloarthritis"
    NIGHT_PAIN = "night-pain"
    MORNING_STIFFNESS = "morning-stiffness-over-30-min"
    IMPROVES_WITH_ACTIVITY = "improves-with-activity"
    FAMILY_HISTORY_SPA = "family-history-spondyloarthritis"
    # Structural findings that justify a plain X-ray
    SPONDYLOLISTHESIS = "spondylolisthesis"
    SPONDYLOLYSIS = "spondylolysis"

    # Clinical findings (Observation or Condition)
    STRAIGHT_LEG_RAISE = "straight-leg-raise-positive"
    CROSSED_STRAIGHT_LEG_RAISE = "crossed-straight-leg-raise-positive"
    WALKING_LEG_PAIN = "walking-related-leg-pain"
    NO_SATISFACTORY_IMPROVEMENT = "no-satisfactory-improvement"
    SEVERE_DISABLING_PAIN = "severe-disabling-pain"
    MARKED_LIMITATION = "marked-functional-limitation"
    YELLOW_FLAG = "yellow-flag"
    BLUE_FLAG = "blue-flag"
    SICK_LEAVE = "sick-leave"
    RED_FLAG_SCREEN = "red-flag-screen"
    MUSCLE_STRENGTH = "muscle-strength-grade"
    PAIN_SCORE = "pain-score"
    PREGNANCY = "pregnancy"
    # NSAID risk conditions
    GI_RISK = "gastrointestinal-risk"
    CARDIOVASCULAR_DISEASE = "cardiovascular-disease"
    KIDNEY_DISEASE = "kidney-disease"

    # Care already given or planned (ServiceRequest, Procedure, Encounter)
    ANNUAL_REVIEW = "annual-review"
    SUPERVISED_EXERCISE = "supervised-exercise-therapy"
    PHYSIOTHERAPY = "physiotherapy"
    CHIROPRACTIC = "chiropractic"
    SURGICAL_ASSESSMENT = "surgical-assessment"
    BACK_MEDICINE = "back-medicine-assessment"
    RHEUMATOLOGY = "rheumatology-referral"
    PAIN_CENTRE = "pain-centre-referral"
    NEUROLOGY_REFERRAL = "neurology-referral"
    ACUPUNCTURE = "acupuncture"
    GLUCOCORTICOID_INJECTION = "glucocorticoid-injection"
    FOLLOW_UP = "follow-up-consultation"

    # Imaging orders (ServiceRequest.code)
    LUMBAR_MRI = "lumbar-mri"
    LUMBAR_CT = "lumbar-ct"
    LUMBAR_XRAY = "lumbar-xray"

    # Medicine classes (MedicationRequest, ATC)
    OPIOID = "opioid"
    GABAPENTINOID = "gabapentinoid"
    MUSCLE_RELAXANT = "muscle-relaxant"
    NSAID = "nsaid"
    PARACETAMOL = "paracetamol"
    BENZODIAZEPINE = "benzodiazepine"
    ANTICOAGULANT = "anticoagulant"
    SYSTEMIC_CORTICOSTEROID = "systemic-corticosteroid"

    # Answers: a finding's value (or interpretation) that says yes or no
    ANSWER_YES = "answer-yes"
    ANSWER_NO = "answer-no"


#: Concepts that establish a back-pain episode.
EPISODE_CONCEPTS = frozenset(
    {Concept.LOW_BACK_PAIN, Concept.NERVE_ROOT, Concept.SPINAL_STENOSIS, Concept.CHRONIC_LOW_BACK_PAIN}
)
#: Coded answers: they say whether the Observation's own code is present, they are no finding.
ANSWER_CONCEPTS = frozenset({Concept.ANSWER_YES, Concept.ANSWER_NO})
#: Concepts whose codes mean "history of" another concept: asserted as that concept's history.
HISTORY_OF: dict[str, str] = {Concept.MALIGNANCY_HISTORY: Concept.MALIGNANCY}
#: Concepts of lumbar imaging orders.
IMAGING_CONCEPTS = frozenset({Concept.LUMBAR_MRI, Concept.LUMBAR_CT, Concept.LUMBAR_XRAY})
#: Concepts of back-pain analgesics (for the analgesic review).
ANALGESIC_CONCEPTS = frozenset(
    {
        Concept.OPIOID,
        Concept.GABAPENTINOID,
        Concept.MUSCLE_RELAXANT,
        Concept.NSAID,
        Concept.PARACETAMOL,
        Concept.BENZODIAZEPINE,
    }
)
#: Conservative (non-surgical) treatment: its presence changes imaging indications.
CONSERVATIVE_TREATMENT_CONCEPTS = frozenset(
    {Concept.PHYSIOTHERAPY, Concept.CHIROPRACTIC, Concept.SUPERVISED_EXERCISE}
)
#: Our own CodeSystem for concepts with no verified standard code.
LBP_CODESYSTEM = "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts"
VALUESET_BASE = "https://lbp-cds.org/fhir/ValueSet/"
