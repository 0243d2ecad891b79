"""The canonical JSON of stored content (coord.domain.canonical): equal to RFC 8785
(``rfc8785.dumps``) wherever RFC 8785 is defined, the orjson fast path equal to the
exact encoder, one form for a value whatever number syntax holds it, and exact for
integers beyond 2**53."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from coord.domain.canonical import _encode, _number, canonical_json, digest, digest_json

I_JSON_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
STORED_INT = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson writes
FINITE = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text()  # no lone surrogates: such text never reaches a store
KEYS = st.one_of(TEXT, st.sampled_from(["a", "b", "\ue000", "\U0001f600", "\uffff", "é"]))


def json_values(ints: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | ints | FINITE | TEXT
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
        max_leaves=25,
    )


@settings(max_examples=600)
@given(json_values(I_JSON_INT))
def test_equals_rfc8785_on_i_json_values(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=600)
@given(json_values(STORED_INT))
def test_the_fast_path_writes_what_the_exact_encoder_writes(value: Any) -> None:
    assert canonical_json(value) == _encode(value)


@settings(max_examples=2000)
@given(FINITE)
def test_doubles_are_written_as_rfc8785_writes_them(value: float) -> None:
    assert _number(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [5e-324, 1.7976931348623157e308, 1e21, 1e20, 1e-6, 1e-7, 0.1, -0.0, 2.0**60, 123e-20],
)
def test_edge_doubles(value: float) -> None:
    assert _number(value) == rfc8785.dumps(value)


@settings(max_examples=600)
@given(json_values(STORED_INT))
def test_a_value_hashes_as_the_json_text_that_holds_it(value: Any) -> None:
    # What the write path hashes (its own JSON text, parsed back) is the value's hash.
    assert digest_json(orjson.dumps(value)) == digest(orjson.loads(orjson.dumps(value)))


@settings(max_examples=2000)
@given(FINITE)
def test_a_double_hashes_as_the_decimal_jsonb_prints_for_it(value: float) -> None:
    # jsonb keeps the decimal orjson wrote, printed without exponent: 1e18 comes back
    # as 1000000000000000000, an integer (a float again beyond 64 bits), 1e-7 as
    # 0.0000001, 100.0 as 100.0.
    exact = Decimal(orjson.dumps(value).decode())
    printed = f"{exact:f}" if exact != exact.to_integral_value() else f"{exact:.0f}"
    assert canonical_json(orjson.loads(printed)) == canonical_json(value)


def test_integers_beyond_2_53_are_exact() -> None:
    assert canonical_json({"n": 2**60 + 1}) == b'{"n":1152921504606846977}'
    assert digest(2**60 + 1) != digest(2**60)
    assert canonical_json(2**64 - 1) == b"18446744073709551615"
    assert canonical_json(10**21) == canonical_json(1e21) == b"1e+21"


def test_keys_are_sorted_by_utf16_code_units() -> None:
    value = {"\ue000": 1, "\U0001f600": 2, "z": 3}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).startswith(b'{"z":3,"\xf0\x9f\x98\x80"')


def test_known_digest() -> None:
    # Written out: a change of the canonical form would make every sealed hash differ.
    assert canonical_json({"b": [1, 2.5, None], "a": "x"}) == b'{"a":"x","b":[1,2.5,null]}'
    assert digest({"b": [1, 2.5, None], "a": "x"}) == (
        "ce74053d7a9997b7a9ffa28fba2f736e47c7ebb226ab093038bc0fba3a1554ee"
    )


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, {"x": -math.inf}, {1: "key"}, "\ud800", {"\udc00": 1}, object()],
)
def test_what_is_not_json_data_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        canonical_json(value)
