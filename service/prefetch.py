"""Patient data for a hook call: prefetch first, else the caller's FHIR server.

The one module that imports ``requests``. The CDS Hooks semantics of a prefetch key:

- absent → not fetched (or failed transiently): we query ``fhirServer`` ourselves, with the
  ``fhirAuthorization`` bearer token, following ``next`` links, keys in parallel;
- ``null`` → "no data": nothing to fetch;
- an ``OperationOutcome`` → the client's fetch failed: reported, not retried.

Only a *required* key that can be had neither way makes the call fail (HTTP 412). The
token is never logged or put into a message.

The fallback is where a caller can point the service at a server of its choosing, so it is
fenced (see ``docs/security.md``): only a ``fhirServer`` the client may use
(:mod:`service.fhir_servers`) gets a request; one deadline and one resource allowance per
call (:mod:`service.budget`); a byte cap per response, applied while decompressing; and the
caller is told *which* data is missing or incomplete but never *what happened* on the
network (a closed port and a silent one read the same), so the service is no port scanner.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import zlib
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import fhir_servers
from .budget import Budget
from .json_guard import JsonProblem, check_json

log = logging.getLogger(__name__)

OK_STATUSES = frozenset({"prefetched", "fetched", "no-data"})
#: A key that was fetched in part: what was read is real data, what was not is unknown.
INCOMPLETE = "incomplete"
_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CHUNK = 64 * 1024
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError,
                   zlib.error)
#: How long past the deadline the call waits for its readers to notice their sockets were shut.
_GRACE = 0.25
#: How long a call waits for a fallback slot before it reports the data as not fetched.
_SLOT_WAIT = 0.25
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _call_slots(size: int) -> threading.BoundedSemaphore:
    """The process-wide fallback slots: hostile calls may hold at most ``size`` request threads.

    A call that finds no slot within ``_SLOT_WAIT`` does not queue (queuing would hold its
    request thread, which is what starves other callers): it reports the data as not fetched.
    """
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(max(1, size))
        return _slots[size]


@dataclass(frozen=True)
class FetchSettings:
    """Limits of the ``fhirServer`` fallback of one hook call.

    ``allowed_servers`` is the calling client's list of FHIR base URLs: ``None`` or ``()``
    means no allowlist is in force (development with authentication off; http still only to
    loopback), a non-empty tuple means only those servers get a request
    (:func:`service.fhir_servers.refusal` has the exact rule). ``prefetch_only`` means no
    request is ever sent, whatever the caller's ``fhirServer``.
    """

    timeout: float = 5.0  # one read at most, and never past the deadline
    deadline: float = 2.5  # the whole fallback of the call: every read, page and query
    max_pages: int = 10  # per query
    max_resources: int = 5000  # per call, all queries together
    max_bytes: int = 4_000_000  # per response, after decompression
    max_workers: int = 4  # parallel queries of one call
    max_concurrent_calls: int = 8  # calls of this process inside the fallback at the same time
    prefetch_only: bool = False
    allowed_servers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class KeyResult:
    key: str
    status: str  # prefetched | fetched | no-data | incomplete | client-error | fetch-failed | not-fetched
    resources: tuple[Mapping[str, Any], ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class GatherResult:
    keys: Mapping[str, KeyResult]
    #: The call's FHIR fallback was stopped by its deadline (counted by service.metrics).
    deadline_reached: bool = False

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
    """A FHIR query failed. The message is for the log; the caller gets a fixed sentence."""


class DataCut(FetchError):
    """A budget (time, pages, resources) stopped a query after part of its data was read."""

    def __init__(self, reason: str, resources: list[Mapping[str, Any]]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resources = resources


class FhirSource(Protocol):
    """The seam: anything that can answer a relative FHIR read or search with resources.

    ``search`` returns every resource, or raises :class:`DataCut` carrying the part it read,
    or :class:`FetchError`.
    """

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


# -- sockets under the call's deadline ------------------------------------------------------
_current = threading.local()  # .budget: the Budget of the fetch running on this thread


def _watched(sock: Any) -> Any:
    """Register a new socket with the budget of the fetch on this thread, so its deadline can shut it."""
    budget = getattr(_current, "budget", None)
    if budget is not None:
        budget.watch(sock)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> Any:
        return _watched(super()._new_conn())


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> Any:
        return _watched(super()._new_conn())


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """Every socket it opens is registered with the budget of the thread's fetch."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _decoder(response: requests.Response) -> Any:
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    raise FetchError(f"unsupported Content-Encoding {encoding[:20]!r}")


