"""The command line: evaluate a request file without a server; check the knowledge."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from service.cli import main
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order

ROOT = Path(__file__).resolve().parent.parent


def test_evaluate_prints_cards_and_trace(tmp_path, monkeypatch):
    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    request = tmp_path / "req.json"
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    request.write_text(json.dumps(body))
    result = CliRunner().invoke(main, ["evaluate", str(request), "--lang", "en"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert any(c["source"]["topic"]["code"] == "IMG-NOT-INDICATED" for c in out["cards"])
    assert out["extension"]["lbp-cds-trace"]


def test_evaluate_reports_an_invalid_request_as_operation_outcome(tmp_path, monkeypatch):
    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"hook": "order-select", "context": {}}))
    result = CliRunner().invoke(main, ["evaluate", str(request)])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["resourceType"] == "OperationOutcome"


def test_shipped_example_requests_evaluate(tmp_path, monkeypatch):
    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    for path in sorted((ROOT / "docs/requests").glob("*.json")):
        result = CliRunner().invoke(main, ["evaluate", str(path)])
        assert result.exit_code == 0, (path.name, result.output)
        out = json.loads(result.stdout)
        assert out["cards"], path.name
        assert "lbp-cds-data-problems" not in out["extension"], (path.name, out["extension"])


def test_check_knowledge_passes_on_the_shipped_knowledge():
    result = CliRunner().invoke(main, ["check-knowledge"])
    assert result.exit_code == 0, result.output
    assert "rules" in result.output


def test_scenarios_lists_runs_and_prints_a_request():
    listed = CliRunner().invoke(main, ["scenarios"])
    assert listed.exit_code == 0 and "042-xray-without-indication" in listed.output
    ran = CliRunner().invoke(main, ["scenarios", "041", "--run"])
    assert ran.exit_code == 0, ran.output
    assert ran.output.count(" ok") == 2
    printed = CliRunner().invoke(main, ["scenarios", "042", "--request", "1"])
    request = json.loads(printed.output)
    assert request["hook"] == "order-select" and "prefetch" in request
    assert CliRunner().invoke(main, ["scenarios", "042", "--request", "9"]).exit_code != 0


def test_demo_client_prints_a_clients_file_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["demo-client"])
    entry = json.loads(result.output)
    assert entry["iss"] == "lbp-cds-demo" and "d" not in entry["jwks"]["keys"][0]
