"""Alert burden (issue 15): relevance of episodes and medicines, the dry run, the population benchmark."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from benchmarks import population
from service.cli import main
from tests.ehr import ICPC2, PATIENT, at, cc, condition, drug, fired, run

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "benchmarks" / "export-small"
AMB = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}


def encounter(rid: str, when: str, reason: str | None = "L03") -> dict:
    resource = {"resourceType": "Encounter", "id": rid, "status": "finished", "class": AMB,
                "subject": {"reference": "Patient/p1"}, "period": {"start": when}}
    if reason:
        resource["reasonCode"] = [cc(ICPC2, reason)]
    return resource


def test_an_episode_with_nothing_recorded_for_two_years_is_over():
    old = condition("lbp-old", ICPC2, "L03", onset=at(days=800))
    assert "FU-ANNUAL-REVIEW" not in fired(run("patient-view", [PATIENT, old]))


def test_back_pain_documentation_keeps_an_old_episode_open():
    old = condition("lbp-old", ICPC2, "L03", onset=at(days=800))
    contact = encounter("e1", at(days=30))
    assert "FU-ANNUAL-REVIEW" in fired(run("patient-view", [PATIENT, old, contact]))
    # A contact for something else does not.
    other = encounter("e2", at(days=30), reason="L90")
    assert "FU-ANNUAL-REVIEW" not in fired(run("patient-view", [PATIENT, old, other]))


def test_recoding_within_the_episode_keeps_its_clock():
    lbp = condition("lbp", ICPC2, "L03", onset=at(days=400))
    sciatica = condition("l86", ICPC2, "L86", onset=at(days=20))
    assert "FU-ANNUAL-REVIEW" in fired(run("patient-view", [PATIENT, lbp, sciatica]))


def test_medicine_for_another_recorded_indication_gets_no_back_pain_card():
    lbp = condition("lbp", ICPC2, "L03", onset=at(days=10))
    coded = drug("ox-1", "N02AX02", reasonCode=[cc(ICPC2, "L90")])
    free_text = drug("ox-2", "N02AX02", reasonCode=[{"text": "knæartrose"}])
    back_text = drug("ox-3", "N02AX02", reasonCode=[{"text": "lændesmerter"}])
    assert "MED-OPIOID" not in fired(run("order-select", [PATIENT, lbp], [coded]))
    assert "MED-OPIOID" not in fired(run("order-select", [PATIENT, lbp], [free_text]))
    assert "MED-OPIOID" in fired(run("order-select", [PATIENT, lbp], [back_text]))
    assert "MED-OPIOID" in fired(run("order-select", [PATIENT, lbp], [drug("ox-4", "N02AX02")]))


def test_renewal_of_a_prescription_for_another_illness_gets_no_back_pain_card():
    lbp = condition("lbp", ICPC2, "L03", onset=at(days=10))
    knee = {"resourceType": "MedicationRequest", "id": "oa-1", "status": "active", "intent": "order",
            "medicationCodeableConcept": cc("http://www.whocc.no/atc", "N02AX02"), "authoredOn": at(days=90),
            "subject": {"reference": "Patient/p1"}, "reasonCode": [cc(ICPC2, "L90")]}
    named = drug("r-1", "N02AX02", priorPrescription={"reference": "MedicationRequest/oa-1"})
    assert "MED-OPIOID" not in fired(run("order-select", [PATIENT, lbp, knee], [named]))
    assert "MED-OPIOID" not in fired(run("order-select", [PATIENT, lbp, knee], [drug("r-2", "N02AX02")]))
    # An analgesic review is not asked for a medicine prescribed for the knee either.
    assert "FU-ANALGESIC-REVIEW" not in fired(run("patient-view", [PATIENT, lbp, knee]))


def test_dry_run_on_the_small_export():
    off = CliRunner().invoke(main, ["dry-run", str(EXPORT), "--memory", "off"])
    assert off.exit_code == 0, off.output
    assert "8 back-pain contacts, 5 cards" in off.output
    # Where the annual review is due it speaks for exercise too (DSAM L684): one card, not two.
    assert "| FU-ANNUAL-REVIEW | 2 | 25.0 |" in off.output
    assert "| REF-EXERCISE-THERAPY | 1 | 12.5 |" in off.output
    assert "| IMG-NOT-INDICATED | 2 | 25.0 |" in off.output
    on = CliRunner().invoke(main, ["dry-run", str(EXPORT), "--memory", "on"])
    assert on.exit_code == 0, on.output
    assert "8 back-pain contacts, 3 cards" in on.output
    assert "| Cards per 100 contacts | 37.5 |" in on.output
    assert "| IMG-NOT-INDICATED | 1 | 12.5 |" in on.output
    # No medicine card for the knee-osteoarthritis NSAID; the old, never-closed episode is over.
    assert "MED-" not in on.output and "MED-" not in off.output


def test_population_benchmark_is_seeded_and_deterministic():
    first = population.measure(120, seed=7, memory=True)
    again = population.measure(120, seed=7, memory=True)
    assert first == again
    off = population.measure(120, seed=7, memory=False)
    assert first["consultations"] == off["consultations"] == 120
    assert first["cards"] < off["cards"]
    assert off["critical_per_1000_benign"] == 0
    text = population.table(first, "smoke")
    assert "Cards per 100 consultations" in text and "Indicated MRI drafts discouraged" in text
