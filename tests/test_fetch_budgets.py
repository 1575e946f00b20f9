"""A hostile FHIR server costs a hook call at most its deadline and bounded memory.

Against a real socket server on loopback (tests/hostile_fhir.py): these are behaviour bounds
(the call ends by the deadline, the data is reported incomplete), not performance figures.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest

from service.prefetch import FetchSettings, gather
from service.registry import SERVICES
from tests.hookreq import hook_request, imaging_order
from tests.hostile_fhir import HostileFhir, running

DEADLINE = 1.0
#: Allowed beyond the deadline: the readers notice their sockets were shut, threads wind down.
MARGIN = 0.6
TEMPLATES = {"conditions": "Condition?patient={{context.patientId}}",
             "observations": "Observation?patient={{context.patientId}}"}


@pytest.fixture
def hostile():
    yield from running(sleep=30.0, trickle_every=0.2)


def request(base: str) -> dict:
    return {"hook": "patient-view", "hookInstance": "h", "fhirServer": base,
            "context": {"patientId": "p1", "userId": "Practitioner/u1"}}


def timed_gather(base: str, **settings):
    started = time.monotonic()
    result = gather(request(base), TEMPLATES, settings=FetchSettings(deadline=DEADLINE, **settings))
    return result, time.monotonic() - started


@pytest.mark.parametrize("mode", ["sleep", "trickle", "trickle-headers"])
def test_a_slow_server_costs_the_call_at_most_its_deadline(hostile: HostileFhir, mode: str):
    # The per-read timeout alone (5 s) never fires against a byte every 0.2 s.
    result, elapsed = timed_gather(hostile.base(mode), timeout=5.0)
    assert elapsed <= DEADLINE + MARGIN
    assert result.keys["conditions"].status == "fetched"
    assert result.keys["observations"].status == "fetch-failed"
    assert result.keys["observations"].problem == (
        "'observations' was not prefetched and could not be fetched from fhirServer"
    )
    # Nothing is left behind holding a thread or a socket after the call.
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("lbp-fetch")], 1.0)


def wait_until(condition, seconds: float) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_deadline_is_shared_by_all_queries_of_the_call(hostile: HostileFhir):
    """Seven keys, all slow, four at a time: still one deadline for the whole call, not one per read."""
    templates = {name: f"{query.split('?')[0]}?patient={{{{context.patientId}}}}&k={name}"
                 for name, query in SERVICES["lbp-patient-view"].prefetch.items()}
    started = time.monotonic()
    result = gather(request(hostile.base("sleep", "all")), templates, settings=FetchSettings(deadline=DEADLINE))
    assert time.monotonic() - started <= DEADLINE + MARGIN
    assert {r.status for r in result.keys.values()} == {"fetch-failed"}


def test_a_gzip_bomb_is_refused_at_the_byte_cap_with_bounded_memory(hostile: HostileFhir):
    cap = 1_000_000
    tracemalloc.start()
    try:
        result, elapsed = timed_gather(hostile.base("bomb"), max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 1 GiB when inflated; we never hold more than the cap plus one decompressed step.
    assert peak < 8 * cap, f"peak {peak} bytes"
    assert elapsed <= DEADLINE + MARGIN
    assert result.keys["observations"].status == "fetch-failed"
    assert result.keys["conditions"].status == "fetched"


def test_a_huge_bundle_is_refused_while_streaming(hostile: HostileFhir):
    cap = 2_000_000
    tracemalloc.start()
    try:
        result, _ = timed_gather(hostile.base("huge"), max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.keys["observations"].status == "fetch-failed"
    assert peak < 8 * cap, f"peak {peak} bytes"
    assert hostile.bytes_sent < 50_000_000  # we hung up; the server did not get to send it all


def test_endless_next_pages_stop_at_the_cap_and_say_the_data_is_incomplete(hostile: HostileFhir):
    result, elapsed = timed_gather(hostile.base("pages"), max_pages=4)
    observations = result.keys["observations"]
    assert observations.status == "incomplete"
    assert len(observations.resources) == 4
    assert "more than 4 pages" in (observations.problem or "")
    assert len([p for p in hostile.requests if "/fhir/Observation" in p]) == 4


def test_the_resource_cap_is_for_the_whole_call(hostile: HostileFhir):
    result, _ = timed_gather(hostile.base("many"), max_resources=500)
    assert len(result.resources()) == 500
    assert result.keys["observations"].status == "incomplete"
    assert "limit of resources" in (result.keys["observations"].problem or "")


# -- what the caller sees -----------------------------------------------------------------
def call(client, base: str, app_config: dict) -> tuple[int, dict, float]:
    client.application.config.update(app_config)
    body = hook_request("order-select", orders=(imaging_order(),), fhirServer=base)
    started = time.monotonic()
    response = client.post("/cds-services/lbp-order-select", json=body)
    return response.status_code, response.get_json(), time.monotonic() - started


def test_a_hook_call_against_a_trickling_server_answers_by_the_deadline_and_names_the_missing_data(
    client, hostile: HostileFhir
):
    status, body, elapsed = call(client, hostile.base("trickle"), {"FHIR_DEADLINE": DEADLINE})
    assert status == 200
    assert elapsed <= DEADLINE + MARGIN + 0.5  # plus evaluating the rules
    problems = body["extension"]["lbp-cds-data-problems"]
    assert "'observations' was not prefetched and could not be fetched from fhirServer" in problems
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "IMG-NOT-INDICATED")
    assert "Data kunne ikke hentes: observations;" in card["detail"]


def test_cards_say_which_data_is_incomplete_when_a_cap_cut_it(client, hostile: HostileFhir):
    status, body, _ = call(client, hostile.base("pages"), {"FHIR_MAX_PAGES": 3})
    assert status == 200
    problems = body["extension"]["lbp-cds-data-problems"]
    assert any(p.startswith("'observations' is incomplete: more than 3 pages") for p in problems)
    for card in body["cards"]:
        assert "Data er ufuldstændige: observations kun delvist hentet" in card["detail"]


def test_required_data_that_cannot_be_had_in_time_is_412_with_a_text_that_says_nothing_of_the_network(
    client, hostile: HostileFhir
):
    status, body, elapsed = call(client, hostile.base("sleep", "Condition"), {"FHIR_DEADLINE": DEADLINE})
    assert status == 412 and elapsed <= DEADLINE + MARGIN
    closed = HostileFhir()  # a port nothing listens on any more
    closed.server.server_close()
    status_closed, body_closed, _ = call(client, closed.base("ok", "Condition"), {})
    assert status_closed == 412
    text = body["issue"][0]["diagnostics"]
    assert text == body_closed["issue"][0]["diagnostics"].replace(str(closed.port), str(hostile.port))


def test_calls_beyond_the_fallback_slots_are_answered_without_fetching_and_say_so():
    """Hostile calls may hold only so many request threads; the next call does not queue behind them."""
    entered, release = threading.Event(), threading.Event()

    class Stuck:
        def search(self, relative_url: str) -> list:
            entered.set()
            release.wait(5)
            return []

    class MustNotBeAsked:
        def search(self, relative_url: str) -> list:
            raise AssertionError("asked although every slot was busy")

    settings = FetchSettings(max_concurrent_calls=1, deadline=5.0)
    body = request("https://ehr.example.dk/fhir")
    holder = threading.Thread(target=gather, args=(body, TEMPLATES), kwargs={"settings": settings, "source": Stuck()})
    holder.start()
    try:
        assert entered.wait(2)
        result = gather(body, TEMPLATES, settings=settings, source=MustNotBeAsked())
        assert {r.status for r in result.keys.values()} == {"not-fetched"}
        assert "busy" in (result.keys["observations"].problem or "")
    finally:
        release.set()
        holder.join(5)
    assert gather(body, TEMPLATES, settings=settings, source=Stuck()).keys["observations"].status == "fetched"
