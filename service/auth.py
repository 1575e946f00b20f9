"""Who is calling: the CDS Hooks JWT on every hook and feedback call, verified with PyJWT.

One place decides (a ``before_request`` on the hooks blueprint calls :func:`authenticate`);
discovery and CORS preflights stay public. The checks follow the CDS Hooks specification and
its best practices: ``alg`` from the client's list (ES384/RS384 by default, never ``none`` or
HMAC), ``kid`` known, ``iss`` registered, ``aud`` equal to the URL called (or a value the
client's entry lists), ``exp``, ``iat`` not in the future, ``jti`` present and never seen
before within its lifetime (the replay cache is in the shared store, so all workers see it).

Every failure is the same 401 for the caller; the reason goes to the log only.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app, g, request

from .clients import ASYMMETRIC_ALGORITHMS, Client, development_client, load_clients
from .config import flag
from .errors import ServiceUnavailable, Unauthorized
from .jwks import JwksCache, JwksUnavailable
from .keyfiles import private_file
from .profiles import check_profile
from .storage import StorageError

log = logging.getLogger(__name__)

#: Tokens valid for longer than this are refused: the replay cache must hold each jti that long.
MAX_TOKEN_LIFETIME = 3600
MAX_JTI_LENGTH = 256
DEV_ISS = "lbp-cds-dev"
DEV_KEY_FILE = "dev-signing-key.pem"
EXTENSION_KEY = "lbp_cds_auth"


class AuthFailed(Exception):
    """Why a token was refused: for the log, never for the caller."""


class ReplayCache(Protocol):
    def remember_jti(self, iss: str, jti: str, expires_at: float) -> bool: ...


@dataclass
class Authenticator:
    """Verifies tokens against the clients loaded at start-up; holds no per-request state."""

    clients: Mapping[str, Client]
    replay: ReplayCache
    jwks: JwksCache
    leeway: float = 30.0
    enabled: bool = True
    #: The caller when authentication is off.
    anonymous: Client = field(default_factory=lambda: development_client("generic"))
    #: Set when the local development key is trusted (no clients file).
    dev_key_path: Path | None = None

    def verify(self, token: str, url: str) -> Client:
        """The client that signed ``token`` for ``url``; raises :class:`AuthFailed` saying why not."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthFailed(f"malformed token ({type(exc).__name__})") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise AuthFailed(f"alg {str(alg)[:20]!r} not allowed")
        if not isinstance(kid, str) or not kid:
            raise AuthFailed("no kid in the header")
        iss = unverified.get("iss")
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise AuthFailed(f"unknown iss {str(iss)[:200]!r}")
        if alg not in client.algorithms:
            raise AuthFailed(f"alg {alg} not allowed for {client.iss}")
        key = self._key(client, header, kid, str(alg))
        try:
            claims = jwt.decode(
                token, key, algorithms=[str(alg)], issuer=client.iss, leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthFailed(f"{type(exc).__name__}: {exc}") from exc
        self._check_audience(client, claims.get("aud"), url)
        now = time.time()
        if float(claims["exp"]) - now > MAX_TOKEN_LIFETIME:
            raise AuthFailed(f"token valid for more than {MAX_TOKEN_LIFETIME} s")
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise AuthFailed("jti is not a string of 1 to 256 characters")
        if not self.replay.remember_jti(client.iss, jti, float(claims["exp"]) + self.leeway):
            raise AuthFailed("jti replayed")
        return client

    def _key(self, client: Client, header: Mapping[str, Any], kid: str, alg: str) -> jwt.PyJWK:
        jku = header.get("jku")
        found: Mapping[str, Any] | None = None
        try:
            if jku is not None:
                if jku not in client.jku:
                    raise AuthFailed(f"jku {str(jku)[:200]!r} not on the list for {client.iss}")  # never fetched
                found = client.keys.get(kid) or self.jwks.key(str(jku), kid)
            else:
                found = client.keys.get(kid)
                for url in client.jku if found is None else ():
                    found = self.jwks.key(url, kid)
                    if found is not None:
                        break
        except JwksUnavailable as exc:
            raise AuthFailed(str(exc)) from exc
        if found is None:
            raise AuthFailed(f"unknown kid {kid[:100]!r} for {client.iss}")
        if found.get("alg") not in (None, alg) or found.get("use") not in (None, "sig"):
            raise AuthFailed(f"key {kid[:100]!r} is not for {alg} signatures")
        try:
            return jwt.PyJWK(dict(found), algorithm=alg)
        except jwt.PyJWTError as exc:
            raise AuthFailed(f"key {kid[:100]!r} unusable for {alg}: {exc}") from exc

    @staticmethod
    def _check_audience(client: Client, aud: Any, url: str) -> None:
        """``aud`` is one string (or a one-element array) equal to the URL called or a listed value."""
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        if not isinstance(aud, str):
            raise AuthFailed("aud is not a string or a one-element array")
        accepted = {url.rstrip("/"), *(a.rstrip("/") for a in client.audience)}
        if aud.rstrip("/") not in accepted:
            raise AuthFailed(f"aud {aud[:200]!r} is not {url!r}")


# -- the request hook -----------------------------------------------------------------------


def called_url() -> str:
    """The URL the client called, as it sees it: ``PUBLIC_URL`` when behind a proxy."""
    public = str(current_app.config["PUBLIC_URL"] or "").rstrip("/")
    return f"{public}{request.path}" if public else request.base_url


def authenticator() -> Authenticator:
    auth: Authenticator = current_app.extensions[EXTENSION_KEY]
    return auth


def authenticate() -> None:
    """``before_request`` of the hooks blueprint: put the verified caller on ``g.client`` or answer 401."""
    if request.method == "OPTIONS" or request.endpoint == "hooks.discovery":
        return
    auth = authenticator()
    if not auth.enabled:
        g.client = auth.anonymous
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthFailed("no bearer token")
        g.client = auth.verify(token.strip(), called_url())
    except AuthFailed as exc:
        g.auth_failure = str(exc)
        raise Unauthorized("Authentication failed.") from None
    except StorageError as exc:
        g.auth_failure = "replay cache unavailable"
        raise ServiceUnavailable("The service cannot check tokens just now; please try again.") from exc


# -- start-up ---------------------------------------------------------------------------------



def build_authenticator(config: Mapping[str, Any], data_dir: Path, replay: ReplayCache) -> Authenticator:
    """From the settings: the clients file, else the local development key; or nobody checked (AUTH off)."""
    jwks = JwksCache(timeout=float(config["JWKS_TIMEOUT"]), ttl=float(config["JWKS_CACHE_SECONDS"]))
    profile = check_profile(str(config["DEFAULT_PROFILE"]), "LBP_CDS_DEFAULT_PROFILE")
    leeway = float(config["AUTH_LEEWAY"])
    if not flag(config["AUTH"], "AUTH", empty_is_off=False):
        log.warning(
            "AUTHENTICATION IS OFF (LBP_CDS_AUTH=off): anyone who can reach this service can call it. "
            "Development only; never in production."
        )
        return Authenticator({}, replay, jwks, leeway, enabled=False, anonymous=development_client(profile))
    if config["CLIENTS"]:
        return Authenticator(load_clients(Path(str(config["CLIENTS"]))), replay, jwks, leeway)
    key_path = data_dir / DEV_KEY_FILE
    key = dev_key(key_path)
    client = Client(iss=DEV_ISS, profile=profile, keys={_dev_kid(key): _dev_jwk(key)}, algorithms=("ES384",))
    log.warning(
        "No LBP_CDS_CLIENTS file: only tokens signed with the local development key %s are accepted. "
        "Mint one with: python -m service token --aud URL. Register real clients for production.",
        key_path,
    )
    return Authenticator({DEV_ISS: client}, replay, jwks, leeway, dev_key_path=key_path)


# -- the local development key ----------------------------------------------------------------


def dev_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A development signing key in ``path`` (P-384, mode 0600), created on first use."""

    def make() -> bytes:
        return ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    key = serialization.load_pem_private_key(private_file(path, make), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key; delete it to make a new development key")
    return key


def _dev_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": _dev_kid(key), "alg": "ES384", "use": "sig"}


def _dev_kid(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "lbp-cds-dev-" + hashlib.sha256(der).hexdigest()[:16]


def mint_dev_token(data_dir: Path, aud: str, lifetime: int = 300) -> str:
    """A fresh single-use token from the development client for ``aud`` (the exact URL to call)."""
    key = dev_key(data_dir / DEV_KEY_FILE)
    now = int(time.time())
    claims = {"iss": DEV_ISS, "aud": aud, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": _dev_kid(key), "typ": "JWT"})
