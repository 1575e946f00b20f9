"""Alert burden (issue 15): relevance of episodes and medicines, the dry run, the population benchmark."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from benchmarks import population
from service.cli import main
from tests.ehr import ICPC2, PATIENT, SNOMED, at, card, cc, condition, drug, finding, fired, mri, run

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


def test_back_pain_documentation_through_the_years_keeps_an_old_episode_open():
    old = condition("lbp-old", ICPC2, "L03", onset=at(days=800))
    contacts = [encounter(f"e{n}", at(days=days)) for n, days in enumerate((600, 330, 30))]
    assert "FU-ANNUAL-REVIEW" in fired(run("patient-view", [PATIENT, old, *contacts]))
    # Contacts for something else are not back-pain documentation.
    others = [encounter(f"o{n}", at(days=days), reason="L90") for n, days in enumerate((600, 330, 30))]
    assert "FU-ANNUAL-REVIEW" not in fired(run("patient-view", [PATIENT, old, *others]))


def test_a_prescription_for_back_pain_since_completed_is_documentation_too():
    old = condition("lbp-old", ICPC2, "L03", onset=at(days=800))
    renewals = [drug(f"para-{days}", "N02BE01", status="completed", authoredOn=at(days=days),
                     reasonCode=[cc(ICPC2, "L03")]) for days in (500, 200)]
    record = [PATIENT, old, *renewals, encounter("e1", at(days=30))]
    assert "FU-ANNUAL-REVIEW" in fired(run("patient-view", record))


def test_new_back_pain_after_a_year_without_documentation_is_a_new_episode():
    """An L03 never closed, re-used for new pain 26 months later: new pain (DSAM L99), not chronic."""
    old = condition("lbp-old", ICPC2, "L03", onset=at(days=800))
    contact = encounter("e1", at(days=30))
    assert "FU-ANNUAL-REVIEW" not in fired(run("patient-view", [PATIENT, old, contact]))
    # Sciatica re-using an old L86: the 6-8 week clock starts at the new contact, and the card says why.
    old_sciatica = condition("l86-old", ICPC2, "L86", onset=at(days=800))
    today = [encounter("e2", at(days=20), reason="L86"), finding("slr", "straight-leg-raise-positive", at(days=20))]
    response = run("order-select", [PATIENT, old_sciatica, *today], [mri()])
    assert "IMG-NERVE-ROOT-EARLY" in fired(response)
    assert "IMG-NERVE-ROOT-INDICATED" not in fired(response)
    assert "lang pause i journalen" in str(card(response, "IMG-NERVE-ROOT-EARLY"))


def test_a_chronic_diagnosis_stays_chronic_through_a_quiet_year():
    """SNOMED chronic low back pain says the pain is long-standing; a stable patient may not be seen for a year."""
    chronic = condition("kronisk", SNOMED, "278860009", onset=at(days=800))
    contact = encounter("e1", at(days=30))
    assert "FU-ANNUAL-REVIEW" in fired(run("patient-view", [PATIENT, chronic, contact]))


def test_recoding_within_the_episode_keeps_its_clock():
    lbp = condition("lbp", ICPC2, "L03", onset=at(days=120))
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


def test_an_mri_the_record_cannot_place_in_the_window_is_not_discouraged():
    """DSAM L398: scan after 6-8 weeks without improvement. "Too early" only when the whole duration is."""
    reason_only = run("order-select", [PATIENT], [mri(reasonCode=[cc(ICPC2, "L86")])])
    unknown = card(reason_only, "IMG-NERVE-ROOT-EARLY")
    assert unknown["indicator"] == "info" and not unknown.get("suggestions")
    # Onset "October 2026" on 22 November: 3 to 7 weeks, so perhaps past 6 weeks: information, no removal.
    october = condition("l86", ICPC2, "L86", onset="2026-10")
    uncertain = card(run("order-select", [PATIENT, october], [mri()]), "IMG-NERVE-ROOT-EARLY")
    assert uncertain["indicator"] == "info" and not uncertain.get("suggestions")
    assert "usikker" in uncertain["summary"] and "3–7 uger" in uncertain["detail"]
    # Onset "November 2026": under 3 weeks whatever the day, so certainly early: a warning that offers removal.
    november = condition("l86", ICPC2, "L86", onset="2026-11")
    early = card(run("order-select", [PATIENT, november], [mri()]), "IMG-NERVE-ROOT-EARLY")
    assert early["indicator"] == "warning" and early.get("suggestions")


def test_dry_run_with_a_bad_site_parameter_says_which_in_one_line():
    result = CliRunner().invoke(main, ["dry-run", str(EXPORT)],
                                env={"LBP_CDS_RULE_PARAMS": '{"*": {"episode_gap_days": 0}}'})
    assert result.exit_code != 0
    assert "episode_gap_days" in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_a_second_contact_for_sciatica_is_the_follow_up_itself():
    """DSAM L524-L526: closer follow-up for nerve-root pain. A record without a follow-up template shows the
    follow-up as what it is, another contact for L86; the card asks for it only while none is held or booked."""
    sciatica = condition("l86", ICPC2, "L86", onset=at(days=20))
    first = encounter("e1", at(days=18), reason="L86")
    assert "FU-CLOSER-FOLLOW-UP" in fired(run("patient-view", [PATIENT, sciatica, first]))
    again = encounter("e2", at(hours=1), reason="L86")
    assert "FU-CLOSER-FOLLOW-UP" not in fired(run("patient-view", [PATIENT, sciatica, first, again]))
    booked = {**encounter("e3", at(days=-14), reason="L86"), "status": "planned"}
    assert "FU-CLOSER-FOLLOW-UP" not in fired(run("patient-view", [PATIENT, sciatica, first, booked]))
    # A contact for something else, or one from before this episode, is not a back-pain follow-up.
    knee = encounter("e4", at(hours=1), reason="L90")
    assert "FU-CLOSER-FOLLOW-UP" in fired(run("patient-view", [PATIENT, sciatica, first, knee]))
    old = encounter("e0", at(days=400), reason="L86")
    assert "FU-CLOSER-FOLLOW-UP" in fired(run("patient-view", [PATIENT, sciatica, old, first]))
