"""The range of every number coord accepts, in one place.

Both databases store 64-bit integers and finite doubles, and JSON (RFC 8259) has no
NaN or Infinity, so every number a caller gives has a range that keeps it (and the
sums coord makes of it) inside those. The SDK, the CLI and the API all refuse a value
outside its range before anything is stored, naming the field; docs/api.md lists
the ranges.
"""

from __future__ import annotations

import math
from typing import Any

from coord.domain.durations import MAX_SECONDS

#: The largest integer either database stores (a signed 64-bit integer).
INT64_MAX = 2**63 - 1
#: An event id, a mailbox sequence number, an event cursor's parts.
MAX_ID = INT64_MAX
#: Tokens in a budget limit or in one charge (sums of many stay below 2**63).
MAX_TOKENS = 10**15
#: Dollars in a budget limit or in one charge (kept as micro-dollars: 10**15 at most).
MAX_USD = 10**9
#: Seconds of any duration: delays, TTLs, timeouts, time boxes, tool seconds (100 years).
MAX_DURATION = MAX_SECONDS
#: Tasks per period in a rate limit ("1000/s").
MAX_RATE = 10**9
#: Counts: retries, stall_after, fan-out parallelism, gate fix loops, concurrency limits.
MAX_COUNT = 1_000_000


class OutOfRange(ValueError):
    """A number outside its range (or no number at all); ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def whole(value: Any, field: str, *, low: int = 0, high: int) -> int:
    """``value`` as an ``int`` if it is a whole number in ``[low, high]`` (a float
    such as ``5.0`` counts; ``True``, ``NaN``, ``inf`` and ``5.5`` do not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OutOfRange(field, f"must be a whole number, got {value!r}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise OutOfRange(field, f"must be a whole number, got {value!r}")
    number = int(value)
    _check(number, field, low, high)
    return number


def number(value: Any, field: str, *, low: float = 0.0, high: float) -> float:
    """``value`` as a ``float`` if it is a finite number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OutOfRange(field, f"must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise OutOfRange(field, f"must be a finite number, got {value!r}")
    _check(value, field, low, high)
    return float(value)


def _check(value: float, field: str, low: float, high: float) -> None:
    if value < low:
        wanted = "must not be negative" if low == 0 else f"must be at least {_plain(low)}"
        raise OutOfRange(field, f"{wanted}, got {_shown(value)}")
    if value > high:
        raise OutOfRange(field, f"must be at most {_plain(high)}, got {_shown(value)}")


def _plain(value: float) -> str:
    # 3155760000 rather than 3.15576e+09, 1000000000000000 as 1_000_000_000_000_000
    if float(value).is_integer():
        return f"{int(value):_}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:g}"


def _shown(value: float) -> str:
    # A 300-digit integer in an error message helps nobody.
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} digits)"
