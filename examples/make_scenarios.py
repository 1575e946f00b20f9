"""Generate ``examples/scenarios/`` from the clinical scenario suite (``tests/scenarios/``).

    .venv/bin/python examples/make_scenarios.py          # rewrite the library
    .venv/bin/python examples/make_scenarios.py --check  # exit 1 when the library is out of date

The suite is the acceptance test of the rules; the library is the part of it a tester wants: the
scenarios below, chosen so that together they expect every rule of the catalogue
(``tests/test_example_scenarios.py`` checks that, and that the files are what this script writes).
Resource ids get the patient id as prefix, so that every scenario can be loaded into one FHIR
server; draft orders keep their ids (they live in the EHR's order basket, not in the record).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.scenarios import load_scenario  # noqa: E402

SUITE = ROOT / "tests" / "scenarios"
OUT = ROOT / "examples" / "scenarios"

#: The scenarios of the library, from tests/scenarios/<stem>.json. Scenarios with partial or
#: zone-less dates are left out: they cannot be moved to today (service/scenario_dates.py).
SELECTED = (
    "001-cauda-equina-saddle-bladder",
    "002-saddle-anaesthesia-retracted",
    "004-bladder-present-then-absent",
    "007-acute-paresis-falling-grades",
    "010-progressive-deficit-series-12-days",
    "013-paresis-grade-3-stable",
    "017-neurologist-atypical-symptoms",
    "022-suspected-cancer-provisional",
    "027-fall-with-osteoporosis",
    "031-inflammatory-young-onset",
    "034-mri-acute-nonspecific-sandbox-cpt",
    "035-sciatica-7w-no-improvement-mri",
    "036-sciatica-4w-mri-early",
    "041-selection-only-judges-selected-order",
    "042-xray-without-indication",
    "044-stenosis-10w-mri-indicated",
    "045-neurogenic-claudication-5w-mri-early",
    "046-closed-episode-does-not-decide",
    "055-recoded-lbp-to-sciatica-episode-start",
    "058-nsaid-heart-failure-icpc-k77",
    "062-paracetamol-monotherapy",
    "063-opioid-tramadol-paracetamol",
    "064-gabapentinoid-by-medication-reference",
    "065-analgesic-review-due-medication-reference",
    "066-muscle-relaxant-and-benzodiazepine",
    "067-annual-review-overdue",
    "069-sick-leave-over-4-weeks",
    "073-physiotherapy-acute-phase",
    "074-rheumatology-referral-acute-nonspecific",
    "075-pain-centre-before-6-months",
    "076-acupuncture-recent-sciatica",
    "077-glucocorticoid-injection-no-mri",
    "078-surgical-assessment-week-9",
    "079-surgical-assessment-overdue-week-12",
    "084-order-sign-mri-opioid-physio",
    "093-sandbox-rxnorm-tramadol-sloppy-r4",
)
#: The scenario the demo opens first and the browser test uses: 3 weeks of back pain, no red flags.
FIRST = "042-xray-without-indication"
CALL_KEYS = ("hook", "draftOrders", "selections", "expect", "must_say", "must_not_say")


def _rename(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every reference to a record resource pointing at its new id."""
    if isinstance(value, dict):
        out = {k: _rename(v, ids) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in ids:
            out["reference"] = ids[ref]
        return out
    if isinstance(value, list):
        return [_rename(v, ids) for v in value]
    return value


def _label(call: dict[str, Any]) -> str:
    """What the GP does in this call, in the words the EHR shows (the draft orders' names)."""
    names = []
    for order in call.get("draftOrders", []):
        concept = order.get("code") or order.get("medicationCodeableConcept") or {}
        coding = (concept.get("coding") or [{}])[0]
        names.append(concept.get("text") or coding.get("display") or coding.get("code") or order["resourceType"])
    return ", ".join(names)


def build(stem: str) -> dict[str, Any]:
    """The files of one library scenario, by relative path."""
    source = json.loads((SUITE / f"{stem}.json").read_text(encoding="utf-8"))
    patient = source["patient"]
    pid = patient["id"]
    ids = {f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/{pid}-{r['id']}" for r in source["resources"]}
    resources = [{**_rename(r, ids), "id": f"{pid}-{r['id']}"} for r in source["resources"]]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                  for r in (patient, *resources)],
    }
    calls = []
    for call in source["calls"]:
        kept = {k: _rename(call[k], ids) for k in CALL_KEYS if k in call}
        if call.get("draftOrders"):
            kept["label"] = _label(call)
        calls.append(kept)
    meta = {
        "id": stem,
        "title": source["title"],
        "story": source["story"],
        "guideline": source["guideline"],
        "now": source["now"],
        "source": f"tests/scenarios/{stem}.json",
        "first": stem == FIRST,
        "calls": calls,
    }
    return {"scenario.json": meta, "bundle.json": bundle}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1) + "\n"


