"""The canonical JSON of stored content (RFC 8785) and its SHA-256, which the events
recording content carry so that the ledger covers the content too.

A value is canonicalized **as parsed back from its stored JSON text**, so the hash
made when it is written and the hash of the row read back later agree on both
backends: SQLite keeps the text coord wrote, PostgreSQL keeps jsonb (keys sorted,
its own spacing, ``100.0`` kept but ``1e18`` printed as ``1000000000000000000``),
and RFC 8785 gives all of these one form.

RFC 8785 writes every number as the IEEE 754 double it denotes and leaves integers
beyond 2**53 out (I-JSON). coord stores 64-bit integers exactly, so an integer
``n`` with ``2**53 <= |n| < 10**21`` is written as its exact decimal digits: an
edited last digit of a large id still changes the hash. For a number that came
from a double (as jsonb prints ``1e18``) those digits are what RFC 8785 writes for
the double anyway, so both forms of the same value hash alike. Integers of 10**21
and more are written as the double they round to, as RFC 8785 does.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

_EXACT_INT = 10**21  # below this, RFC 8785 writes an integral double as its digits
_ORJSON_INT_MIN, _ORJSON_INT_MAX = -(2**63), 2**64 - 1  # the integers orjson writes


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of a JSON value (see the module docstring).

    orjson with sorted keys writes exactly these bytes when the value has no float
    (orjson writes ``1e18`` and ``100.0``, RFC 8785 ``1000000000000000000`` and
    ``100``) and only ASCII keys (orjson sorts keys by code point, RFC 8785 by
    UTF-16 code unit; the two orders differ only beyond the ASCII range): the common
    case, at a fraction of the cost. Anything else takes the exact encoder.
    Raises ``ValueError`` for a value that is not JSON data (NaN, infinity, a
    non-string key, a lone surrogate)."""
    if _orjson_exact(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:  # a lone surrogate
            raise ValueError(f"not JSON text: {exc}") from None
    return _encode(value)


def digest(value: Any) -> str:
    """The SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def digest_json(text: str | bytes) -> str:
    """The SHA-256 (hex) of the canonical JSON of the value that JSON ``text`` holds."""
    return digest(orjson.loads(text))


def _orjson_exact(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_ORJSON_INT_MIN <= value <= _ORJSON_INT_MAX)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _orjson_exact(item):
                return False
        return True
    if kind is list:
        return all(_orjson_exact(item) for item in value)
    return False  # float, or not JSON data: the exact encoder decides


def _encode(value: Any) -> bytes:
    """RFC 8785, written out: strings as orjson writes them (RFC 8785's escaping,
    held to ``rfc8785.dumps`` by the tests), numbers as above, keys in UTF-16 order."""
    kind = type(value)
    if kind is float:
        return _number(value)
    if kind is str or kind is bool or value is None:
        return _scalar(value)
    if kind is int:
        if abs(value) < _EXACT_INT:  # up to 2**53 as RFC 8785, beyond: exact digits
            return str(value).encode()
        return _number(float(value))
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise ValueError("not JSON data: object keys must be strings")
        keys = sorted(value) if all(k.isascii() for k in value) else sorted(value, key=_utf16)
        return b"{" + b",".join([_scalar(k) + b":" + _encode(value[k]) for k in keys]) + b"}"
    if kind is list or kind is tuple:
        return b"[" + b",".join([_encode(item) for item in value]) + b"]"
    raise ValueError(f"not JSON data: {kind.__name__}")


def _utf16(key: str) -> bytes:
    # ASCII keys sort alike by code point and by UTF-16 unit; others need the units.
    return key.encode("utf-16-be", "surrogatepass")


def _scalar(value: str | bool | None) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:  # a lone surrogate
        raise ValueError(f"not JSON text: {exc}") from None


def _number(value: float) -> bytes:
    """A double as ECMAScript writes it (RFC 8785 section 3.2.2.3), from Python's
    shortest round-trip ``repr``: what ``rfc8785.dumps`` writes, at a fraction of
    its cost (the tests hold the two equal)."""
    if not math.isfinite(value):
        raise ValueError(f"not JSON data: {value} (RFC 8259 has no NaN or infinity)")
    if value == 0:
        return b"0"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).strip("0")
    if whole != "0":  # value = 0.DIGITS x 10**point
        point = len(whole) + int(exp or 0)
    else:
        point = int(exp or 0) - (len(fraction) - len(fraction.lstrip("0")))
    count = len(digits)
    if count <= point <= 21:
        out = digits + "0" * (point - count)
    elif 0 < point <= 21:
        out = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        out = "0." + "0" * -point + digits
    else:
        power = point - 1
        head = digits if count == 1 else digits[0] + "." + digits[1:]
        out = f"{head}e{'+' if power >= 0 else '-'}{abs(power)}"
    return (sign + out).encode()
