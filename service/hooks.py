"""The CDS Hooks protocol: discovery, hook calls and feedback. No clinical logic here.

Each view validates, hands over to the pipeline (:func:`service.engine.evaluate_request`)
or to storage, and answers. Errors are raised as :mod:`service.errors` and rendered as
OperationOutcome by the handlers in :mod:`service.app_errors`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from . import memory, profiles, vendor_feedback
from .auth import authenticate
from .config import flag
from .engine import PROBLEMS_KEY, Options, Result, evaluate_request
from .errors import BadRequest, Conflict, NotFound, ServiceUnavailable, UnsupportedMediaType
from .intake import SMALL_BYTES
from .json_guard import MAX_DEPTH, JsonProblem, check_json
from .logs import note
from .prefetch import FetchSettings
from .registry import SERVICES, CdsService
from .runtime import Runtime, runtime
from .storage import ContradictoryFeedback, StorageError, UnknownCard

log = logging.getLogger(__name__)
bp = Blueprint("hooks", __name__, url_prefix="/cds-services")
#: Every call but discovery and CORS preflights carries a verified client on ``g.client``.
bp.before_request(authenticate)

SPEC_VERSION = "2.0.1"
HOOK_VERSION = "1.0"
LANGUAGES = ("da", "en")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json() -> Any:
    """The request body as JSON, or a 415/400 that says what is wrong with it."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"Send the body as JSON with 'Content-Type: application/json' (got '{request.mimetype or 'none'}')."
        )
    raw = request.get_data(cache=True)  # raises 413 over MAX_CONTENT_LENGTH
    _hold_large_body(len(raw))  # read first: a slow upload holds only its own thread
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise BadRequest("The body is not UTF-8 encoded JSON.") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    except RecursionError as exc:
        raise BadRequest(f"The body is nested more than {MAX_DEPTH} levels deep.") from exc
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from exc
    try:
        check_json(body, raw=raw)
    except JsonProblem as exc:
        raise BadRequest(f"The body is not acceptable: {exc}.") from exc
    return body


def _service(service_id: str) -> CdsService:
    service = SERVICES.get(service_id)
    if service is None:
        raise NotFound(f"No CDS service '{service_id}' here; GET /cds-services lists the services.")
    note(service=service.id)
    return service


def allowed_fhir_servers() -> tuple[str, ...] | None:
    """The verified client's ``fhirServers`` (set on ``flask.g.client`` by authentication).

    ``None``: no verified client on this request (authentication off or not installed);
    ``()``: a client with no servers listed (authentication off, development). Both mean no
    allowlist is in force; :func:`service.fhir_servers.refusal` still demands https (http
    only to loopback). A non-empty tuple: only those base URLs are ever sent a request.
    """
    servers = getattr(getattr(g, "client", None), "fhir_servers", None)
    return None if servers is None else tuple(str(s) for s in servers)


def _options() -> Options:
    config = current_app.config
    language = request.accept_languages.best_match(LANGUAGES) if request.accept_languages else None
    return Options(
        language=language or str(config["LANGUAGE"]),
        explain=bool(config["EXPLAIN"]),
        max_cards_patient_view=int(config["MAX_CARDS_PATIENT_VIEW"]),
        max_cards=int(config["MAX_CARDS"]),
        fetch=FetchSettings(
            timeout=float(config["FHIR_TIMEOUT"]),
            deadline=float(config["FHIR_DEADLINE"]),
            max_pages=int(config["FHIR_MAX_PAGES"]),
            max_resources=int(config["FHIR_MAX_RESOURCES"]),
            max_bytes=int(config["FHIR_MAX_BYTES"]),
            max_concurrent_calls=int(config["FHIR_MAX_CONCURRENT_CALLS"]),
            prefetch_only=bool(config["PREFETCH_ONLY"]),
            allowed_servers=allowed_fhir_servers(),
        ),
        base_url=str(config["PUBLIC_URL"] or request.host_url).rstrip("/"),
        strict=bool(config["TESTING"]) and config.get("PROPAGATE_EXCEPTIONS") is not False,
    )


@bp.get("")
def discovery() -> Any:
    """``GET /cds-services``: the services, from the one registry that also routes calls."""
    services = []
    profile = str(current_app.config["DEFAULT_PROFILE"])  # discovery is public: no client to ask
    for service in SERVICES.values():
        if not profiles.offers(profile, service.hook):
            continue
        entry = service.discovery(SPEC_VERSION)
        entry["hookVersion"] = HOOK_VERSION
        services.append(entry)
    return jsonify({"services": services})


