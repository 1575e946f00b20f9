"""Which FHIR servers the service may send a request (and the caller's bearer token) to.

A hook request names its ``fhirServer``; without a check, anyone who can call the service
could make it send requests to any address it can reach (an internal admin page, a cloud
metadata endpoint, a port scan). So the fallback fetch is allowed only when:

- the URL is ``https``; ``http`` only to a loopback host (127.0.0.0/8, ::1, ``localhost``),
  which never crosses a network (development, tests);
- it carries no user-info, query or fragment, and no ``..`` path segment;
- and, when an allowlist is in force, its normalised form equals one of the allowed base URLs.

``allowed`` (the calling client's ``fhirServers``) means:

- ``None`` or ``()``: no allowlist in force. This is development with authentication off
  (no verified client, or a client with no servers registered, which authentication only
  produces when it is switched off); the scheme rule above still applies;
- a non-empty tuple: only those base URLs (compared after normalisation: scheme and host
  lower-cased, default port dropped, trailing ``/`` dropped).

A ``next`` link is followed only when it is :func:`under_base` of the server actually asked.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, unquote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters no honest FHIR base URL or next link contains: they invite parser disagreements.
_UNSAFE = re.compile(r"[\s\\\x00-\x1f\x7f]")


def _parts(url: str) -> SplitResult | None:
    if not isinstance(url, str) or _UNSAFE.search(url) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        return None
    return parts


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base(url: str) -> str | None:
    """``scheme://host[:port]/path`` without a trailing ``/``; None when not a usable base URL."""
    parts = _parts(url)
    if parts is None or parts.query or parts.fragment or url.endswith(("?", "#")):
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def refusal(url: str, allowed: tuple[str, ...] | None) -> str | None:
    """Why no request may go to ``url`` (a sentence for the caller), or None when it may."""
    base = normalise_base(url)
    if base is None:
        return "fhirServer is not a plain http(s) base URL"
    parts = urlsplit(base)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        return "fhirServer must use https"
    if allowed and base not in {normalise_base(a) for a in allowed}:
        return "fhirServer is not one of the FHIR servers registered for this client"
    return None


def under_base(url: str, base: str) -> bool:
    """Whether ``url`` (a ``next`` link) lies under ``base`` (a normalised base URL)."""
    parts = _parts(url)
    if parts is None or parts.fragment:
        return False
    own = normalise_base(f"{parts.scheme}://{parts.netloc}{parts.path}")
    return own is not None and (own == base or own.startswith(base + "/"))
