"""The example library (``examples/scenarios/``): every call gives the cards its file promises, on any day.

Each call runs through the same harness as the clinical suite (``tests/test_scenarios.py``:
prefetch and FHIR-fallback mode, the same checks) on the scenario's own clock, moved to today,
and moved to awkward moments (just before midnight, across a daylight-saving change), because
the demo and ``load-fhir`` move every scenario to the day they are used.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.engine import Options, evaluate_request
from service.registry import SERVICES
from service.scenario_dates import CPH, Shift, shift_resources
from service.scenarios import Scenario, load_library, transaction
from tests.test_scenarios import (
    MODES,
    SERVICE_FOR_HOOK,
    StubSource,
    _fhir_valid,
    _kb,
    _request,
    _terms,
    check_response,
)

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = load_library(ROOT / "examples" / "scenarios")
#: When the scenario is looked at: its own clock, today, and moments that test the date shift.
CLOCKS = ("own", "today", "late-evening-summer", "just-after-midnight-winter")


def _target(scenario: Scenario, clock: str) -> datetime:
    if clock == "own":
        return scenario.now
    if clock == "today":
        return datetime.now(CPH)
    if clock == "late-evening-summer":
        return datetime(2027, 7, 3, 23, 41, tzinfo=CPH)
    return datetime(2028, 1, 15, 0, 7, tzinfo=CPH)


def _as_suite(scenario: Scenario) -> dict[str, Any]:
    """The scenario in the clinical suite's shape, for its harness."""
    return {"title": scenario.title, "guideline": scenario.guideline, "patient": scenario.patient,
            "resources": scenario.resources, "calls": list(scenario.calls)}


def _cases() -> list[Any]:
    return [pytest.param(sid, index, mode, clock, id=f"{sid}[{index + 1}-{call['hook']}][{mode}][{clock}]")
            for sid, scenario in LIBRARY.items() for index, call in enumerate(scenario.calls)
            for mode in MODES for clock in CLOCKS]


@pytest.mark.parametrize(("sid", "index", "mode", "clock"), _cases())
def test_example_gives_the_promised_cards(sid: str, index: int, mode: str, clock: str) -> None:
    scenario = LIBRARY[sid].moved(_target(LIBRARY[sid], clock))
    suite = _as_suite(scenario)
    call = suite["calls"][index]
    request = _request(suite, call, mode, index)
    source = StubSource(suite["resources"], suite["patient"]) if mode == "fallback" else None
    service = SERVICES[SERVICE_FOR_HOOK[call["hook"]]]
    response = evaluate_request(request, service, _kb(), _terms(), Options(language="da", explain=True, strict=True),
                                now=scenario.now, source=source).response
    check_response(sid, suite, call, response)


def test_library_has_twenty_scenarios_covering_every_rule() -> None:
    assert len(LIBRARY) >= 20
    expected = {e["rule"] for s in LIBRARY.values() for c in s.calls for e in c["expect"]}
    assert sorted(set(_kb().rules) - expected) == [], "rules no example scenario expects"


def test_library_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_scenarios", ROOT / "examples" / "make_scenarios.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [str(p.relative_to(ROOT)) for p, text in module.files().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, "run .venv/bin/python examples/make_scenarios.py: " + ", ".join(stale[:5])


@pytest.mark.parametrize("sid", sorted(LIBRARY))
def test_bundle_is_a_loadable_r4_transaction(sid: str) -> None:
    scenario = LIBRARY[sid]
    assert scenario.bundle["type"] == "transaction"
    ids = set()
    for entry in scenario.bundle["entry"]:
        resource = entry["resource"]
        key = f"{resource['resourceType']}/{resource['id']}"
        assert entry["request"] == {"method": "PUT", "url": key}
        assert resource["resourceType"] == "Patient" or resource["id"].startswith(scenario.patient["id"] + "-"), \
            "record ids start with the patient id, so scenarios can share one FHIR server"
        ids.add(key)
        _fhir_valid(resource, zoneless_ok=False)
    refs = {m for m in json.dumps(scenario.bundle).split('"reference": "')[1:]}
    for ref in (r.split('"')[0] for r in refs):
        assert ref in ids, f"{ref} points outside the record"


def test_ids_are_unique_across_the_library() -> None:
    keys = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for s in LIBRARY.values()
            for e in s.bundle["entry"]]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("sid", sorted(LIBRARY))
def test_stored_requests_are_the_calls(sid: str) -> None:
    scenario = LIBRARY[sid]
    folder = ROOT / "examples" / "scenarios" / sid / "requests"
    for index, call in enumerate(scenario.calls):
        stored = json.loads((folder / f"{index + 1}-{call['hook']}.json").read_text(encoding="utf-8"))
        built = scenario.request(index, hook_instance=stored["hookInstance"])
        assert stored == built


# -- the date shift -----------------------------------------------------------------------------


def test_shift_keeps_every_distance_to_now() -> None:
    now = datetime(2026, 11, 22, 10, 15, tzinfo=CPH)
    target = datetime(2027, 6, 30, 23, 50, tzinfo=CPH)
    shift = Shift.between(now, target)
    assert shift.days == 220
    moved = shift_resources({"onsetDateTime": "2026-11-01", "effectiveDateTime": "2026-11-22T00:15:00+01:00",
                             "birthDate": "1971-04-12", "code": "2026-11-01", "issued": "2026-11-21T09:00:00Z"},
                            shift)
    assert moved["code"] == "2026-11-01", "codes are never dates"
    assert (target.date() - datetime.fromisoformat(moved["onsetDateTime"]).date()).days == 21
    assert target - datetime.fromisoformat(moved["effectiveDateTime"]) == timedelta(hours=10)
    assert moved["issued"].endswith("Z")
    issued = datetime.fromisoformat(moved["issued"].replace("Z", "+00:00"))
    assert target - issued == now - datetime.fromisoformat("2026-11-21T09:00:00+00:00")
    assert moved["birthDate"] == "1971-11-18", "age stays what it was on the scenario's day"

def test_library_refuses_partial_dates(tmp_path: Path) -> None:
    from service.scenarios import ScenarioError, load_scenario

    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p"}, "request": {"method": "PUT", "url": "Patient/p"}},
        {"resource": {"resourceType": "Condition", "id": "p-c", "onsetDateTime": "2026-08"},
         "request": {"method": "PUT", "url": "Condition/p-c"}}]}
    (tmp_path / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    meta = {"id": "x", "title": "t", "story": "s", "guideline": "g", "now": "2026-11-22T10:00:00+01:00", "calls": []}
    (tmp_path / "scenario.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ScenarioError, match="partial"):
        load_scenario(tmp_path)


def test_transaction_puts_every_resource_under_its_id() -> None:
    scenario = next(iter(LIBRARY.values()))
    bundle = transaction(scenario.bundle)
    assert bundle["type"] == "transaction"
    assert all(e["request"]["method"] == "PUT" for e in bundle["entry"])
