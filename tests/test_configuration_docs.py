"""docs/configuration.md is generated from service/config.py and names every LBP_CDS_ variable in use."""

from __future__ import annotations

import re
from pathlib import Path

from service.config import DEFAULTS, setting_names
from service.config_reference import markdown, settings

ROOT = Path(__file__).resolve().parent.parent
#: Settings the manifests already pass (Secret lbp-cds-secrets) that the storage/admin work adds to DEFAULTS;
#: once it has, they are documented like every other and this set can go.
def test_configuration_reference_is_current():
    actual = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    assert actual == markdown(), "docs/configuration.md is stale: run python -m service config-reference > " \
                                 "docs/configuration.md"


def test_every_setting_has_a_meaning():
    described = settings()
    assert [name for _, name, _ in described] == list(DEFAULTS)
    assert all(comment for _, _, comment in described)


def test_every_variable_the_code_and_deploy_files_read_is_documented():
    reference = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    used: set[str] = set()
    for folder in ("service", "deploy"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".yaml", ".yml", ".json", ".md", ""}:
                used |= set(re.findall(r"LBP_CDS_[A-Z][A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8",
                                                                                      errors="replace")))
    used -= {"LBP_CDS_TEST_DATABASE_URL"}  # tests only
    assert not sorted(n for n in used if f"`{n}`" not in reference)
    assert all(f"`{n}`" in reference for n in setting_names())
