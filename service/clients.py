"""The trusted CDS clients (EHRs): who may call, with which keys, for which audiences and FHIR servers.

Read once at start-up from the file named by ``LBP_CDS_CLIENTS``; a malformed file stops
start-up with a message naming the file, as a malformed card or value set does. The file::

    {"clients": [{"iss": "https://ehr.example.dk",
                  "jwks": {"keys": [...]} | "jwksFile": "ehr-jwks.json",
                  "jku": ["https://ehr.example.dk/.well-known/jwks.json"],
                  "audience": ["https://cds.example.dk/epic-configured-aud"],
                  "fhirServers": ["https://ehr.example.dk/fhir/R4"],
                  "algorithms": ["RS384"],
                  "profile": "generic"}]}

``jwksFile`` is relative to the clients file. Unknown keys are errors, so a typo
(``fhirServer`` for ``fhirServers``) cannot silently switch a check off.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .profiles import ProfileError, check_profile

#: What the CDS Hooks specification recommends; a client may narrow or (asymmetric only) widen it.
DEFAULT_ALGORITHMS = ("ES384", "RS384")
#: Asymmetric algorithms a clients file may allow. ``none`` and HMAC (HS*) can never be allowed:
#: with HS* anyone holding the client's *public* key could sign.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
KNOWN_KEYS = frozenset({"iss", "jwks", "jwksFile", "jku", "audience", "fhirServers", "algorithms", "profile", "name"})


class ClientsError(Exception):
    """The clients file is missing or malformed (start-up stops)."""


def normalise_base_url(url: str) -> str:
    """``HTTPS://EHR.example.dk/fhir/`` → ``https://ehr.example.dk/fhir``: scheme and host are case-blind."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


@dataclass(frozen=True)
class Client:
    """A CDS client we trust, as verified for the current call (``flask.g.client``).

    ``fhir_servers`` is the allowlist of FHIR base URLs this client may name as the request's
    ``fhirServer`` — the only servers to which we may send its ``fhirAuthorization`` token when
    prefetch is missing. Entries are normalised by :func:`normalise_base_url` and a request's
    ``fhirServer`` is allowed when its normalised form is *equal* to an entry (no prefix or
    wildcard matching). An **empty tuple means "no allowlist configured"**: only the development
    clients have it (``LBP_CDS_AUTH=off`` or the local development key); every client from a
    clients file has at least one entry. :meth:`allows_fhir_server` applies exactly this rule.
    """

    iss: str
    fhir_servers: tuple[str, ...] = ()
    profile: str = "generic"
    #: Accepted ``aud`` values besides the URL called (Epic sets ``aud`` by hand).
    audience: tuple[str, ...] = ()
    #: Allowed ``jku`` URLs (exact match); only these are ever fetched.
    jku: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    #: Keys known out of band (``jwks`` / ``jwksFile``), by ``kid``.
    keys: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def allows_fhir_server(self, url: str) -> bool:
        """Whether ``url`` may be used as this client's ``fhirServer`` (see the class docstring)."""
        if not self.fhir_servers:
            return True
        return normalise_base_url(url) in self.fhir_servers


def development_client(profile: str) -> Client:
    """The caller when ``LBP_CDS_AUTH=off``: nobody is verified, so nothing is allowlisted."""
    return Client(iss="dev", profile=profile)


def keys_by_kid(jwks: Any, where: str) -> dict[str, dict[str, Any]]:
    """The keys of a JWK Set by ``kid``; a key without ``kid`` can never match a token (``kid`` is required)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ClientsError(f"{where}: a JWK Set must be an object with a 'keys' array")
    keys: dict[str, dict[str, Any]] = {}
    for key in jwks["keys"]:
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            raise ClientsError(f"{where}: every key needs a string 'kid'")
        if key.get("kty") == "oct" or "d" in key:
            raise ClientsError(f"{where}: key {key['kid']!r} is secret or private; list public keys only")
        keys[key["kid"]] = key
    return keys


def _strings(entry: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = entry.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ClientsError(f"{where}: '{name}' must be a list of non-empty strings")
    return tuple(value)


def _https_urls(values: tuple[str, ...], name: str, where: str) -> None:
    for value in values:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ClientsError(f"{where}: '{name}' entry {value!r} is not an http(s) URL")


def _client(entry: Any, index: int, base: Path, where_file: str) -> Client:
    where = f"{where_file}: clients[{index}]"
    if not isinstance(entry, dict):
        raise ClientsError(f"{where}: must be an object")
    unknown = sorted(set(entry) - KNOWN_KEYS)
    if unknown:
        raise ClientsError(f"{where}: unknown key(s) {unknown}; known: {sorted(KNOWN_KEYS)}")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ClientsError(f"{where}: 'iss' (the issuer the client puts in its tokens) is required")
    where = f"{where_file}: client {iss!r}"
    keys: dict[str, dict[str, Any]] = {}
    if "jwks" in entry and "jwksFile" in entry:
        raise ClientsError(f"{where}: give 'jwks' or 'jwksFile', not both")
    if "jwks" in entry:
        keys = keys_by_kid(entry["jwks"], f"{where} jwks")
    if "jwksFile" in entry:
        path = base / str(entry["jwksFile"])
        try:
            keys = keys_by_kid(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, ValueError) as exc:
            raise ClientsError(f"{where}: cannot read jwksFile {path}: {exc}") from exc
    jku = _strings(entry, "jku", where)
    _https_urls(jku, "jku", where)
    if not keys and not jku:
        raise ClientsError(f"{where}: no keys: give 'jwks', 'jwksFile' or 'jku'")
    fhir_servers = _strings(entry, "fhirServers", where)
    _https_urls(fhir_servers, "fhirServers", where)
    if not fhir_servers:
        raise ClientsError(f"{where}: 'fhirServers' must list the FHIR base URL(s) this client may send")
    algorithms = _strings(entry, "algorithms", where) or DEFAULT_ALGORITHMS
    weak = sorted(set(algorithms) - ASYMMETRIC_ALGORITHMS)
    if weak:
        raise ClientsError(f"{where}: algorithms {weak} not allowed; use asymmetric ones such as ES384 or RS384")
    profile = entry.get("profile", "generic")
    if not isinstance(profile, str) or not profile:
        raise ClientsError(f"{where}: 'profile' must be a non-empty string")
    try:
        check_profile(profile, where)
    except ProfileError as exc:
        raise ClientsError(str(exc)) from None
    return Client(
        iss=iss,
        fhir_servers=tuple(normalise_base_url(u) for u in fhir_servers),
        profile=profile,
        audience=_strings(entry, "audience", where),
        jku=jku,
        algorithms=algorithms,
        keys=keys,
    )


def load_clients(path: Path) -> dict[str, Client]:
    """The clients in ``path`` by ``iss``; raises :class:`ClientsError` naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClientsError(f"{path}: cannot read the clients file: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("clients"), list):
        raise ClientsError(f"{path}: must be an object with a 'clients' array")
    clients: dict[str, Client] = {}
    for index, entry in enumerate(doc["clients"]):
        client = _client(entry, index, path.parent, str(path))
        if client.iss in clients:
            raise ClientsError(f"{path}: client {client.iss!r} is listed twice")
        clients[client.iss] = client
    if not clients:
        raise ClientsError(f"{path}: lists no clients, so nobody could call; use LBP_CDS_AUTH=off for development")
    return clients
