"""Configuration: embedded defaults, then ``LBP_CDS_*`` environment variables, then a mapping.

Every setting a deployer may change is listed in :data:`DEFAULTS` and documented in
README.md (``tests/test_docs.py`` checks that). Nothing here is read at import time;
:func:`service.create_app` applies the three layers in order, as Flask's own docs advise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: Setting → default. Environment variables are ``LBP_CDS_<SETTING>`` (JSON-decoded when valid JSON).
DEFAULTS: dict[str, Any] = {
    # Where the SQLite database lives when DATABASE_URL is not set (defaults to Flask's instance folder).
    "DATA_DIR": None,
    # sqlite:///path/to/file.sqlite3 or postgresql://user:password@host/db ; empty = SQLite file in DATA_DIR.
    "DATABASE_URL": "",
    # Card language when the caller's Accept-Language does not prefer another supported one: da | en.
    "LANGUAGE": "da",
    # Requests larger than this many bytes get 413 (a 5,000-resource record is about 2-3 MB).
    "MAX_REQUEST_BYTES": 8_000_000,
    # Bytes of large bodies (over 1 MB) one process decodes and works on at once (decoded JSON is ~5x its
    # size); beyond it a large request waits, then gets 503. Memory stays bounded with a large cap.
    "REQUEST_BYTES_IN_FLIGHT": 16_000_000,
    # Browser origins allowed by CORS: a comma-separated list; empty = no browser origin (curl and EHR
    # servers are unaffected); "*" = any origin, never with credentials (demos only).
    "CORS_ORIGINS": "",
    # Send Access-Control-Allow-Credentials (only honoured with an explicit CORS_ORIGINS list).
    "CORS_ALLOW_CREDENTIALS": False,
    # Add the rule trace to every response's extension (also per request: extension lbp-cds-explain).
    "EXPLAIN": False,
    # Most cards a patient-view answer shows; the rest are listed in the trace.
    "MAX_CARDS_PATIENT_VIEW": 3,
    # FHIR fallback when prefetch is missing: timeout (s) per read, pages per query, resources per call.
    "FHIR_TIMEOUT": 5.0,
    "FHIR_MAX_PAGES": 10,
    "FHIR_MAX_RESOURCES": 5000,
    # One deadline (s) for the whole FHIR fallback of a hook call: every read, page and parallel query.
    "FHIR_DEADLINE": 2.5,
    # Largest FHIR response accepted, in bytes after decompression (refused while streaming past it).
    "FHIR_MAX_BYTES": 4_000_000,
    # Hook calls per process inside the FHIR fallback at once; more are answered at once, data not fetched.
    "FHIR_MAX_CONCURRENT_CALLS": 8,
    # Never fetch from fhirServer: only prefetch counts (what is missing is reported, or 412 if required).
    "PREFETCH_ONLY": False,
    # Hostile-input caps: draft orders per request (more is 400) and cards per response (the rest in the trace).
    "MAX_DRAFT_ORDERS": 50,
    "MAX_CARDS": 20,
    # Folder of extra ValueSets (a site's local codes) added to fhir_profiles/ at start-up.
    "EXTRA_VALUESETS": "",
    # Site overrides of rule parameters: {"IMG-NOT-INDICATED": {"exercise_weeks": 8}}.
    "RULE_PARAMS": {},
    # Site overrides of how long a finding stays current, in days (cards/_meta/validity.json): {"trauma": 42}.
    "VALIDITY_DAYS": {},
    # -- demo
    # The demo EHR page /demo: auto = only with authentication off or no clients file (development);
    # on = also with a clients file that declares the demo client; off = never served.
    "DEMO": "auto",
    # The example scenario library the demo shows (examples/scenarios/).
    "SCENARIOS_DIR": str(ROOT / "examples" / "scenarios"),
    # -- operations
    # Address gunicorn listens on (deploy/gunicorn.conf.py): loopback by default; the container sets 0.0.0.0:8080.
    "BIND": "127.0.0.1:8080",
    # Threads per gunicorn worker (keep above FHIR_MAX_CONCURRENT_CALLS); workers: WEB_CONCURRENCY (default 2).
    "THREADS": 16,
    # Serve Prometheus metrics at /metrics: on | off (counts and latencies only, never patient data).
    "METRICS": "on",
    # Bearer token Prometheus must send for /metrics; empty = unauthenticated (keep /metrics off the public route).
    "METRICS_TOKEN": "",
    # Knowledge locations (change only to run another knowledge base).
    "CARDS_DIR": str(ROOT / "cards"),
    "PROFILES_DIR": str(ROOT / "fhir_profiles"),
    # Public base URL of this service, used to link cards to their rule page; empty = request host.
    "PUBLIC_URL": "",
    # -- authentication and audit
    # Verify the client's JWT on every hook and feedback call: on | off (off = development only, warned).
    "AUTH": "on",
    # JSON file of trusted clients (iss, keys, jku, audience, fhirServers, profile); empty = local dev key.
    "CLIENTS": "",
    # Seconds of clock skew allowed on exp / iat / nbf.
    "AUTH_LEEWAY": 30,
    # A client's JWK Set fetched from an allowlisted jku: timeout (s) and how long it is cached (s).
    "JWKS_TIMEOUT": 5.0,
    "JWKS_CACHE_SECONDS": 3600,
    # EHR-compatibility profile of the development client (AUTH off or the local dev key).
    "DEFAULT_PROFILE": "generic",
    # -- feedback loop
    # Bearer token (or HTTP Basic password) for /admin (the report); empty = /admin is off (404).
    "ADMIN_TOKEN": "",
    # Store the FHIR patient id with each issued card: off by default (no patient identifiers stored).
    "STORE_PATIENT_ID": False,
    # Days issued cards and feedback are kept; `python -m service db purge` deletes older ones. 0 = keep all.
    "RETENTION_DAYS": 730,
    # -- alert burden
    # Card memory (service/memory.py): on = a card is not repeated in one consultation, a reminder not within
    # REMINDER_INTERVAL_DAYS unless its facts changed; off = every call shows every card (as evaluate does).
    "CARD_MEMORY": "on",
    # Secret of the keyed hashes the card memory stores; empty = a random key generated into DATA_DIR (0600).
    "MEMORY_KEY": "",
    # A consultation without the EHR's encounterId: the same client and patient within this many hours.
    "CONSULTATION_HOURS": 4,
    # Chart-open reminders (cards marked routine) are not repeated within this many days with unchanged facts,
    # unless the card gives its own interval (reminder_days: the annual review, 91).
    "REMINDER_INTERVAL_DAYS": 28,
    # A site's per-rule intervals, overriding both the above and a card's own: {"REF-EXERCISE-THERAPY": 56}.
    "REMINDER_INTERVAL_DAYS_BY_RULE": {},
}


def setting_names() -> list[str]:
    """The environment variable names a deployer can set."""
    return [f"LBP_CDS_{name}" for name in DEFAULTS]


def flag(value: Any, name: str, *, empty_is_off: bool = True) -> bool:
    """An on/off setting (on, true, 1, yes / off, false, 0, no); anything else is a start-up error.

    ``empty_is_off=False`` for settings where an empty value must not quietly switch a safeguard
    off (``LBP_CDS_AUTH=`` is a mistake, not a request to drop authentication).
    """
    text = str(value).strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no") or (empty_is_off and text in ("", "none")):
        return False
    raise ValueError(f"LBP_CDS_{name} must be on or off, not {value!r}")
