"""Checks on decoded JSON that the parser does not make: nesting depth and valid Unicode.

``json.loads`` accepts arrays nested hundreds deep (each later stage then recurses into
them until Python's stack runs out) and ``"\\ud800"`` escapes that decode to a lone
surrogate (valid JSON, not valid Unicode: encoding it for the response or the database
fails). Both must be refused where the data enters, not discovered as a crash later.
The walk is iterative, so the check itself cannot overflow the stack.
"""

from __future__ import annotations

from typing import Any

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


def check_json(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`JsonProblem` if ``value`` nests deeper than ``max_depth`` or holds invalid Unicode."""
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


def _printable(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."
