"""The example scenario library (``examples/scenarios/``): realistic patients for testers and the demo.

Each scenario is a folder: ``bundle.json`` (a FHIR R4 transaction Bundle: the patient's record,
loadable into any FHIR server), ``scenario.json`` (title, story, the guideline lines, the fixed
``now``, and the hook calls with the cards expected: rule id and indicator) and
``requests/N-hook.json`` (each call as a complete CDS Hooks request, prefetch filled, on the
scenario's own clock). Loaded once: by the demo at start-up and by the command line.

A scenario is written on a fixed clock; :meth:`Scenario.moved` shifts it so that its ``now`` is
the moment given (:mod:`service.scenario_dates`), which is how the demo, ``load-fhir`` and
``scenarios --request`` show it on any day.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .registry import SERVICES
from .scenario_dates import Shift, check_movable, shift_resources

SERVICE_FOR_HOOK = {s.hook: s.id for s in SERVICES.values()}
ORDER_TYPES = ("ServiceRequest", "MedicationRequest")
REQUIRED = ("id", "title", "story", "guideline", "now", "calls")


class ScenarioError(Exception):
    """A scenario folder is malformed (names the file)."""


@dataclass(frozen=True)
class Scenario:
    """One patient with the hook calls a GP would make and the cards each call should give."""

    id: str
    title: str
    story: str
    guideline: str
    now: datetime
    bundle: Mapping[str, Any]
    calls: tuple[Mapping[str, Any], ...]
    source: str = ""
    #: The scenario the demo opens first.
    first: bool = False

    @property
    def patient(self) -> dict[str, Any]:
        return next(dict(r) for r in self.resources_all() if r["resourceType"] == "Patient")

    @property
    def resources(self) -> list[dict[str, Any]]:
        """Everything in the record but the Patient."""
        return [dict(r) for r in self.resources_all() if r["resourceType"] != "Patient"]

    def resources_all(self) -> list[Mapping[str, Any]]:
        return [e["resource"] for e in self.bundle.get("entry", [])]

    def moved(self, target_now: datetime) -> Scenario:
        """This scenario with every date shifted so that ``now`` is ``target_now``."""
        shift = Shift.between(self.now, target_now)
        return replace(self, now=target_now, bundle=shift_resources(self.bundle, shift),
                       calls=tuple(shift_resources(dict(c), shift) for c in self.calls))

    def request(self, index: int, *, hook_instance: str | None = None, prefetch: bool = True) -> dict[str, Any]:
        """Call ``index`` as a CDS Hooks request; with ``prefetch`` every key of the service is filled."""
        call = self.calls[index]
        patient = self.patient
        context: dict[str, Any] = {"userId": "Practitioner/gp-1", "patientId": patient["id"]}
        if call["hook"] in ("order-select", "order-sign"):
            context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                      "entry": [{"resource": r} for r in call.get("draftOrders", [])]}
        if call["hook"] == "order-select":
            context["selections"] = selections(call)
        body: dict[str, Any] = {
            "hook": call["hook"],
            "hookInstance": hook_instance or str(uuid.uuid4()),
            "context": context,
        }
        if prefetch:
            service = SERVICES[SERVICE_FOR_HOOK[call["hook"]]]
            body["prefetch"] = fill_prefetch(service.prefetch, patient, self.resources)
        return body


def selections(call: Mapping[str, Any]) -> list[str]:
    """The call's selections, or every draft order when it names none."""
    if "selections" in call:
        return list(call["selections"])
    return [f"{d['resourceType']}/{d['id']}" for d in call.get("draftOrders", []) if d["resourceType"] in ORDER_TYPES]


def fill_prefetch(templates: Mapping[str, str], patient: Mapping[str, Any],
                  resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each prefetch key answered from the record as a FHIR server would (searchset; ``_include``)."""
    out: dict[str, Any] = {}
    for key, template in templates.items():
        path, _, query = template.partition("?")
        rtype = path.split("/")[0]
        if rtype == "Patient" and "/" in path:
            out[key] = dict(patient)
            continue
        types = {rtype}
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == "_include" and value.startswith(f"{rtype}:"):
                types.add("Medication" if value.endswith(":medication") else value)
        found = [r for r in resources if r.get("resourceType") in types]
        out[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                    "entry": [{"resource": r} for r in found]}
    return out


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc


def load_scenario(folder: Path) -> Scenario:
    """The scenario in ``folder``; raises :class:`ScenarioError` naming the file."""
    meta, bundle = _read(folder / "scenario.json"), _read(folder / "bundle.json")
    where = folder / "scenario.json"
    if not isinstance(meta, dict) or any(k not in meta for k in REQUIRED):
        raise ScenarioError(f"{where}: needs {', '.join(REQUIRED)}")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or \
            bundle.get("type") not in ("transaction", "collection"):
        raise ScenarioError(f"{folder / 'bundle.json'}: must be a transaction or collection Bundle")
    if sum(1 for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "Patient") != 1:
        raise ScenarioError(f"{folder / 'bundle.json'}: must hold exactly one Patient")
    try:
        now = datetime.fromisoformat(str(meta["now"]))
    except ValueError as exc:
        raise ScenarioError(f"{where}: now is not an ISO dateTime") from exc
    if now.tzinfo is None:
        raise ScenarioError(f"{where}: now needs a zone")
    for call in meta["calls"]:
        if call.get("hook") not in SERVICE_FOR_HOOK or not isinstance(call.get("expect"), list):
            raise ScenarioError(f"{where}: every call needs a known hook and an expect list")
    try:
        check_movable([bundle, meta["calls"]])
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    return Scenario(id=str(meta["id"]), title=str(meta["title"]), story=str(meta["story"]),
                    guideline=str(meta["guideline"]), now=now, bundle=bundle, calls=tuple(meta["calls"]),
                    source=str(meta.get("source", "")), first=meta.get("first") is True)


def load_library(folder: Path) -> dict[str, Scenario]:
    """Every scenario under ``folder`` by id (sorted); empty when the folder does not exist."""
    if not folder.is_dir():
        return {}
    scenarios = [load_scenario(p.parent) for p in sorted(folder.glob("*/scenario.json"))]
    return {s.id: s for s in scenarios}


def transaction(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """``bundle`` as a transaction: every resource PUT under its own id (loading twice is harmless)."""
    entries = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        url = f"{resource['resourceType']}/{resource['id']}"
        entries.append({"resource": resource, "request": {"method": "PUT", "url": url}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
