"""lbp-cds: a CDS Hooks service for the Danish low-back-pain guidelines.

``create_app`` builds everything that is read from disk (knowledge, value sets,
schemas) exactly once; requests only read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import (
    admin,
    app_errors,
    cors,
    demo,
    fhir,
    health,
    hooks,
    logs,
    metrics,
    openapi,
    pages,
    profiles,
    security_headers,
)
from .auth import EXTENSION_KEY as AUTH_KEY
from .auth import build_authenticator
from .config import DEFAULTS, flag
from .intake import BodyAllowance
from .knowledge import load_knowledge
from .memory import memory_secret, settings_from_config
from .runtime import EXTENSION_KEY, Runtime
from .storage import open_storage
from .terminology import Terminology
from .validate import Validators

__all__ = ["create_app"]


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value or {}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``LBP_CDS_*`` environment variables, then ``config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("LBP_CDS")
    if config:
        app.config.from_mapping(config)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_REQUEST_BYTES"])
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logs.configure()

    data_dir = Path(app.config["DATA_DIR"] or app.instance_path)
    extra = app.config["EXTRA_VALUESETS"]
    terminology = Terminology.load(Path(app.config["PROFILES_DIR"]), Path(extra) if extra else None)
    knowledge = load_knowledge(Path(app.config["CARDS_DIR"]), _as_mapping(app.config["RULE_PARAMS"]),
                               _as_mapping(app.config["VALIDITY_DAYS"]))
    profiles.check_knowledge(knowledge.rules)
    flag(app.config["STORE_PATIENT_ID"], "STORE_PATIENT_ID")  # a typo fails at start-up, not on the first call
    storage = open_storage(str(app.config["DATABASE_URL"] or ""), data_dir)
    fhir.warm_up()
    memory = None
    if flag(app.config["CARD_MEMORY"], "CARD_MEMORY", empty_is_off=False):
        memory = settings_from_config(app.config, memory_secret(str(app.config["MEMORY_KEY"] or ""), data_dir),
                                      knowledge.reminders())
    app.extensions[EXTENSION_KEY] = Runtime(knowledge, terminology, Validators.load(), storage, memory,
                                            BodyAllowance(int(app.config["REQUEST_BYTES_IN_FLIGHT"])))
    app.extensions[AUTH_KEY] = auth = build_authenticator(app.config, data_dir, storage)

    logs.init_app(app)
    metrics.init_app(app)  # operations: counts what the views leave on flask.g
    app_errors.init_app(app)
    cors.init_app(app)
    security_headers.init_app(app)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(pages.bp)
    demo.init_app(app, data_dir, auth, terminology)
    admin.init_app(app)
    app.register_blueprint(health.bp)  # operations: /healthz, /readyz
    openapi.init_app(app)  # operations: /openapi.json
    return app
