"""Fetching a client's JWK Set from its ``jku``: only allowlisted URLs, with a timeout and a cache.

The caller (:mod:`service.auth`) checks the ``jku`` against the client's list *before* asking
here, so a token can never make us fetch an arbitrary URL. A set is cached for
``JWKS_CACHE_SECONDS``; an unknown ``kid`` triggers at most one refetch per URL a minute
(key rotation), so forged ``kid``s cannot turn us into a request amplifier.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from .clients import ClientsError, keys_by_kid

#: Least seconds between two fetches of one URL, whatever the tokens say.
MIN_REFETCH_SECONDS = 60.0
MAX_JWKS_BYTES = 100_000


class JwksUnavailable(Exception):
    """The JWK Set could not be fetched or is not a usable JWK Set."""


@dataclass
class _Entry:
    keys: Mapping[str, Mapping[str, Any]]
    fetched_at: float


class JwksCache:
    """Per-process cache of fetched JWK Sets (each worker keeps its own; they are public data)."""

    def __init__(self, timeout: float, ttl: float) -> None:
        self.timeout = timeout
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def key(self, url: str, kid: str) -> Mapping[str, Any] | None:
        """The key ``kid`` from the set at ``url`` (an allowlisted jku), fetching when stale."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        if entry is not None and (now - entry.fetched_at < self.ttl):
            if kid in entry.keys or now - entry.fetched_at < MIN_REFETCH_SECONDS:
                return entry.keys.get(kid)
        try:
            keys = self._fetch(url)
        except JwksUnavailable:
            if entry is not None:  # keep using what we had rather than locking every caller out
                return entry.keys.get(kid)
            raise
        with self._lock:
            self._entries[url] = _Entry(keys, time.monotonic())
        return keys.get(kid)

    def _fetch(self, url: str) -> Mapping[str, Mapping[str, Any]]:
        try:
            response = requests.get(url, timeout=self.timeout, allow_redirects=False,
                                    headers={"Accept": "application/json"}, stream=True)
            response.raise_for_status()
            raw = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
            if len(raw) > MAX_JWKS_BYTES:
                raise JwksUnavailable(f"JWK Set at {url} is larger than {MAX_JWKS_BYTES} bytes")
            return keys_by_kid(json.loads(raw), url)
        except (requests.RequestException, ValueError, ClientsError) as exc:
            raise JwksUnavailable(f"JWK Set at {url}: {exc}") from exc
