"""``python -m service load-fhir``: example patients into a real FHIR server (sekmet-fhir), then the
service reads them from there (no prefetch, as a client that leaves fetching to us) and gives the
cards the scenario promises, today.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from service.cli import main
from service.scenario_dates import CPH
from service.scenarios import SERVICE_FOR_HOOK, load_library

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LIBRARY = load_library(ROOT / "examples" / "scenarios")
LOADED = ("042-xray-without-indication", "067-annual-review-overdue", "084-order-sign-mri-opioid-physio")


@pytest.fixture(scope="module")
def loaded(fhir_server: str) -> str:
    result = CliRunner().invoke(main, ["load-fhir", fhir_server, *LOADED])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == len(LOADED)
    return fhir_server


def test_loading_twice_overwrites(loaded: str) -> None:
    result = CliRunner().invoke(main, ["load-fhir", loaded, "042"])
    assert result.exit_code == 0, result.output
    conditions = requests.get(f"{loaded}/Condition?patient=pt-042", timeout=10).json()
    assert conditions["total"] == 1


def test_dates_are_moved_to_today(loaded: str) -> None:
    condition = requests.get(f"{loaded}/Condition/pt-042-lbp-1", timeout=10).json()
    onset = date.fromisoformat(condition["onsetDateTime"][:10])
    assert (datetime.now(CPH).date() - onset).days == 21  # three weeks, as on the scenario's day


@pytest.mark.parametrize("sid", LOADED)
def test_the_service_reads_the_loaded_patient_and_gives_the_promised_cards(loaded: str, client, sid: str) -> None:
    scenario = LIBRARY[sid].moved(datetime.now(CPH))
    for index, call in enumerate(scenario.calls):
        body = scenario.request(index, prefetch=False)
        body["fhirServer"] = loaded
        answer = client.post(f"/cds-services/{SERVICE_FOR_HOOK[call['hook']]}", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        got = {(c["extension"]["dk.lbp-cds.rule"]["ruleId"], c["indicator"]) for c in answer.get_json()["cards"]}
        assert got == {(e["rule"], e["indicator"]) for e in call["expect"]}, (sid, index)


def test_unknown_scenario_is_an_error(loaded: str) -> None:
    result = CliRunner().invoke(main, ["load-fhir", loaded, "no-such-scenario"])
    assert result.exit_code != 0 and "names 0 scenarios" in result.output


def test_unreachable_server_is_an_error() -> None:
    result = CliRunner().invoke(main, ["load-fhir", "http://127.0.0.1:9/fhir", "042"])
    assert result.exit_code != 0 and "cannot reach" in result.output
