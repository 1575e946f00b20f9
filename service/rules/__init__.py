"""Clinical rules: pure functions over a :class:`~service.record.PatientRecord`.

The rules package has one law, checked by ``tests/test_architecture.py``: no Flask, no
``requests``, no ``fhir.resources``, no raw JSON. A rule reads the record and its
parameters (thresholds from ``cards/<RULE-ID>.json``) and yields
:class:`~service.rules.base.Finding` objects with the facts it used; what a card says
lives in ``cards/`` and is rendered by :mod:`service.render`.

Importing this package registers every rule module.
"""

from __future__ import annotations

from . import data_quality, follow_up, imaging, medicines, red_flags, referral  # noqa: F401  (registration)
from .base import REGISTRY, Finding, RedFlagScreen, Rule, rule

__all__ = ["REGISTRY", "Finding", "RedFlagScreen", "Rule", "rule"]
