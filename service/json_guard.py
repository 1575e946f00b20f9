"""Checks on decoded JSON that the parser does not make: nesting depth and valid Unicode.

``json.loads`` accepts arrays nested hundreds deep (each later stage then recurses into
them until Python's stack runs out) and ``"\\ud800"`` escapes that decode to a lone
surrogate (valid JSON, not valid Unicode: encoding it for the response or the database
fails). Both must be refused where the data enters, not discovered as a crash later.
The walk is iterative, so the check itself cannot overflow the stack.

Given the raw bytes as well, the check is cheaper: a surrogate can only come from a
``\\uD800``-``\\uDFFF`` escape, from surrogate code points encoded in UTF-8 (``json.loads``
decodes bytes with ``surrogatepass``) or from a UTF-16/32 body (which has NUL bytes). When the
raw bytes hold none of those, only the depth is walked, over containers alone; a problem found
gives the same message either way (the full walk names the path).
"""

from __future__ import annotations

import re
from typing import Any

#: A ``\\u`` escape of D800-DFFF (a paired one, an emoji, matches too: the full walk decides).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _maybe_surrogate(raw: bytes) -> bool:
    """Whether ``raw`` could decode to a surrogate: an escape of one, the UTF-8 lead byte of one (ED, kept
    simple: also Korean text, then the full walk decides), or a NUL byte (a UTF-16 or UTF-32 body)."""
    return b"\xed" in raw or b"\x00" in raw or _SURROGATE_ESCAPE.search(raw) is not None

#: Deepest nesting accepted. A hook request with a Bundle of resources with extensions is
#: about 15 deep; 64 leaves room for contained resources and nested extensions.
MAX_DEPTH = 64


class JsonProblem(ValueError):
    """The JSON is well-formed but not acceptable; the message names where (``$.path``)."""


def _path(parts: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json(value: Any, max_depth: int = MAX_DEPTH, raw: bytes | None = None) -> None:
    """Raise :class:`JsonProblem` if ``value`` nests deeper than ``max_depth`` or holds invalid Unicode.

    ``raw``: the bytes ``value`` was decoded from (UTF-8), which allows the fast path.
    """
    if raw is not None and not _maybe_surrogate(raw) and _depth_within(value, max_depth):
        return
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not _valid_text(item):
                raise JsonProblem(f"{_path(where)}: the text is not valid Unicode (a lone surrogate)")
            continue
        if not isinstance(item, (dict, list)):
            continue
        if len(where) >= max_depth:
            raise JsonProblem(f"{_path(where[:8])}...: nested more than {max_depth} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                if not _valid_text(key):
                    raise JsonProblem(f"{_path(where)}: a property name is not valid Unicode (a lone surrogate)")
                stack.append((child, (*where, _printable(key))))
        else:
            stack.extend((child, (*where, index)) for index, child in enumerate(item))


def _depth_within(value: Any, max_depth: int) -> bool:
    """Whether no container in ``value`` is nested ``max_depth`` deep (containers only, no paths)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        if depth >= max_depth:
            return False
        depth += 1
        following: list[Any] = []
        for item in level:
            for child in item.values() if item.__class__ is dict else item:
                if child.__class__ is dict or child.__class__ is list:
                    following.append(child)
        level = following
    return True


def _printable(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."
