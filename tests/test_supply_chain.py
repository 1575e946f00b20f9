"""The runtime dependencies are pinned with hashes, and the audit fails unless it really audited."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def load_audit():
    spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / "ci/audit_dependencies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_runtime_dependency_is_pinned_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["server"]]
    audit = load_audit()
    pinned = audit.pins(LOCK)
    for requirement in wanted:
        name = audit.canonical(re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0])
        assert name in pinned, f"{name} is not in requirements.lock: regenerate it (ci/audit-dependencies.sh)"
    entries = re.split(r"\n(?=[a-z0-9])", LOCK.read_text(encoding="utf-8").split("\n\n", 1)[-1])
    assert all("--hash=sha256:" in e for e in entries if "==" in e)


def fake_pip_audit(tmp_path: Path, report: dict | None, exit_code: int = 0) -> str:
    script = tmp_path / "pip-audit"
    output = json.dumps(report) if report is not None else ""
    script.write_text(f"#!{sys.executable}\nimport sys\nprint({output!r})\nsys.exit({exit_code})\n")
    script.chmod(0o755)
    return str(script)


def run(monkeypatch, tmp_path, report, project=None, exit_code=0):
    audit = load_audit()
    lock = tmp_path / "requirements.lock"
    lock.write_text("flask==3.1.3 \\\n    --hash=sha256:00\nrequests==2.34.2 \\\n    --hash=sha256:11\n")
    monkeypatch.setattr(audit, "project_json", lambda name: (project or {}).get(name))
    monkeypatch.setattr(sys, "argv", ["audit", str(lock), "--pip-audit", fake_pip_audit(tmp_path, report, exit_code)])
    audit.main()


def test_a_report_that_skipped_everything_is_a_failure_not_a_pass(monkeypatch, tmp_path):
    skipped = {"dependencies": [{"name": n, "skip_reason": "Dependency not found on PyPI"} for n in ("flask",
                                                                                                    "requests")]}
    with pytest.raises(SystemExit, match="AUDIT INCOMPLETE: 2 of 2"):
        run(monkeypatch, tmp_path, skipped)


def test_no_report_at_all_is_a_failure(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="AUDIT DID NOT RUN"):
        run(monkeypatch, tmp_path, None, exit_code=1)


def test_a_vulnerable_pin_fails(monkeypatch, tmp_path):
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []},
                               {"name": "requests", "version": "2.34.2", "vulns": [{"id": "GHSA-x"}]}]}
    with pytest.raises(SystemExit, match="known vulnerabilities"):
        run(monkeypatch, tmp_path, report)


def test_a_skipped_pin_counts_only_if_it_is_the_latest_release_pypi_describes(monkeypatch, tmp_path, capsys):
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []},
                               {"name": "requests", "skip_reason": "not found"}]}
    latest = {"requests": {"info": {"version": "2.34.2"}, "vulnerabilities": []}}
    run(monkeypatch, tmp_path, report, latest)
    assert "audited 2 of 2" in capsys.readouterr().out
    older = {"requests": {"info": {"version": "2.35.0"}, "vulnerabilities": []}}
    with pytest.raises(SystemExit, match="AUDIT INCOMPLETE: 1 of 2"):
        run(monkeypatch, tmp_path, report, older)
