"""Loading example scenarios into a FHIR server, so that a client (the CDS Hooks sandbox, an EHR
under test) can read the patients from there and send them to the service.

One transaction Bundle per scenario, every resource PUT under its own id: loading again
overwrites instead of duplicating. Dates are moved to the moment of loading by default
(:mod:`service.scenario_dates`); the record then means today what the scenario meant on its day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import requests

from .scenario_dates import CPH
from .scenarios import Scenario, transaction

TIMEOUT = 30.0


class LoadError(Exception):
    """The FHIR server refused a scenario (the message says which and why)."""


@dataclass(frozen=True)
class Loaded:
    scenario: str
    patient: str
    resources: int
    status: int


def load(base_url: str, scenarios: Iterable[Scenario], *, move: bool = True,
         session: requests.Session | None = None) -> list[Loaded]:
    """POST each scenario's record to ``base_url`` as a transaction; raises :class:`LoadError` on refusal."""
    http = session or requests.Session()
    base = base_url.rstrip("/")
    now = datetime.now(CPH)
    done = []
    for scenario in scenarios:
        shown = scenario.moved(now) if move else scenario
        bundle = transaction(shown.bundle)
        try:
            response = http.post(base, json=bundle, timeout=TIMEOUT,
                                 headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
        except requests.RequestException as exc:
            raise LoadError(f"{scenario.id}: cannot reach {base}: {exc}") from exc
        if response.status_code not in (200, 201):
            raise LoadError(f"{scenario.id}: {base} answered {response.status_code}: {response.text[:500]}")
        done.append(Loaded(scenario.id, f"Patient/{shown.patient['id']}", len(bundle["entry"]), response.status_code))
    return done
