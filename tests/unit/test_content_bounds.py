"""The domain's rules for what coord stores: JSON content unchanged or refused
(``coord.domain.content``) and the range of every number (``coord.domain.bounds``)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime

import pytest

from coord.domain import bounds, content
from coord.domain.budgets import parse_limits


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        ({"a": math.nan}, "payload.a", "NaN"),
        ({"a": [1, {"b": math.inf}]}, "payload.a.1.b", "Infinity"),
        ([-math.inf], "payload.0", "-Infinity"),
        ({"a": 2**64}, "payload.a", "integers"),
        ({"a": -(2**63) - 1}, "payload.a", "integers"),
        ({"a": "x\x00"}, "payload.a", "NUL"),
        ({"k\x00": 1}, "payload.k\\u0000", "NUL"),
        ({1: 2}, "payload.1", "keys must be text"),
        ({"a": {1, 2}}, "payload.a", "not JSON data"),
        ({"a": object()}, "payload.a", "not JSON data"),
    ],
)
def test_encode_refuses_what_json_cannot_hold_naming_where(
    value: object, field: str, problem: str
) -> None:
    with pytest.raises(content.ContentInvalid) as caught:
        content.encode(value, "payload")
    assert caught.value.field == field
    assert problem in str(caught.value)


def test_encode_keeps_everything_else_exactly() -> None:
    value = {"n": None, "s": "null", "t": "\\u0000", "big": 2**64 - 1, "neg": -(2**63), "f": 0.1}
    assert content.encode(value, "x") == (
        '{"n":null,"s":"null","t":"\\\\u0000","big":18446744073709551615,'
        '"neg":-9223372036854775808,"f":0.1}'
    )


def test_types_the_encoder_knows_are_kept_beside_a_null() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    assert (
        content.encode({"at": when, "x": None}, "p")
        == '{"at":"2026-01-02T00:00:00+00:00","x":null}'
    )


def test_a_dataclass_is_walked_like_the_encoder_writes_it() -> None:
    @dataclasses.dataclass
    class Point:
        x: float

    with pytest.raises(content.ContentInvalid, match=r"point\.x: NaN"):
        content.encode({"point": Point(math.nan)}, "")


def test_a_deeply_nested_value_does_not_exhaust_the_stack() -> None:
    value: object = "\x00"
    for _ in range(5000):
        value = [value]
    found = content.problem_in(value, "body")
    assert found is not None and found.field.startswith("body.0.0")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"a": NaN}', "NaN"),
        ("[Infinity]", "Infinity"),
        ("[-Infinity]", "-Infinity"),
        ("[1e999]", "1e999"),
        ("[1", "Expecting"),
    ],
)
def test_parse_is_strict(text: str, needle: str) -> None:
    with pytest.raises(content.ContentInvalid, match=needle):
        content.parse(text, "--payload")


def test_parse_keeps_large_integers_exact() -> None:
    assert content.parse("[123456789012345678901234567890, 0.5]", "x") == [
        123456789012345678901234567890,
        0.5,
    ]


def test_check_text() -> None:
    assert content.check_text("ok", "subject") == "ok"
    with pytest.raises(content.ContentInvalid, match="subject: text must not contain"):
        content.check_text("a\x00", "subject")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bounds.whole(10**30, "tokens", high=bounds.MAX_TOKENS), "at most"),
        (lambda: bounds.whole(-1, "tokens", high=5), "must not be negative"),
        (lambda: bounds.whole(1.5, "tokens", high=5), "whole number"),
        (lambda: bounds.whole(True, "tokens", high=5), "whole number"),
        (lambda: bounds.whole(math.nan, "tokens", high=5), "whole number"),
        (lambda: bounds.number(math.inf, "usd", high=bounds.MAX_USD), "finite"),
        (lambda: bounds.number(math.nan, "usd", high=bounds.MAX_USD), "finite"),
        (lambda: bounds.number("1", "usd", high=bounds.MAX_USD), "a number"),
        (lambda: bounds.number(2, "x", low=3, high=5), "at least 3"),
    ],
)
def test_bounds_refuse_naming_the_field(call: object, message: str) -> None:
    with pytest.raises(bounds.OutOfRange, match=message):
        call()  # type: ignore[operator]


def test_budget_limits_have_ranges() -> None:
    assert parse_limits(["tokens=1000000000000000", "usd=1000000000"]).tokens == 10**15
    for text, field in (
        ("usd=inf", "usd"),
        ("usd=nan", "usd"),
        ("tokens=1" + "0" * 30, "tokens"),
        ("tokens=10**30", "tokens"),
        ("tool_seconds=1e300", "tool_seconds"),
    ):
        with pytest.raises(bounds.OutOfRange) as caught:
            parse_limits([text])
        assert caught.value.field == field