def files() -> dict[Path, str]:
    """Every file of the library, by path, with its content."""
    out: dict[Path, str] = {}
    rows = []
    for stem in SELECTED:
        folder = OUT / stem
        for name, value in build(stem).items():
            out[folder / name] = _dump(value)
    for stem in SELECTED:
        folder = OUT / stem
        # The requests are built by the service's own code from the files just generated.
        tmp = {p.name: json.loads(t) for p, t in out.items() if p.parent == folder}
        scenario = _scenario_from(tmp)
        for index, call in enumerate(scenario.calls):
            instance = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lbp-cds-example/{stem}/{index}"))
            out[folder / "requests" / f"{index + 1}-{call['hook']}.json"] = _dump(
                scenario.request(index, hook_instance=instance))
        expected = "; ".join(
            f"{c['hook']}: " + (", ".join(f"{e['rule']} ({e['indicator']})" for e in c["expect"]) or "no card")
            for c in scenario.calls)
        rows.append(f"| [`{stem}`]({stem}/) | {scenario.title} | {expected} |")
    out[OUT / "README.md"] = README.format(rows="\n".join(rows))
    return out


def _scenario_from(parts: dict[str, Any]) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, value in parts.items():
            (Path(tmp) / name).write_text(json.dumps(value), encoding="utf-8")
        return load_scenario(Path(tmp))


README = """# Example scenarios

Generated by `examples/make_scenarios.py` from the clinical scenario suite (`tests/scenarios/`);
do not edit by hand. Each folder is one Danish GP patient:

- `bundle.json`: the patient's record as a FHIR R4 **transaction** Bundle (ICPC-2, SKS, ATC,
  SNOMED as a Danish EHR sends them; revised and retracted entries, earlier episodes).
  Resource ids start with the patient id, so every scenario can go into the same FHIR server.
- `scenario.json`: title, story, the guideline lines the expectation rests on, the scenario's
  clock (`now`) and the hook calls: `hook`, `draftOrders`, `selections`, and `expect` — the cards
  the guideline asks for (rule id and indicator; `[]` means no card).
- `requests/N-hook.json`: each call as a complete CDS Hooks request with every prefetch key filled.

**Dates.** A scenario is written on its own clock (`now`). The service judges against today, so
every date is moved by *today − now* before it is used: dateTimes by that exact time, dates by
the number of calendar days (`service/scenario_dates.py`). The demo page (`/demo`),
`python -m service load-fhir` and `python -m service scenarios ID --request N` do that for you;
the files here keep the scenario's own dates.

```sh
.venv/bin/python -m service scenarios                        # list
.venv/bin/python -m service scenarios {first} --run   # run every call, compare with expect
.venv/bin/python -m service scenarios {first} --request 1 > req.json   # moved to today
.venv/bin/python -m service load-fhir http://127.0.0.1:8081/fhir     # every patient into a FHIR server
```

| Scenario | Patient | Expected cards |
|---|---|---|
{rows}
""".replace("{first}", FIRST)


def main() -> int:
    wanted = files()
    check = "--check" in sys.argv[1:]
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = [p for p in OUT.rglob("*") if p.is_file() and p not in wanted]
    if check:
        for path in [*stale, *extra]:
            print(f"out of date: {path.relative_to(ROOT)}")
        return 1 if stale or extra else 0
    for path in extra:
        path.unlink()
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
    print(f"{len(SELECTED)} scenarios, {len(stale)} file(s) written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
