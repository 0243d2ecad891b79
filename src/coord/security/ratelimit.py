"""Token buckets, in memory, per process: a bucket holds up to ``burst`` tokens and
refills at ``rate`` tokens per second; each request takes one.

Buckets are independent (one per key, one per agent), so a noisy caller empties only
its own. A full bucket is the same as no bucket, so buckets that refilled are
dropped: memory follows the callers active in the last ``burst / rate`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

# Refills are sums of float products; a bucket short of a token by a rounding error
# must still count as holding it (else burst + rate * t would be off by one).
_EPSILON = 1e-9


class RateLimiter:
    """Token buckets by name; thread-safe.

    ``max_buckets`` bounds memory even when every bucket is busy: past it, the least
    recently used bucket is forgotten (it comes back full)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_buckets: int = 100_000,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 requests per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._max_buckets = max_buckets
        self._lock = threading.Lock()
        # name -> (tokens, when they were counted), least recently used first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        """How many buckets are held (the others are full)."""
        return len(self._buckets)

    def take(self, bucket: str) -> float:
        """Take a token from ``bucket``: 0.0 if one was taken, else the seconds until
        one is available (for ``Retry-After``)."""
        return self.take_all((bucket,))

    def take_all(self, buckets: Sequence[str]) -> float:
        """Take a token from each of ``buckets`` (e.g. the key's and the agent's), or
        from none of them: 0.0, or the seconds until every one has a token."""
        with self._lock:
            now = self._clock()
            levels = [self._level(name, now) for name in buckets]
            missing = max((1.0 - level for level in levels), default=0.0)
            if missing > _EPSILON:
                return missing / self.rate
            for name, level in zip(buckets, levels, strict=True):
                self._buckets[name] = (max(level - 1.0, 0.0), now)
                self._buckets.move_to_end(name)
            self._evict(now)
            return 0.0

    def _level(self, name: str, now: float) -> float:
        held = self._buckets.get(name)
        if held is None:
            return float(self.burst)
        tokens, counted_at = held
        return min(float(self.burst), tokens + max(now - counted_at, 0.0) * self.rate)

    def _evict(self, now: float) -> None:
        """Drop refilled buckets from the least recently used end (amortized O(1):
        each bucket is dropped once), then any beyond ``max_buckets``."""
        while self._buckets:
            name = next(iter(self._buckets))
            if self._level(name, now) < self.burst - _EPSILON:
                break
            del self._buckets[name]
        while len(self._buckets) > self._max_buckets:
            self._buckets.popitem(last=False)