def _hold_large_body(size: int) -> None:
    """A body over 1 MB, once read, holds its size from the process allowance until the request ends.

    (:mod:`service.intake`: the decoded JSON of a few large bodies at a time, 503 when no room frees.)
    """
    if size > SMALL_BYTES and "intake_bytes" not in g:
        g.intake_bytes = runtime().intake.take(size)


@bp.teardown_request
def _release_body(exc: BaseException | None) -> None:
    taken = g.pop("intake_bytes", None)
    if taken is not None:
        runtime().intake.give_back(taken)


@bp.post("/<service_id>")
def call(service_id: str) -> Any:
    """``POST /cds-services/{id}``: validate, evaluate, remember which cards were issued."""
    service = _service(service_id)
    profile = g.client.profile
    if not profiles.offers(profile, service.hook):
        raise NotFound(f"CDS service '{service_id}' is not offered to this client (profile {profile}).")
    state = runtime()
    body = state.validators.hook_request(
        service.hook, read_json(), max_draft_orders=int(current_app.config["MAX_DRAFT_ORDERS"])
    )
    note(hook=service.hook, hookInstance=str(body["hookInstance"])[:64])
    result = evaluate_request(body, service, state.knowledge, state.terminology, _options())
    response: dict[str, Any] | None = None
    try:
        # The card memory's and the issued cards' rows: one write transaction (storage.SqlStorage.batched).
        with state.storage.batched():
            response = _remember_and_record(service, body, result, profile, state)
    except StorageError:
        if response is None:
            raise
        # The commit failed after the answer was shaped. Advice must not be withheld because the
        # database is down; feedback will say so.
        log.warning("could not record issued cards for %s", service.id)
    return jsonify(response)


def _remember_and_record(service: CdsService, body: Mapping[str, Any], result: Result, profile: str,
                         state: Runtime) -> dict[str, Any]:
    """Hide repeats (card memory), shape the answer for the client's profile, record what is issued."""
    if state.memory is not None:
        result, decisions = memory.apply(result, body["context"], hook=service.hook, client_iss=g.client.iss,
                                         store=state.storage, settings=state.memory)
        note(repeats_suppressed=[d.card.rule_id for d in decisions if not d.shown])
    g.evaluation = result  # counted by service.metrics
    response = profiles.shape(result.response, profile, service.hook, body["context"])
    note(fired=[c.rule_id for c in result.issued],
         data_problems=len(response.get("extension", {}).get(PROBLEMS_KEY, ())),
         resources_parsed=result.parsed, resources_skipped=result.skipped)
    offered = profiles.offered(response, profile)
    by_card = {c["uuid"]: [s["uuid"] for s in c.get("suggestions", ())] for c in response["cards"]}
    state.storage.record_issued(
        service.id, str(body["hookInstance"]),
        [(c.uuid, c.rule_id, c.rule_version, by_card.get(c.uuid, ())) for c in result.issued],
        client_iss=g.client.iss, offered=offered, patient_id=_patient_id(body["context"]),
    )
    return response


def _patient_id(context: Any) -> str | None:
    """The patient id to store with the cards: none unless LBP_CDS_STORE_PATIENT_ID is on."""
    if not flag(current_app.config["STORE_PATIENT_ID"], "STORE_PATIENT_ID"):
        return None
    patient = context.get("patientId") if isinstance(context, dict) else None
    return str(patient) if patient else None


@bp.post("/<service_id>/feedback")
def feedback(service_id: str) -> Any:
    """``POST /cds-services/{id}/feedback``: stored durably before we say 200.

    Only on cards this service issued to the calling client, one outcome per card: the same
    outcome again is a harmless repeat (200, same answer), another outcome is 409.
    """
    service = _service(service_id)
    state = runtime()
    body = state.validators.feedback_request(vendor_feedback.normalise(read_json()))
    note(feedback_items=len(body["feedback"]))
    try:
        stored = state.storage.store_feedback(service.id, body["feedback"], client_iss=g.client.iss)
    except UnknownCard as exc:
        raise NotFound(f"Card '{exc.card}' (or a suggestion accepted on it) was not issued by {service.id} to this "
                       "client; nothing in this feedback was stored.") from None
    except ContradictoryFeedback as exc:
        raise Conflict(f"Card '{exc.card}' already has another outcome recorded; a card has one outcome. "
                       "Nothing in this feedback was stored.") from None
    except StorageError as exc:
        log.error("feedback for %s not stored: %s", service.id, type(exc).__name__)
        raise ServiceUnavailable("The feedback could not be stored; nothing was kept. Please send it again.") from exc
    g.feedback_outcomes = [item["outcome"] for item in body["feedback"]]  # counted by service.metrics
    return jsonify({"stored": stored})
