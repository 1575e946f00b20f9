"""Who may call: every hook and feedback call carries a CDS Hooks JWT that we verify (AUTH on)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service import create_app
from service.clients import ClientsError
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order
from tests.test_hooks import assert_outcome

EHR = "https://ehr.example.dk"
EPIC = "https://epic.example.dk/api/FHIR/R4"
ROTATING = "https://rotating.example.dk"
JKU = "https://rotating.example.dk/.well-known/jwks.json"
BASE = "http://localhost/cds-services"
HOOK_URL = f"{BASE}/lbp-order-select"
FEEDBACK_URL = f"{HOOK_URL}/feedback"

EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FOREIGN_KEY = ec.generate_private_key(ec.SECP384R1())
JKU_KEY = ec.generate_private_key(ec.SECP384R1())


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    ec_key = isinstance(key, ec.EllipticCurvePrivateKey)
    algorithm = jwt.algorithms.ECAlgorithm if ec_key else jwt.algorithms.RSAAlgorithm
    return {**algorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid}


def clients_file(tmp_path: Path) -> Path:
    (tmp_path / "epic-jwks.json").write_text(json.dumps({"keys": [public_jwk(RSA_KEY, "epic-1")]}))
    doc = {"clients": [
        {"iss": EHR, "jwks": {"keys": [public_jwk(EC_KEY, "ec-1"), public_jwk(RSA_KEY, "rsa-1")]},
         "fhirServers": ["https://ehr.example.dk/fhir/"], "profile": "generic"},
        {"iss": EPIC, "jwksFile": "epic-jwks.json", "audience": ["https://cds.example.dk/epic-configured"],
         "fhirServers": [EPIC], "algorithms": ["RS384"], "profile": "epic"},
        {"iss": ROTATING, "jku": [JKU], "fhirServers": ["https://rotating.example.dk/fhir"]},
    ]}
    path = tmp_path / "clients.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def secured(tmp_path: Path):
    """An app with authentication on (the default) and three registered clients."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CLIENTS": str(clients_file(tmp_path))})
    return app.test_client()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": EHR, "aud": HOOK_URL, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any = EC_KEY, alg: str = "ES384", kid: str | None = "ec-1", headers: dict[str, Any] | None = None,
         **overrides: Any) -> str:
    extra = {**({"kid": kid} if kid else {}), **(headers or {})}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=extra)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(alg: str, signer: Any = None) -> str:
    """A token with any header we like, signed by ``signer(signing_input)`` or not at all."""
    head = b64(json.dumps({"alg": alg, "kid": "ec-1", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    signature = b64(signer(f"{head}.{body}".encode())) if signer else ""
    return f"{head}.{body}.{signature}"


def hs256_with_public_key(data: bytes) -> bytes:
    public_pem = EC_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hmac.new(public_pem, data, hashlib.sha256).digest()


def order_request() -> dict[str, Any]:
    return hook_request("order-select", prefetch=full_prefetch(condition()), orders=(imaging_order(),))


def call(client, token: str | None, url: str = HOOK_URL, body: dict[str, Any] | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(url.removeprefix("http://localhost"), json=body or order_request(), headers=headers)


# -- the table of bad tokens ------------------------------------------------------------------

#: name: (token maker, what the log says was wrong). The caller is told none of it.
BAD_TOKENS = {
    "none": (lambda: None, "no bearer token"),
    "garbage": (lambda: "not.a.jwt", "malformed"),
    "empty-bearer": (lambda: "", "no bearer token"),
    "alg-none": (lambda: unsigned("none"), "alg 'none'"),
    "hs256-signed-with-the-public-key": (lambda: unsigned("HS256", hs256_with_public_key), "alg 'HS256'"),
    "foreign-key-with-known-kid": (lambda: sign(FOREIGN_KEY), "Signature verification failed"),
    "no-kid": (lambda: sign(kid=None), "no kid"),
    "unknown-kid": (lambda: sign(kid="ec-2"), "unknown kid"),
    "es256-not-allowed": (lambda: sign(ec.generate_private_key(ec.SECP256R1()), alg="ES256"), "alg ES256"),
    "rs384-key-for-an-es384-kid": (lambda: sign(RSA_KEY, alg="RS384", kid="ec-1"), "unusable for RS384"),
    "unknown-issuer": (lambda: sign(iss="https://evil.example"), "unknown iss"),
    "no-issuer": (lambda: sign(iss=None), "unknown iss"),
    "wrong-aud": (lambda: sign(aud=f"{BASE}/lbp-order-sign"), "aud"),
    "aud-of-another-client": (lambda: sign(aud="https://cds.example.dk/epic-configured"), "aud"),
    "aud-two-values": (lambda: sign(aud=[HOOK_URL, "https://other.example"]), "one-element"),
    "no-aud": (lambda: sign(aud=None), '"aud"'),
    "expired": (lambda: sign(iat=int(time.time()) - 900, exp=int(time.time()) - 600), "Expired"),
    "issued-in-the-future": (lambda: sign(iat=int(time.time()) + 600, exp=int(time.time()) + 900), "iat"),
    "no-exp": (lambda: sign(exp=None), '"exp"'),
    "no-iat": (lambda: sign(iat=None), '"iat"'),
    "no-jti": (lambda: sign(jti=None), '"jti"'),
    "valid-for-a-day": (lambda: sign(exp=int(time.time()) + 86400), "more than 3600"),
    "jku-not-on-the-list": (lambda: sign(headers={"jku": "https://evil.example/jwks.json"}), "jku"),
}


def call_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "call"]


def assert_refused(response) -> dict[str, Any]:
    body = assert_outcome(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert [i["diagnostics"] for i in body["issue"]] == ["Authentication failed."]  # never which check failed
    return body


@pytest.mark.parametrize(("make_token", "reason"), BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_tokens_get_401_and_only_the_log_says_why(secured, capsys, make_token, reason):
    capsys.readouterr()
    with responses.RequestsMock():  # nothing may be fetched for any of these
        body = assert_refused(call(secured, make_token()))
    assert reason not in json.dumps(body)
    (line,) = call_lines(capsys.readouterr().err)
    assert line["status"] == 401 and reason in line["auth_failure"], line


def test_every_refusal_looks_the_same(secured):
    bodies = {json.dumps(assert_refused(call(secured, make()))) for make, _ in BAD_TOKENS.values()}
    assert len(bodies) == 1


def test_a_good_es384_token_gets_the_cards(secured):
    response = call(secured, sign())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["cards"]


def test_rs384_is_accepted(secured):
    assert call(secured, sign(RSA_KEY, alg="RS384", kid="rsa-1")).status_code == 200


def test_aud_as_a_one_element_array_and_a_small_clock_skew_are_accepted(secured):
    token = sign(aud=[HOOK_URL], iat=int(time.time()) + 10)
    assert call(secured, token).status_code == 200


def test_a_token_is_single_use(secured):
    token = sign()
    assert call(secured, token).status_code == 200
    assert_refused(call(secured, token))


def test_the_replay_cache_is_shared_by_every_worker(tmp_path):
    path = clients_file(tmp_path)
    first = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CLIENTS": str(path)}).test_client()
    second = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CLIENTS": str(path)}).test_client()
    token = sign()
    assert call(first, token).status_code == 200
    assert_refused(call(second, token))


def test_a_client_with_a_hand_set_aud_is_accepted_with_it(secured):
    token = sign(RSA_KEY, alg="RS384", kid="epic-1", iss=EPIC, aud="https://cds.example.dk/epic-configured")
    assert call(secured, token).status_code == 200
    # and still with the exact URL called, which is always right
    assert call(secured, sign(RSA_KEY, alg="RS384", kid="epic-1", iss=EPIC)).status_code == 200


def test_a_client_limited_to_rs384_cannot_use_es384(secured, tmp_path):
    epic_ec = ec.generate_private_key(ec.SECP384R1())
    assert_refused(call(secured, sign(epic_ec, iss=EPIC, kid="epic-1")))


def test_behind_a_proxy_aud_is_the_public_url(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CLIENTS": str(clients_file(tmp_path)),
                      "PUBLIC_URL": "https://cds.example.dk/"})
    client = app.test_client()
    assert call(client, sign(aud="https://cds.example.dk/cds-services/lbp-order-select")).status_code == 200
    assert_refused(call(client, sign()))


def test_discovery_is_public(secured):
    response = secured.get("/cds-services")
    assert response.status_code == 200
    assert len(response.get_json()["services"]) == 3


def test_cors_preflight_needs_no_token(secured):
    response = secured.options(HOOK_URL.removeprefix("http://localhost"),
                               headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200


def test_unknown_service_still_needs_a_token(secured):
    assert_refused(call(secured, None, url=f"{BASE}/nope"))


# -- feedback ---------------------------------------------------------------------------------


def feedback_for(card: dict[str, Any]) -> dict[str, Any]:
    return {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}


def test_feedback_needs_a_token_for_the_feedback_url(secured):
    card = call(secured, sign()).get_json()["cards"][0]
    assert_refused(call(secured, None, FEEDBACK_URL, feedback_for(card)))
    assert_refused(call(secured, sign(), FEEDBACK_URL, feedback_for(card)))  # aud is the hook URL, not feedback's
    response = call(secured, sign(aud=FEEDBACK_URL), FEEDBACK_URL, feedback_for(card))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_feedback_on_another_clients_card_is_refused(secured):
    card = call(secured, sign()).get_json()["cards"][0]
    other = sign(RSA_KEY, alg="RS384", kid="epic-1", iss=EPIC, aud=FEEDBACK_URL)
    assert_outcome(call(secured, other, FEEDBACK_URL, feedback_for(card)), 404)
    assert call(secured, sign(aud=FEEDBACK_URL), FEEDBACK_URL, feedback_for(card)).status_code == 200


# -- the verified client, for the rest of the request ------------------------------------------


def capture_client(monkeypatch) -> list[Any]:
    import flask

    import service.hooks

    seen: list[Any] = []
    real = service.hooks.evaluate_request

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(flask.g.client)
        return real(*args, **kwargs)

    monkeypatch.setattr(service.hooks, "evaluate_request", spy)
    return seen


def test_the_verified_client_and_its_fhir_server_allowlist_are_on_g(secured, monkeypatch):
    seen = capture_client(monkeypatch)
    assert call(secured, sign(RSA_KEY, alg="RS384", kid="epic-1", iss=EPIC)).status_code == 200
    client = seen[0]
    assert (client.iss, client.profile, client.fhir_servers) == (EPIC, "epic", (EPIC,))
    assert client.allows_fhir_server(EPIC + "/") and not client.allows_fhir_server("https://evil.example/fhir")


def test_with_auth_off_the_caller_is_the_development_client(tmp_path, monkeypatch, capsys):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": "off", "DEFAULT_PROFILE": "epic"})
    assert "AUTHENTICATION IS OFF" in capsys.readouterr().err
    seen = capture_client(monkeypatch)
    assert call(app.test_client(), None).status_code == 200
    assert (seen[0].iss, seen[0].fhir_servers, seen[0].profile) == ("dev", (), "epic")
    assert seen[0].allows_fhir_server("https://anything.example/fhir")


def test_auth_is_on_by_default(tmp_path):
    assert_refused(call(create_app({"DATA_DIR": str(tmp_path)}).test_client(), None))


# -- jku: only allowlisted URLs are fetched, once, with a cache ---------------------------------


@responses.activate
def test_an_allowlisted_jku_is_fetched_once_and_cached(secured):
    responses.get(JKU, json={"keys": [public_jwk(JKU_KEY, "rot-1")]})
    for _ in range(3):
        token = sign(JKU_KEY, kid="rot-1", iss=ROTATING, headers={"jku": JKU})
        assert call(secured, token).status_code == 200
    assert len(responses.calls) == 1
    assert responses.calls[0].request.req_kwargs["timeout"] == 5.0  # LBP_CDS_JWKS_TIMEOUT


@responses.activate
def test_without_a_jku_header_the_clients_listed_jku_is_used(secured):
    responses.get(JKU, json={"keys": [public_jwk(JKU_KEY, "rot-1")]})
    assert call(secured, sign(JKU_KEY, kid="rot-1", iss=ROTATING)).status_code == 200


@responses.activate
def test_a_jku_not_on_the_list_is_never_fetched(secured):
    evil = "https://evil.example/jwks.json"
    responses.get(evil, json={"keys": [public_jwk(JKU_KEY, "rot-1")]})
    assert_refused(call(secured, sign(JKU_KEY, kid="rot-1", iss=ROTATING, headers={"jku": evil})))
    assert len(responses.calls) == 0


@responses.activate
def test_an_unreachable_jku_is_401_not_500(secured):
    responses.get(JKU, status=503)
    assert_refused(call(secured, sign(JKU_KEY, kid="rot-1", iss=ROTATING, headers={"jku": JKU})))


# -- the clients file is checked at start-up ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "cannot read"),
        ('{"clients": []}', "no clients"),
        ('{"clients": [{"iss": "a", "jku": ["https://a/j"], "fhirServer": ["https://a/f"]}]}', "fhirServer"),
        ('{"clients": [{"iss": "a", "jku": ["https://a/j"]}]}', "fhirServers"),
        ('{"clients": [{"iss": "a", "fhirServers": ["https://a/f"]}]}', "no keys"),
        ('{"clients": [{"iss": "a", "jku": ["https://a/j"], "fhirServers": ["https://a/f"], "algorithms": ["HS256"]}]}',
         "HS256"),
        ('{"clients": [{"iss": "a", "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]},'
         ' "fhirServers": ["https://a/f"]}]}', "secret"),
    ],
    ids=["not-json", "empty", "typo", "no-fhir-servers", "no-keys", "hmac", "symmetric-key"],
)
def test_a_malformed_clients_file_stops_start_up_naming_the_file(tmp_path, content, needle):
    path = tmp_path / "clients.json"
    path.write_text(content)
    with pytest.raises(ClientsError, match=needle) as info:
        create_app({"DATA_DIR": str(tmp_path), "CLIENTS": str(path)})
    assert str(path) in str(info.value)


def test_check_knowledge_also_checks_the_clients_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    path = tmp_path / "clients.json"
    path.write_text('{"clients": [{"iss": "a"}]}')
    monkeypatch.setenv("LBP_CDS_CLIENTS", str(path))
    result = CliRunner().invoke(main, ["check-knowledge"])
    assert result.exit_code != 0 and str(path) in result.output


def test_the_shipped_sandbox_demo_file_loads():
    from service.clients import load_clients

    root = Path(__file__).resolve().parent.parent
    clients = load_clients(root / "deploy/clients.sandbox-demo.json")
    sandbox = clients["https://sandbox.cds-hooks.org"]
    assert sandbox.jku == ("https://sandbox.cds-hooks.org/.well-known/jwks.json",)
    assert sandbox.algorithms == ("ES384",)


# -- the local development key (AUTH on, no clients file) ---------------------------------------


def test_without_a_clients_file_the_local_development_key_is_trusted(tmp_path, capsys):
    from service.auth import mint_dev_token

    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).test_client()
    assert "python -m service token --aud" in capsys.readouterr().err
    key = tmp_path / "dev-signing-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    token = mint_dev_token(tmp_path, HOOK_URL)
    assert call(client, token).status_code == 200
    assert_refused(call(client, token))
    assert_refused(call(client, mint_dev_token(tmp_path, FEEDBACK_URL)))  # aud is for feedback, not the hook


def test_the_development_key_is_not_trusted_when_clients_are_registered(tmp_path):
    from service.auth import mint_dev_token

    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CLIENTS": str(clients_file(tmp_path))})
    assert_refused(call(client.test_client(), mint_dev_token(tmp_path, HOOK_URL)))


def test_token_command_prints_a_token_the_server_accepts(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("LBP_CDS_DATA_DIR", str(tmp_path))
    client = create_app({"TESTING": True}).test_client()
    result = CliRunner().invoke(main, ["token", "--aud", HOOK_URL])
    assert result.exit_code == 0, result.output
    assert call(client, result.stdout.strip()).status_code == 200


def test_a_jti_is_remembered_until_its_token_expires_and_then_forgotten(tmp_path):
    from service.storage import SqliteStorage

    store = SqliteStorage(tmp_path / "db.sqlite3")
    now = time.time()
    assert store.remember_jti(EHR, "j-1", now + 60)
    assert not store.remember_jti(EHR, "j-1", now + 60)
    assert store.remember_jti(EPIC, "j-1", now + 60)  # ids are per issuer
    assert store.remember_jti(EHR, "j-old", now - 1)
    assert store.remember_jti(EHR, "j-old", now + 60)  # expired entries do not block and are purged


@pytest.mark.parametrize("value", ["", "maybe"])
def test_an_empty_or_unknown_auth_setting_stops_start_up_instead_of_switching_authentication_off(tmp_path, value):
    from service import create_app

    with pytest.raises(ValueError, match="LBP_CDS_AUTH must be on or off"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "AUTH": value})
