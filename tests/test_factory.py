"""Configuration layers apply in order: defaults, LBP_CDS_* environment, then the mapping."""

from __future__ import annotations

import json

import pytest

from service import create_app
from service.knowledge import KnowledgeError


def test_defaults_are_safe(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path)})
    assert app.config["LANGUAGE"] == "da"
    assert app.config["MAX_CONTENT_LENGTH"] == 8_000_000
    assert app.config["CORS_ALLOW_CREDENTIALS"] is False
    assert app.config["CORS_ORIGINS"] == ""  # no browser origin unless listed
    assert app.config["AUTH"] == "on"
    assert not app.testing


def test_environment_overrides_defaults_and_mapping_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LBP_CDS_LANGUAGE", "en")
    monkeypatch.setenv("LBP_CDS_MAX_REQUEST_BYTES", "2048")
    app = create_app({"DATA_DIR": str(tmp_path)})
    assert app.config["LANGUAGE"] == "en" and app.config["MAX_CONTENT_LENGTH"] == 2048
    app = create_app({"DATA_DIR": str(tmp_path), "LANGUAGE": "da"})
    assert app.config["LANGUAGE"] == "da"


def test_language_setting_changes_the_cards(monkeypatch, tmp_path):
    from tests.hookreq import condition, full_prefetch, hook_request, imaging_order

    monkeypatch.setenv("LBP_CDS_LANGUAGE", "en")
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off"}).test_client()
    body = hook_request("order-sign", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    card = client.post("/cds-services/lbp-order-sign", json=body).get_json()["cards"][0]
    assert "weeks" in card["detail"]


def test_site_rule_parameters_are_applied_and_typos_stop_start_up(monkeypatch, tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path)})
    rule_id, rule = next((k, r) for k, r in app.extensions["lbp_cds"].knowledge.rules.items() if r.params)
    name, value = next(iter(rule.params.items()))
    new = value + 1 if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    monkeypatch.setenv("LBP_CDS_RULE_PARAMS", json.dumps({rule_id: {name: new}}))
    app = create_app({"DATA_DIR": str(tmp_path)})
    assert app.extensions["lbp_cds"].knowledge.rules[rule_id].params[name] == new
    monkeypatch.setenv("LBP_CDS_RULE_PARAMS", json.dumps({rule_id: {"no_such_param": 1}}))
    with pytest.raises(KnowledgeError, match="no_such_param"):
        create_app({"DATA_DIR": str(tmp_path)})
