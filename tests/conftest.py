"""Shared fixtures: a fresh app per test, a client, a CLI runner, and a clean environment.

``app``, ``client`` and ``quiet_client`` run with authentication off (``AUTH: "off"``, the
caller is the development client ``g.client.iss == "dev"``): they test what the service does,
not who may ask. Authentication is tested against AUTH on in ``tests/test_auth.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LBP_CDS_* setting of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("LBP_CDS_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def fast_check_agrees_with_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every hook request any test sends: the fast predicate says valid only where jsonschema does.

    (service/validate.py: the predicate decides alone whether jsonschema runs; tests/test_validate_fast.py.)
    """
    from service.validate import Validators

    original = Validators.hook_request

    def checked(self: Validators, hook: str, body: object, max_draft_orders: int | None = None) -> object:
        fast = self.fast.get(hook)
        if fast is not None and isinstance(body, dict) and fast(body):
            problems = [e.message for e in self.hooks[hook].iter_errors(body)]
            assert not problems, f"the fast check passed a request jsonschema refuses: {problems}"
        return original(self, hook, body, max_draft_orders)

    monkeypatch.setattr(Validators, "hook_request", checked)


@pytest.fixture
def app(tmp_path: Path):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def quiet_client(tmp_path: Path):
    """A client that sees what a caller sees: errors as responses, never raised."""
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "DATA_DIR": str(tmp_path), "AUTH": "off"})
    return app.test_client()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty database on each backend: SQLite, and PostgreSQL when a server is configured (tests/databases.py)."""
    from tests.databases import database_url_for

    with database_url_for(request.param, tmp_path) as url:
        yield url
