"""Admission of claim candidates under per-key concurrency limits and rate limits.

The store calls :func:`admit` while it holds the database's serialization for the
keys involved (the write lock on SQLite; per-key transaction locks and bucket row
locks on PostgreSQL), so the decision and the claim it leads to are one atomic step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due task that may only run if its concurrency key and rate bucket allow it."""

    id: str
    concurrency_key: str | None
    concurrency_limit: int | None
    rate_key: str | None


@dataclass(frozen=True, slots=True)
class Admission:
    """Which candidates to claim, and how many tokens each bucket gives up."""

    task_ids: list[str]
    tokens_taken: dict[str, int]


def admit(
    candidates: Iterable[Candidate],
    running: Mapping[str, int],
    tokens: Mapping[str, float],
) -> Admission:
    """Admit candidates in claim order while their keys have room.

    ``running`` counts running tasks per concurrency key; ``tokens`` holds the
    tokens available now per rate bucket. A bucket that does not exist is unlimited.
    """
    in_use = dict(running)
    available = dict(tokens)
    taken: dict[str, int] = {}
    admitted: list[str] = []
    for c in candidates:
        key, limit, bucket = c.concurrency_key, c.concurrency_limit, c.rate_key
        if key is not None and limit is not None and in_use.get(key, 0) >= limit:
            continue
        left = None if bucket is None else available.get(bucket)
        if left is not None and left < 1.0:
            continue
        if bucket is not None and left is not None:
            available[bucket] = left - 1.0
            taken[bucket] = taken.get(bucket, 0) + 1
        if key is not None:
            in_use[key] = in_use.get(key, 0) + 1
        admitted.append(c.id)
    return Admission(admitted, taken)
