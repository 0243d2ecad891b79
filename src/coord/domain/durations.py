"""Human durations: ``"10m"``, ``"1h30m"``, ``"250ms"``, ``"30"`` (seconds) or a number."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")
# Longer is a mistake (and beyond it dates overflow): a hundred years.
MAX_SECONDS = 100 * 365.25 * 86400


def parse_duration(value: str | float | timedelta) -> float:
    """Return ``value`` in seconds.

    Accepts a number of seconds, a :class:`~datetime.timedelta`, or a string made of
    number+unit parts (``ms``, ``s``, ``m``, ``h``, ``d``, ``w``) such as ``"1h30m"``.
    Raises ``ValueError`` naming the bad text; negative durations and durations over
    a hundred years are refused.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if not text or not _WHOLE.fullmatch(text):
                raise ValueError(
                    f"invalid duration {value!r}: use e.g. '30s', '10m', '1h30m' or seconds"
                ) from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a non-negative number of seconds")
    if seconds > MAX_SECONDS:
        raise ValueError(f"invalid duration {value!r}: at most 100 years")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds compactly for people: ``0.25s``, ``90s`` -> ``1m30s``, ``2h``."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
