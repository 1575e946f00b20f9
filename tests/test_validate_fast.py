"""The fast request check (service/validate.py) never passes a request jsonschema refuses.

The predicate compiled from the request schema decides alone whether jsonschema runs, so it may
only err towards "no". Held to jsonschema on the synthetic benchmark records, on every request
the other tests send (the autouse fixture in tests/conftest.py) and on generated mutations of a
valid request: each mutation sets or removes one member somewhere in it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import synthetic
from service.validate import HOOKS, NotCompiled, Validators, compile_check, format_checker
from tests.hookreq import condition, full_prefetch, hook_request, imaging_order

VALIDATORS = Validators.load()


def jsonschema_valid(hook: str, body: Any) -> bool:
    return not any(True for _ in VALIDATORS.hooks[hook].iter_errors(body))


def test_every_hook_has_a_fast_check() -> None:
    assert set(VALIDATORS.fast) == set(HOOKS)


@pytest.mark.parametrize("hook", synthetic.HOOKS)
@pytest.mark.parametrize("size", (10, 100))
def test_valid_requests_pass_the_fast_check(hook: str, size: int) -> None:
    body = synthetic.request(hook, size)
    assert jsonschema_valid(hook, body)
    assert VALIDATORS.fast[hook](body)


def test_a_keyword_it_does_not_know_leaves_jsonschema_alone() -> None:
    with pytest.raises(NotCompiled):
        compile_check({"anyOf": [{"type": "string"}]}, {}, format_checker())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member path of a request, its prefetch entries cut short (the schema stops there too)."""
    found = [prefix]
    if len(prefix) > 6:
        return found
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            found += _paths(child, (*prefix, index))
    return found


BASE = {hook: hook_request(hook, prefetch=full_prefetch(condition(onset_days=21)),
                           orders=() if hook == "patient-view" else (imaging_order(),),
                           fhirServer="https://ehr.example/fhir",
                           fhirAuthorization={"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                              "scope": "patient/*.read", "subject": "cds", "patient": "p1"})
        for hook in HOOKS}
PATHS = {hook: _paths(body) for hook, body in BASE.items()}
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "Patient/p1", "Practitioner/d1", "Bundle", "patient-view", "order-select",
                     "order-sign", "Bearer", "https://ehr.example/fhir", "ftp://x", "http://a b", "p1", "a/b/c",
                     "Practitioner/" + "x" * 65, "x" * 257, 3.0, 2.5, -1, True, 0]),
    st.lists(st.sampled_from(["Patient/p1", 1, None, "x y"]), max_size=3),
    st.dictionaries(st.sampled_from(["resourceType", "entry", "resource", "x"]),
                    st.sampled_from(["Bundle", "Patient", 1, None, [], {}]), max_size=3),
)


def _mutate(body: dict[str, Any], path: tuple[Any, ...], value: Any, remove: bool) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    if not path:
        return changed
    parent: Any = changed
    for step in path[:-1]:
        parent = parent[step]
    if remove and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


@pytest.mark.parametrize("hook", HOOKS)
def test_the_request_mutated_is_valid(hook: str) -> None:
    assert jsonschema_valid(hook, BASE[hook]) and VALIDATORS.fast[hook](BASE[hook])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hook=st.sampled_from(HOOKS), data=st.data(), value=VALUES, remove=st.booleans())
def test_mutations_get_jsonschemas_verdict(hook: str, data: st.DataObject, value: Any, remove: bool) -> None:
    body = _mutate(BASE[hook], data.draw(st.sampled_from(PATHS[hook])), value, remove)
    assert VALIDATORS.fast[hook](body) == jsonschema_valid(hook, body)
