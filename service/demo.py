"""The demo EHR page (``/demo``): the example scenarios in a browser, calling the public CDS Hooks endpoints.

The page is static HTML and JavaScript (``service/static/demo/``). It fills prefetch from the
scenario's record, calls ``/cds-services/...`` and sends feedback like any client, with a signed
JWT: it signs as the **demo client** (``iss`` ``lbp-cds-demo``, a P-384 key kept in
``DATA_DIR/demo-signing-key.pem``), whose tokens ``POST /demo/token`` mints for the page, each
for one hook or feedback URL of this service, for 60 seconds, single-use as always.

Whether it is served (``LBP_CDS_DEMO``): ``auto`` (default) serves it only where no production
trust exists to weaken — authentication off, or no clients file (the local development key);
then the demo client is trusted next to the development client. With a clients file the demo
is off unless ``LBP_CDS_DEMO=on`` *and* the file declares the demo client with its public key
(``python -m service demo-client`` prints the entry); ``off`` never serves it. The demo client
may name no FHIR server (its allowlist is a reserved ``.invalid`` host), so a minted token can
make the service read nothing; its feedback is stored under its own ``iss``, apart from the EHRs'.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

from .auth import Authenticator, dev_key
from .clients import Client
from .demo_chart import chart
from .registry import SERVICES
from .scenario_dates import CPH
from .scenarios import Scenario, load_library
from .terminology import Terminology

log = logging.getLogger(__name__)

DEMO_ISS = "lbp-cds-demo"
DEMO_KEY_FILE = "demo-signing-key.pem"
#: The demo client's FHIR-server allowlist: a reserved name that never resolves (RFC 2606).
NO_FHIR_SERVER = "https://fhir.demo.invalid"
TOKEN_LIFETIME = 60
EXTENSION_KEY = "lbp_cds_demo"
STATIC = Path(__file__).resolve().parent / "static" / "demo"

bp = Blueprint("demo", __name__, url_prefix="/demo", static_folder=str(STATIC), static_url_path="/static")


class DemoError(Exception):
    """The demo settings contradict the authentication settings (start-up stops)."""


class Demo:
    """What the demo serves: the scenario library and the demo client's signing key."""

    def __init__(self, scenarios: Mapping[str, Scenario], key: ec.EllipticCurvePrivateKey,
                 terminology: Terminology) -> None:
        self.scenarios = scenarios
        self.key = key
        self.kid = demo_kid(key)
        self.terminology = terminology
        self.page = (STATIC / "index.html").read_text(encoding="utf-8")

    def token(self, aud: str) -> str:
        now = int(time.time())
        claims = {"iss": DEMO_ISS, "aud": aud, "iat": now, "exp": now + TOKEN_LIFETIME, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})


def demo_kid(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "lbp-cds-demo-" + hashlib.sha256(der).hexdigest()[:16]


def demo_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": demo_kid(key), "alg": "ES384", "use": "sig"}


def demo_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The demo client's key in ``DATA_DIR`` (mode 0600), made on first use like the development key."""
    return dev_key(data_dir / DEMO_KEY_FILE)


def clients_entry(data_dir: Path) -> dict[str, Any]:
    """The clients-file entry that declares the demo client (for ``LBP_CDS_DEMO=on`` with a clients file)."""
    return {"iss": DEMO_ISS, "name": "lbp-cds demo page (/demo)", "jwks": {"keys": [demo_jwk(demo_key(data_dir))]},
            "fhirServers": [NO_FHIR_SERVER], "algorithms": ["ES384"], "profile": "generic"}


def _mode(value: Any) -> str:
    text = str(value).strip().lower()
    aliases = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}
    text = aliases.get(text, text)
    if text not in ("auto", "on", "off"):
        raise DemoError(f"LBP_CDS_DEMO must be auto, on or off, not {value!r}")
    return text


def init_app(app: Flask, data_dir: Path, auth: Authenticator, terminology: Terminology) -> None:
    """Serve the demo when the settings allow it, trusting the demo client as described above."""
    mode = _mode(app.config["DEMO"])
    from_file = bool(app.config["CLIENTS"]) and auth.enabled
    if mode == "off" or (mode == "auto" and from_file):
        return
    key = demo_key(data_dir)
    if from_file:
        declared = auth.clients.get(DEMO_ISS)
        if declared is None or demo_kid(key) not in declared.keys:
            raise DemoError(
                f"LBP_CDS_DEMO=on with a clients file: declare the demo client ({DEMO_ISS}) with the key in "
                f"{data_dir / DEMO_KEY_FILE} in {app.config['CLIENTS']}; python -m service demo-client prints the entry"
            )
    elif auth.enabled:
        auth.clients = {**auth.clients, DEMO_ISS: Client(
            iss=DEMO_ISS, fhir_servers=(NO_FHIR_SERVER,), profile="generic", algorithms=("ES384",),
            keys={demo_kid(key): demo_jwk(key)})}
    scenarios = load_library(Path(str(app.config["SCENARIOS_DIR"])))
    if not scenarios:
        log.warning("the demo has no scenarios: %s holds none", app.config["SCENARIOS_DIR"])
    app.extensions[EXTENSION_KEY] = Demo(scenarios, key, terminology)
    app.register_blueprint(bp)


def _demo() -> Demo:
    demo: Demo = current_app.extensions[EXTENSION_KEY]
    return demo


def _base_url() -> str:
    public = str(current_app.config["PUBLIC_URL"] or "").rstrip("/")
    return public or request.host_url.rstrip("/")


@bp.get("/")
def page() -> Any:
    return Response(_demo().page, mimetype="text/html")


@bp.get("/scenarios")
def scenario_list() -> Any:
    items = [{"id": s.id, "title": s.title, "story": s.story, "first": s.first,
              "hooks": [c["hook"] for c in s.calls]} for s in _demo().scenarios.values()]
    return jsonify({"scenarios": items})


@bp.get("/scenarios/<scenario_id>")
def scenario(scenario_id: str) -> Any:
    """The scenario moved to now (see service/scenario_dates.py), its chart and its calls."""
    found = _demo().scenarios.get(scenario_id)
    if found is None:
        abort(404)
    moved = found.moved(datetime.now(CPH))
    return jsonify({"id": moved.id, "title": moved.title, "story": moved.story, "guideline": moved.guideline,
                    "now": moved.now.isoformat(timespec="seconds"), "source": moved.source,
                    "originalNow": found.now.isoformat(), "patient": moved.patient, "record": moved.resources,
                    "calls": list(moved.calls), "chart": chart(moved, _demo().terminology)})


@bp.post("/token")
def token() -> Any:
    """A single-use token of the demo client for one hook or feedback URL of this service."""
    body = request.get_json(silent=True)
    aud = body.get("aud") if isinstance(body, dict) else None
    base = f"{_base_url()}/cds-services/"
    allowed = {f"{base}{sid}{tail}" for sid in SERVICES for tail in ("", "/feedback")}
    if not isinstance(aud, str) or aud not in allowed:  # a JSON object or list is no URL (was a 500)
        return jsonify({"error": "aud must be a hook or feedback URL of this service", "allowed": sorted(allowed)}), 400
    return jsonify({"token": _demo().token(str(aud)), "iss": DEMO_ISS, "expiresIn": TOKEN_LIFETIME})
