"""Patient data for a hook call: prefetch first, else the caller's FHIR server.

The one module that imports ``requests``. The CDS Hooks semantics of a prefetch key:

- absent → not fetched (or failed transiently): we query ``fhirServer`` ourselves, with the
  ``fhirAuthorization`` bearer token, following ``next`` links, keys in parallel;
- ``null`` → "no data": nothing to fetch;
- an ``OperationOutcome`` → the client's fetch failed: reported, not retried.

Only a *required* key that can be had neither way makes the call fail (HTTP 412). The
token is never logged or put into a message.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests

OK_STATUSES = frozenset({"prefetched", "fetched", "no-data"})
_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 5.0
    max_pages: int = 10
    max_resources: int = 5000
    max_workers: int = 4


@dataclass(frozen=True)
class KeyResult:
    key: str
    status: str  # prefetched | fetched | no-data | client-error | fetch-failed | not-fetched
    resources: tuple[Mapping[str, Any], ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class GatherResult:
    keys: Mapping[str, KeyResult]

    def resources(self) -> list[Mapping[str, Any]]:
        """All resources, each ``(type, id)`` once (keys may overlap)."""
        seen: set[tuple[str, str]] = set()
        out: list[Mapping[str, Any]] = []
        for result in self.keys.values():
            for resource in result.resources:
                rid = resource.get("id")
                if isinstance(rid, str):
                    key = (str(resource.get("resourceType")), rid)
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(resource)
        return out

    def problems(self) -> list[str]:
        return [r.problem for r in self.keys.values() if r.problem]

    def incomplete(self) -> bool:
        return any(r.status not in OK_STATUSES for r in self.keys.values())


class PrefetchUnavailable(Exception):
    """Required data could be had neither from prefetch nor from ``fhirServer``."""

    def __init__(self, keys: list[str], problems: list[str]) -> None:
        self.keys = keys
        detail = "; ".join(problems)
        super().__init__(
            f"Required data could not be obtained for prefetch key(s) {', '.join(keys)}: it was not prefetched "
            f"and could not be fetched from fhirServer" + (f" ({detail})." if detail else ".")
        )


class FetchError(Exception):
    """A FHIR query failed; the message is safe to show the caller."""


class FhirSource(Protocol):
    """The seam: anything that can answer a relative FHIR read or search with resources."""

    def search(self, relative_url: str) -> list[Mapping[str, Any]]: ...


def _entries(body: Any) -> tuple[list[Mapping[str, Any]], str | None]:
    """Resources of a Bundle (type optional) or a single resource; and its ``next`` link."""
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FetchError("the answer is not a FHIR resource")
    if body["resourceType"] != "Bundle":
        return [body], None
    entries = body.get("entry")
    resources = [
        e["resource"]
        for e in (entries if isinstance(entries, list) else ())
        if isinstance(e, dict) and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType")
    ]
    # A searchset may carry OperationOutcome entries (search mode "outcome"): not data.
    resources = [r for r in resources if r["resourceType"] != "OperationOutcome"]
    links = body.get("link")
    links = [link for link in (links if isinstance(links, list) else ()) if isinstance(link, dict)]
    following = next((link.get("url") for link in links if link.get("relation") == "next"), None)
    return resources, following if isinstance(following, str) else None


class FhirServerSource:
    """The caller's FHIR server over HTTP(S), with their bearer token."""

    def __init__(self, base_url: str, access_token: str | None, settings: FetchSettings) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise FetchError("fhirServer must be an http(s) URL")
        self.base = base_url.rstrip("/") + "/"
        self.settings = settings
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/fhir+json, application/json"
        if access_token:
            self.session.headers["Authorization"] = f"Bearer {access_token}"

    def _get(self, url: str) -> Any:
        if not url.startswith(self.base):  # never send the token anywhere but the caller's server
            raise FetchError("a next link points outside fhirServer")
        try:
            response = self.session.get(url, timeout=self.settings.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            raise FetchError(f"fhirServer did not answer within {self.settings.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise FetchError(f"fhirServer could not be reached ({type(exc).__name__})") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise FetchError(f"fhirServer answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise FetchError("fhirServer answered with something that is not JSON") from exc

    def search(self, relative_url: str) -> list[Mapping[str, Any]]:
        url: str | None = urljoin(self.base, relative_url.lstrip("/"))
        out: list[Mapping[str, Any]] = []
        pages = 0
        while url and pages < self.settings.max_pages:
            body = self._get(url)
            if body is None:
                return out
            if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
                raise FetchError("fhirServer answered with an OperationOutcome")
            resources, url = _entries(body)
            out += resources
            pages += 1
            if len(out) > self.settings.max_resources:
                raise FetchError(f"more than {self.settings.max_resources} resources; not read")
        return out


def expand_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill ``{{context.x}}`` and ``{{userPractitionerId}}``-style tokens; None if one is unknown."""
    user = str(context.get("userId") or "")
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        token = match.group(1)
        if token.startswith("context."):
            found = context.get(token.removeprefix("context."))
        elif token in _USER_TOKENS:
            rtype, _, rid = user.partition("/")
            found = rid if rtype == _USER_TOKENS[token] else None
        else:
            found = None
        if not isinstance(found, str) or not _SAFE_VALUE.match(found):
            missing = True
            return ""
        return found

    expanded = _TOKEN.sub(value, template)
    return None if missing else expanded


def _from_prefetch(key: str, value: Any) -> KeyResult:
    if value is None:
        return KeyResult(key, "no-data")
    if isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
        return KeyResult(key, "client-error", problem=f"prefetch '{key}': the EHR reported that fetching it failed")
    try:
        resources, _ = _entries(value)
    except FetchError:
        return KeyResult(key, "client-error", problem=f"prefetch '{key}' is not a FHIR resource or Bundle")
    return KeyResult(key, "prefetched", tuple(resources))


def _fetch(key: str, query: str, source: FhirSource) -> KeyResult:
    try:
        return KeyResult(key, "fetched", tuple(source.search(query)))
    except FetchError as exc:
        return KeyResult(key, "fetch-failed", problem=f"'{key}' could not be fetched: {exc}")
    except Exception:  # a source must never take the request down; report instead
        return KeyResult(key, "fetch-failed", problem=f"'{key}' could not be fetched: unexpected error")


def gather(
    request: Mapping[str, Any],
    templates: Mapping[str, str],
    required: Collection[str] = (),
    settings: FetchSettings = FetchSettings(),  # noqa: B008 (immutable)
    source: FhirSource | None = None,
) -> GatherResult:
    """Everything the service's templates ask for, from prefetch or ``fhirServer``."""
    prefetch = request.get("prefetch") or {}
    context = request.get("context") or {}
    results: dict[str, KeyResult] = {}
    to_fetch: dict[str, str] = {}
    for key, template in templates.items():
        if key in prefetch:
            results[key] = _from_prefetch(key, prefetch[key])
            continue
        query = expand_template(template, context)
        if query is None:
            results[key] = KeyResult(key, "not-fetched", problem=f"'{key}': the template's context is missing")
        else:
            to_fetch[key] = query
    if to_fetch:
        if source is None and request.get("fhirServer"):
            token = (request.get("fhirAuthorization") or {}).get("access_token")
            try:
                source = FhirServerSource(str(request["fhirServer"]), token, settings)
            except FetchError as exc:
                for key in to_fetch:
                    results[key] = KeyResult(key, "fetch-failed", problem=f"'{key}': {exc}")
                to_fetch = {}
        if source is None:
            for key in to_fetch:
                problem = f"'{key}' was not prefetched and no fhirServer was given"
                results[key] = KeyResult(key, "not-fetched", problem=problem)
        elif to_fetch:
            workers = max(1, min(settings.max_workers, len(to_fetch)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {k: pool.submit(_fetch, k, q, source) for k, q in to_fetch.items()}
                for key, future in futures.items():
                    results[key] = future.result()
    ordered = {key: results[key] for key in templates}
    failed = [k for k in required if k in ordered and ordered[k].status not in OK_STATUSES]
    if failed:
        raise PrefetchUnavailable(failed, [ordered[k].problem or "" for k in failed if ordered[k].problem])
    return GatherResult(ordered)
