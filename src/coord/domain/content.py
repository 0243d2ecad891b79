"""User content as coord stores it: JSON (RFC 8259) and text, never changed on the way in.

Payloads, results, message bodies, run inputs, checkpoints, step results and
artifacts go through :func:`encode`, the one place user data becomes stored JSON. It
refuses what JSON cannot hold, instead of letting the encoder write ``null`` for it:
``NaN`` and ``Infinity``, integers outside ``[-2**63, 2**64 - 1]``, keys that are not
text. It also refuses the NUL character (``\\u0000``) in strings and keys, because
PostgreSQL can store it neither in ``text`` nor in ``jsonb``: both backends refuse
the same values. Plain text fields (subjects, keys, names, reasons...) pass
:func:`check_text`. JSON text typed by people (CLI options, files) is read by
:func:`parse`, which refuses ``NaN``, ``Infinity`` and numbers beyond a double.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from coord.domain import codec

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1  # what the JSON encoder writes exactly (and both databases read back)
_NUL = "\x00"
_NO_NUL = "must not contain the NUL character (\\u0000)"
NUL_PROBLEM = "text " + _NO_NUL
_NAN = " (JSON has no NaN or Infinity)"
_INT_PROBLEM = f"integers must be between {INT_MIN} and {INT_MAX}"


class ContentInvalid(ValueError):
    """A value coord cannot store unchanged; ``field`` is where it is (``payload.items.2``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def encode(value: Any, field: str) -> str:
    """``value`` as compact JSON text; :class:`ContentInvalid` naming where it is not
    JSON data (or holds a NUL character)."""
    if value is None:  # the result of most handlers
        return "null"
    try:
        text = codec.dumps(value)
    except TypeError as exc:
        found = problem_in(value, field, leaves=True)
        raise (found or ContentInvalid(field, f"not JSON data: {exc}")) from None
    # Only text holding what a NaN, an Infinity or a NUL becomes is walked (and only
    # for floats when it holds no escaped NUL: the common None costs less).
    nul = "\\" in text and "\\u0000" in text
    if (nul or "null" in text) and not _clean(value, integers=False, strings=nul):
        found = problem_in(value, field)  # None: only a type the walk leaves alone
        if found is not None:
            raise found
    return text


def check_text(value: str, field: str) -> str:
    """``value`` if it is text without a NUL character; :class:`ContentInvalid`
    otherwise."""
    if not isinstance(value, str):
        raise ContentInvalid(field, f"must be text, got {type(value).__name__}")
    if _NUL in value:
        raise ContentInvalid(field, NUL_PROBLEM)
    return value


def check_texts(values: dict[str, str | None]) -> None:
    """:func:`check_text` on each value given (None: absent), named by its key."""
    for field, value in values.items():
        if value is not None:
            check_text(value, field)


def parse(text: str | bytes, field: str) -> Any:
    """JSON text typed by a person (an option, a file), strictly: ``NaN``,
    ``Infinity`` and numbers too large for a double are refused, not turned into
    something else."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise ContentInvalid(field, f"not valid JSON: {exc}") from None


def problem_in(
    value: Any, field: str = "", *, integers: bool = True, leaves: bool = False
) -> ContentInvalid | None:
    """The first place in ``value`` that JSON cannot hold unchanged (None: nowhere).
    ``field`` names ``value`` itself; "" names its keys at the top level.
    ``integers`` False leaves integers to the range checks of their own fields. With
    ``leaves``, a value of any other type is tried alone with the encoder (to name
    the object that is not JSON data). The walk uses its own stack, so a deeply
    nested value cannot exhaust Python's."""
    if not leaves and _clean(value, integers=integers, strings=True):
        return None
    stack: list[tuple[str, Any]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _NUL in item:
                return ContentInvalid(path or "body", NUL_PROBLEM)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return ContentInvalid(path or "body", f"{_named(item)} is not a JSON number{_NAN}")
        elif isinstance(item, int) and not isinstance(item, bool):
            if integers and not INT_MIN <= item <= INT_MAX:
                return ContentInvalid(path or "body", _INT_PROBLEM)
        elif isinstance(item, dict):
            for key, child in item.items():
                inner = f"{path}.{key}" if path else str(key)
                if not isinstance(key, str):
                    return ContentInvalid(inner, "object keys must be text")
                if _NUL in key:
                    return ContentInvalid(inner.replace(_NUL, "\\u0000"), "keys " + _NO_NUL)
                stack.append((inner, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}.{i}" if path else str(i), c) for i, c in enumerate(item))
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            # The encoder writes a dataclass as an object of its fields.
            for f in dataclasses.fields(item):
                stack.append((f"{path}.{f.name}" if path else f.name, getattr(item, f.name)))
        elif leaves and item is not None:
            try:
                codec.dumps(item)
            except TypeError as exc:
                return ContentInvalid(path or "body", f"not JSON data: {exc}")
    return None


def _clean(value: Any, *, integers: bool, strings: bool) -> bool:
    """True when :func:`problem_in` would find nothing: the same checks without
    building a path for every item (paths are built only to name a problem).
    ``strings`` False skips looking for NUL characters (the caller knows of none)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if strings and _NUL in item:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is dict:
            if strings:
                for key in item:
                    if type(key) is not str or _NUL in key:
                        return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is int:
            if integers and not INT_MIN <= item <= INT_MAX:
                return False
        elif kind is not bool and item is not None:
            return False  # anything else (subclasses too): the full walk decides
    return True


def _named(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (JSON, RFC 8259, has no NaN or Infinity)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is beyond the range of a double")
    return value
