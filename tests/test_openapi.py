"""The OpenAPI document: current in docs/, served at /openapi.json, and exactly the app's routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from werkzeug.exceptions import MethodNotAllowed, NotFound

from service import create_app, openapi

ROOT = Path(__file__).resolve().parent.parent
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def full_app(tmp_path_factory):
    """Every route: authentication off serves the demo too (LBP_CDS_DEMO=auto)."""
    return create_app({"TESTING": True, "AUTH": "off", "DATA_DIR": str(tmp_path_factory.mktemp("data"))})


def test_docs_copy_is_current():
    assert (ROOT / "docs/openapi.json").read_text(encoding="utf-8") == openapi.text(), (
        "docs/openapi.json is stale: run python -m service openapi > docs/openapi.json"
    )


def test_served_document_is_the_docs_copy(full_app):
    response = full_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == json.loads((ROOT / "docs/openapi.json").read_text(encoding="utf-8"))


def _concrete(path: str) -> str:
    return path.replace("{", "x").replace("}", "x")


def test_every_documented_operation_is_a_route(full_app):
    adapter = full_app.url_map.bind("localhost")
    for path, operations in openapi.document()["paths"].items():
        for method in operations:
            try:
                endpoint, _ = adapter.match(_concrete(path), method=method.upper())
            except (NotFound, MethodNotAllowed):
                pytest.fail(f"{method.upper()} {path} is documented but not served")
            assert endpoint != "static", path


def test_every_route_is_documented(full_app):
    documented = {(_template(p), m.upper()) for p, ops in openapi.document()["paths"].items() for m in ops}
    services = {p for p, _ in documented if p.startswith("/cds-services/")}
    for rule in full_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = _template(rule.rule)
        for method in rule.methods - IGNORED_METHODS:
            if "<service_id>" in rule.rule:  # one documented path per registered service
                concrete = {p for p in services if _matches(rule.rule, p)}
                assert concrete, f"{method} {rule.rule} is served but no service path documents it"
                assert all((p, method) in documented for p in concrete)
            else:
                assert (path, method) in documented, f"{method} {rule.rule} is served but not in docs/openapi.json"


def _template(path: str) -> str:
    """Flask's ``/a/<b>`` and ``/a/<path:b>`` as OpenAPI's ``/a/{b}``."""
    import re

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)


def _matches(rule: str, path: str) -> bool:
    import re

    pattern = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "[^/]+", rule)
    return re.fullmatch(pattern, path) is not None


def test_every_schema_is_valid_json_schema_2020_12():
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name
    text = json.dumps(document)
    for ref in set(__import__("re").findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in document["components"]["schemas"], ref


def test_a_real_hook_answer_matches_its_documented_schema(full_app):
    from jsonschema import validators

    from tests.hookreq import condition, full_prefetch, hook_request, imaging_order

    document = openapi.document()
    body = hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))
    answer = full_app.test_client().post("/cds-services/lbp-order-select", json=body).get_json()
    schema = {**document, "$ref": "#/components/schemas/CdsResponse"}
    validator = validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    errors = list(validator({k: v for k, v in schema.items() if k != "openapi"}).iter_errors(answer))
    assert not errors, errors[0].message
