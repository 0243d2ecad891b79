"""Budgets: what a scope charged against its limits.

Usage is the sum of what the scope's tasks charged (``ctx.charge``): tokens in and
out count together against ``tokens``; dollars are kept in micro-dollars. A scope is
over its budget when any limit is exceeded (strictly: reaching it exactly is not
over); it then starts no new work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from coord.domain import bounds
from coord.domain.tasks import Usage
from coord.domain.workflows import Budget


def overruns(budget: Budget, usage: Usage) -> dict[str, dict[str, float]]:
    """Each exceeded limit: ``{"tokens": {"used": 1200, "limit": 1000}, ...}``."""
    out: dict[str, dict[str, float]] = {}
    tokens = usage.tokens_in + usage.tokens_out
    if budget.tokens is not None and tokens > budget.tokens:
        out["tokens"] = {"used": tokens, "limit": budget.tokens}
    if budget.usd_micros is not None and usage.usd_micros > budget.usd_micros:
        out["usd"] = {
            "used": usage.usd_micros / 1_000_000,
            "limit": budget.usd_micros / 1_000_000,
        }
    if budget.tool_seconds is not None and usage.tool_seconds > budget.tool_seconds:
        out["tool_seconds"] = {"used": usage.tool_seconds, "limit": budget.tool_seconds}
    return out


def exceeded(scopes: Iterable[tuple[str, Budget, Usage]]) -> list[dict[str, Any]]:
    """Each ``(scope, budget, usage)`` over its budget, in order:
    ``[{"scope": "phase:draft", "over": {"tokens": {"used": 900, "limit": 500}}}]``."""
    found = []
    for scope, budget, usage in scopes:
        over = overruns(budget, usage)
        if over:
            found.append({"scope": scope, "over": over})
    return found


def recorded(detail: Any) -> dict[str, set[str]]:
    """The overruns a run's detail says were recorded already (its ``exceeded``
    list): scope -> the limits exceeded."""
    entries = detail.get("exceeded") if isinstance(detail, Mapping) else None
    if not isinstance(entries, list):
        return {}
    return {
        str(e["scope"]): set(e["over"])
        for e in entries
        if isinstance(e, Mapping) and "scope" in e and isinstance(e.get("over"), Mapping)
    }


def usage_dict(usage: Usage) -> dict[str, Any]:
    """Usage as people read it."""
    return {
        "tokens": usage.tokens_in + usage.tokens_out,
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "usd": usage.usd_micros / 1_000_000,
        "tool_seconds": round(usage.tool_seconds, 6),
    }


def budget_from_dict(data: Mapping[str, Any] | None) -> Budget:
    """Rebuild a budget from :meth:`Budget.to_dict` output (None: no limits)."""
    if not data:
        return Budget()
    usd = data.get("usd")
    return Budget(
        tokens=None if data.get("tokens") is None else int(data["tokens"]),
        usd_micros=None if usd is None else round(float(usd) * 1_000_000),
        tool_seconds=None if data.get("tool_seconds") is None else float(data["tool_seconds"]),
    )


# The range of each limit (and of each charge: ``ctx.charge`` takes the same bounds).
LIMITS: dict[str, float] = {
    "tokens": bounds.MAX_TOKENS,
    "usd": bounds.MAX_USD,
    "tool_seconds": bounds.MAX_DURATION,
}


def parse_limits(assignments: list[str]) -> Budget:
    """``["tokens=5000", "usd=2.5"]`` (what ``coord budget set`` takes) as a budget.
    A limit outside its range (:data:`LIMITS`) raises ``OutOfRange`` naming it."""
    values: dict[str, Any] = {}
    for text in assignments:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or name not in LIMITS:
            raise ValueError(f"invalid limit {text!r}: use tokens=N, usd=X or tool_seconds=S")
        try:
            value: float = int(raw) if name == "tokens" and raw.strip().isdigit() else float(raw)
        except ValueError:
            raise bounds.OutOfRange(name, f"{raw!r} is not a number") from None
        values[name] = _limit(name, value)
    if not values:
        raise ValueError("no limits given: use tokens=N, usd=X or tool_seconds=S")
    return budget_from_dict(values)


def _limit(name: str, value: float) -> float:
    if name == "tokens":
        return bounds.whole(value, name, high=int(LIMITS[name]))
    return bounds.number(value, name, high=LIMITS[name])