def read_capped(response: requests.Response, cap: int, budget: Budget) -> bytes:
    """The body, decompressed by us with ``max_length`` so a bomb never grows past ``cap``."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise FetchError(f"the answer declares {declared} bytes, more than {cap}")
    decoder = _decoder(response)
    out = bytearray()
    for chunk in response.raw.stream(_CHUNK, decode_content=False):
        if budget.expired():
            raise FetchError("the deadline passed while reading")
        if decoder is None:
            out += chunk
        else:
            data = chunk
            while data and len(out) <= cap:
                out += decoder.decompress(data, cap + 1 - len(out))
                data = decoder.unconsumed_tail
        if len(out) > cap:
            raise FetchError(f"the answer is larger than {cap} bytes")
    if decoder is not None:
        out += decoder.flush()
        if len(out) > cap:
            raise FetchError(f"the answer is larger than {cap} bytes")
    return bytes(out)


class FhirServerSource:
    """The caller's FHIR server over HTTP(S), with their bearer token, within a budget.

    Only constructed for a server :func:`service.fhir_servers.refusal` allows.
    """

    def __init__(self, base_url: str, access_token: str | None, settings: FetchSettings, budget: Budget) -> None:
        base = fhir_servers.normalise_base(base_url)
        if base is None:
            raise FetchError("fhirServer is not an http(s) base URL")
        self.base = base
        self.settings = settings
        self.budget = budget
        self.session = requests.Session()
        adapter = _WatchedAdapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.trust_env = False  # no proxy or .netrc credentials picked up from the host
        self.session.headers["Accept"] = "application/fhir+json, application/json"
        self.session.headers["Accept-Encoding"] = "gzip"
        if access_token:
            self.session.headers["Authorization"] = f"Bearer {access_token}"

    def close(self) -> None:
        self.session.close()

    def _get(self, url: str) -> tuple[int, Any]:
        """HTTP status and decoded JSON body (200, or 404 whose body may say "no such resource")."""
        remaining = min(self.settings.timeout, self.budget.remaining())
        if remaining <= 0:
            raise FetchError("the deadline passed")
        _current.budget = self.budget
        try:
            with self.session.get(url, timeout=(remaining, remaining), allow_redirects=False, stream=True) as answer:
                status = answer.status_code
                if status not in (200, 404):
                    raise FetchError(f"HTTP {status}")
                raw = read_capped(answer, self.settings.max_bytes, self.budget)
        except _NETWORK_ERRORS as exc:  # the body is read from urllib3 directly: its errors too
            late = " (deadline passed)" if self.budget.expired() else ""
            raise FetchError(f"{type(exc).__name__}{late}") from exc
        finally:
            _current.budget = None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise FetchError(f"HTTP {status}, not JSON") from exc
        try:
            check_json(body, raw=raw)
        except JsonProblem as exc:
            raise FetchError(f"the answer is not acceptable JSON: {exc}") from exc
        return status, body

    def search(self, relative_url: str) -> list[Mapping[str, Any]]:
        url: str | None = urljoin(self.base + "/", relative_url.lstrip("/"))
        out: list[Mapping[str, Any]] = []
        pages = 0
        while url:
            if pages >= self.settings.max_pages:
                raise DataCut(f"more than {self.settings.max_pages} pages", out)
            if not fhir_servers.under_base(url, self.base):  # the token goes to the caller's server only
                raise DataCut("a next link points outside fhirServer; it was not followed", out)
            if self.budget.resources_left() <= 0 and pages:
                raise DataCut(f"the limit of {self.settings.max_resources} resources was reached", out)
            try:
                status, body = self._get(url)
                if status == 404 and not _no_such_resource(relative_url, pages, body):
                    raise FetchError("HTTP 404")
            except FetchError as exc:
                if pages:
                    raise DataCut(_cut_reason(self.budget, exc), out) from exc
                raise
            if status == 404:
                return out
            if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
                raise FetchError("an OperationOutcome instead of data")
            resources, url = _entries(body)
            out += resources
            pages += 1
        return out


def _no_such_resource(relative_url: str, pages: int, body: Any) -> bool:
    """A 404 means "no data" only for a read (``Patient/p1``) answered by a FHIR server.

    A 404 to a search means the endpoint is wrong, and a 404 page that is not FHIR means it
    is not a FHIR server: counting either as "no data" would present missing data as complete.
    """
    is_read = pages == 0 and "?" not in relative_url
    return is_read and isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"


def _cut_reason(budget: Budget, exc: Exception) -> str:
    if budget.expired():
        return f"the time limit of {budget.seconds:g} s was reached"
    return "a later page could not be read"


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


def _failed(key: str) -> str:
    # One sentence for every failure: refused, silent, slow, HTTP error or garbage all read
    # the same, so that the answer does not tell a closed port from an open one.
    return f"'{key}' was not prefetched and could not be fetched from fhirServer"


def _fetch(key: str, query: str, source: FhirSource, budget: Budget) -> KeyResult:
    cut: str | None = None
    try:
        found = list(source.search(query))
    except DataCut as exc:
        found, cut = list(exc.resources), exc.reason
    except FetchError as exc:
        log.warning("fhirServer fallback: prefetch key %r not fetched: %s", key, exc)
        return KeyResult(key, "fetch-failed", problem=_failed(key))
    except Exception:  # a source must never take the request down; report instead
        log.exception("fhirServer fallback: prefetch key %r failed unexpectedly", key)
        return KeyResult(key, "fetch-failed", problem=_failed(key))
    kept = budget.take(len(found))
    if kept < len(found):
        cut = cut or "the limit of resources per call was reached"
        found = found[:kept]
    if cut is None:
        return KeyResult(key, "fetched", tuple(found))
    log.warning("fhirServer fallback: prefetch key %r incomplete: %s", key, cut)
    problem = f"'{key}' is incomplete: {cut}; {len(found)} resource(s) were read, the rest is unknown"
    return KeyResult(key, INCOMPLETE, tuple(found), problem)


def _fetch_all(to_fetch: Mapping[str, str], source: FhirSource, budget: Budget, workers: int) -> dict[str, KeyResult]:
    """The keys in parallel; a key whose reader is still busy at the deadline counts as failed."""
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(to_fetch))), thread_name_prefix="lbp-fetch")
    try:
        futures = {key: pool.submit(_fetch, key, query, source, budget) for key, query in to_fetch.items()}
        wait(futures.values(), timeout=budget.remaining() + _GRACE)
        results: dict[str, KeyResult] = {}
        for key, future in futures.items():
            if future.done():
                results[key] = future.result()
            else:
                log.warning("fhirServer fallback: prefetch key %r still being read at the deadline", key)
                results[key] = KeyResult(key, "fetch-failed", problem=_failed(key))
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _why_not_fetch(request: Mapping[str, Any], settings: FetchSettings) -> str | None:
    """Why the fallback may not send any request for this call, or None if it may."""
    if settings.prefetch_only:
        return "this service does not fetch from fhirServer (prefetch-only mode)"
    if not request.get("fhirServer"):
        return "no fhirServer was given"
    refused = fhir_servers.refusal(str(request["fhirServer"]), settings.allowed_servers)
    return f"{refused}; nothing was fetched" if refused else None


def gather(
    request: Mapping[str, Any],
    templates: Mapping[str, str],
    required: Collection[str] = (),
    settings: FetchSettings = FetchSettings(),  # noqa: B008 (immutable)
    source: FhirSource | None = None,
) -> GatherResult:
    """Everything the service's templates ask for, from prefetch or ``fhirServer``.

    ``source`` replaces the caller's ``fhirServer`` (tests, scenario suites): it is asked
    whatever the allowlist says, but within the same deadline and resource allowance.
    """
    prefetch = request.get("prefetch") or {}
    context = request.get("context") or {}
    results: dict[str, KeyResult] = {}
    to_fetch: dict[str, str] = {}
    deadline_reached = False
    for key, template in templates.items():
        if key in prefetch:
            results[key] = _from_prefetch(key, prefetch[key])
            continue
        query = expand_template(template, context)
        if query is None:
            results[key] = KeyResult(key, "not-fetched", problem=f"'{key}': the template's context is missing")
        else:
            to_fetch[key] = query
    refused = _why_not_fetch(request, settings) if to_fetch and source is None else None
    slot = _call_slots(settings.max_concurrent_calls) if to_fetch and not refused else None
    if slot is not None and not slot.acquire(timeout=min(_SLOT_WAIT, settings.deadline)):
        log.warning("fhirServer fallback: every slot busy; %d key(s) not fetched", len(to_fetch))
        refused, slot = "the service is busy fetching for other calls (try again)", None
    if refused:
        for key in to_fetch:
            results[key] = KeyResult(key, "not-fetched", problem=f"'{key}' was not prefetched and {refused}")
    elif slot is not None:
        budget = Budget(settings.deadline, settings.max_resources)
        own: FhirServerSource | None = None
        try:
            if source is None:
                token = (request.get("fhirAuthorization") or {}).get("access_token")
                source = own = FhirServerSource(str(request["fhirServer"]), token, settings, budget)
            results.update(_fetch_all(to_fetch, source, budget, settings.max_workers))
            deadline_reached = budget.expired()
        finally:
            budget.close()
            if own is not None:
                own.close()
            slot.release()
    ordered = {key: results[key] for key in templates}
    # Part of a required key is still data: the cards say it is incomplete; 412 is for none.
    failed = [k for k in required if k in ordered and ordered[k].status not in (*OK_STATUSES, INCOMPLETE)]
    if failed:
        raise PrefetchUnavailable(failed, [ordered[k].problem or "" for k in failed if ordered[k].problem])
    return GatherResult(ordered, deadline_reached)
