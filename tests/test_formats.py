"""The format checkers installed are exactly the ones the schemas use, and each really checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.validate import FORMATS, SCHEMA_DIR, format_checker, formats_in


def test_every_format_a_schema_names_has_a_checker() -> None:
    used: set[str] = set()
    for path in sorted(Path(SCHEMA_DIR).glob("*.json")):
        used |= formats_in(json.loads(path.read_text(encoding="utf-8")))
    assert used == set(FORMATS)
    assert set(format_checker().checkers) == set(FORMATS)


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2026-11-22T10:15:00+01:00", "2026-11-22 10:15"),
        ("uri", "https://fhir.region.example.dk/r4", "not a uri"),
        ("uuid", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "d1577c69dfbe44adba6d3e05e953b2ea"),
    ],
)
def test_each_checker_checks(fmt: str, good: str, bad: str) -> None:
    checker = format_checker()
    assert checker.conforms(good, fmt)
    assert not checker.conforms(bad, fmt)


def test_a_format_without_a_checker_is_refused_at_start_up() -> None:
    with pytest.raises(RuntimeError, match="no format checker installed for hostname-of-the-moon"):
        format_checker(("uri", "hostname-of-the-moon"))
