"""The shape of the code that keeps it trustworthy: rules are pure, loading happens once."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"
BANNED_IN_RULES = {"flask", "requests", "fhir", "json", "werkzeug", "jsonschema", "sqlite3"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_rules_see_no_http_no_fhir_models_and_no_raw_json():
    for path in sorted((SERVICE / "rules").glob("*.py")):
        banned = imports(path) & BANNED_IN_RULES
        assert not banned, f"{path.name} imports {sorted(banned)}"


def test_only_prefetch_talks_http_and_only_fhir_knows_the_models():
    """HTTP out: FHIR data (prefetch.py), clients' allowlisted JWK Sets (jwks.py), and the operator's
    ``load-fhir`` command (load_fhir.py, never imported while serving), nothing else."""
    for path in sorted(SERVICE.rglob("*.py")):
        found = imports(path)
        if "requests" in found:
            assert path.name in {"prefetch.py", "jwks.py", "load_fhir.py"}, path
        if "fhir" in found:
            assert path.name in {"fhir.py"}, path


def test_http_layer_holds_no_clinical_logic():
    for name in ("hooks.py", "app_errors.py", "cors.py"):
        source = (SERVICE / name).read_text(encoding="utf-8")
        assert "Concept" not in source and "rules" not in source.replace("rules/", ""), name


def test_no_module_reads_files_per_request(monkeypatch, app):
    """After start-up, answering a hook call opens no file from cards/ or fhir_profiles/."""
    import builtins
    import pathlib

    from tests.hookreq import condition, full_prefetch, hook_request, imaging_order

    opened: list[str] = []
    real_open, real_read = builtins.open, pathlib.Path.read_text

    def spy_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_read(self, *args, **kwargs):
        opened.append(str(self))
        return real_read(self, *args, **kwargs)

    client = app.test_client()
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    client.post("/cds-services/lbp-order-select", json=body)  # warm
    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(pathlib.Path, "read_text", spy_read)
    assert client.post("/cds-services/lbp-order-select", json=body).status_code == 200
    assert not [f for f in opened if "cards" in f or "fhir_profiles" in f or f.endswith(".schema.json")]
