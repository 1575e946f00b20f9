"""The CDS services this server offers: declared once, driving both discovery and routing.

Each service reads the same patient data; what differs is the hook and which rules
run (cards declare their hooks). ``required`` names the prefetch keys without which a
service cannot give safe advice: if they can be had neither from prefetch nor from
``fhirServer``, the caller gets 412, as the specification says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: Prefetch templates (CDS Hooks token syntax) for the data the rules read.
PATIENT_DATA: Mapping[str, str] = MappingProxyType(
    {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}",
        "medications": (
            "MedicationRequest?patient={{context.patientId}}&status=active&_include=MedicationRequest:medication"
        ),
        "servicerequests": "ServiceRequest?patient={{context.patientId}}",
        "procedures": "Procedure?patient={{context.patientId}}",
        "encounters": "Encounter?patient={{context.patientId}}",
    }
)

#: What each prefetch key is called in cards ("data could not be fetched: …").
DATA_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "patient": "patient",
        "conditions": "conditions",
        "observations": "observations",
        "medications": "medications",
        "servicerequests": "referrals",
        "procedures": "procedures",
        "encounters": "encounters",
    }
)


@dataclass(frozen=True)
class CdsService:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    required: frozenset[str]

    def discovery(self, spec_version: str) -> dict[str, object]:
        """This service's entry in ``GET /cds-services``."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "version": spec_version,
        }


SERVICES: Mapping[str, CdsService] = MappingProxyType(
    {
        s.id: s
        for s in (
            CdsService(
                "lbp-patient-view",
                "patient-view",
                "Lænderygsmerter: råd i journalen (DSAM 2026)",
                "Advice from the Danish low-back-pain guidelines when a chart is opened: red flags needing "
                "acute referral, nerve-root pain not improving, surgical assessment within 12 weeks, "
                "supervised exercise, follow-up and the yearly review.",
                PATIENT_DATA,
                frozenset({"conditions"}),
            ),
            CdsService(
                "lbp-order-select",
                "order-select",
                "Lænderygsmerter: billeddiagnostik, henvisning og medicin (ved valg)",
                "Checks a selected lumbar MRI, CT or X-ray, referral or back-pain medicine against the Danish "
                "low-back-pain guidelines, with suggestions that drop or replace the draft order.",
                MappingProxyType({k: v for k, v in PATIENT_DATA.items() if k != "encounters"}),
                frozenset({"conditions"}),
            ),
            CdsService(
                "lbp-order-sign",
                "order-sign",
                "Lænderygsmerter: billeddiagnostik, henvisning og medicin (ved signering)",
                "The same checks as lbp-order-select, on every order about to be signed.",
                MappingProxyType({k: v for k, v in PATIENT_DATA.items() if k != "encounters"}),
                frozenset({"conditions"}),
            ),
        )
    }
)
