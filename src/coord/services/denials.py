"""Refused API requests: recorded as events (rate limited), counted, and a client
address that keeps failing to authenticate is throttled.

A denial is a failed authentication (``auth.denied``, answered 401) or a valid key
lacking the permission (``access.denied``, answered 403). Each is counted in the store
per client address and window (``COORD_API_AUTH_WINDOW``, aligned to multiples of it),
so every ``coord server --workers N`` process sees the same counts: the first
``COORD_API_DENIAL_EVENTS`` of a window are recorded as events, and the rest are
counted in one ``auth.suppressed`` event once the window has ended. After
``COORD_API_AUTH_FAILURES`` failed authentications in a window, the address is refused
(429, ``Retry-After``) for the rest of it, whatever key it sends.

The bookkeeping never changes an answer into an error: if the store cannot record a
denial, it is logged and the client gets its 401 or 403 all the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from coord.domain.security import Denial, DenialTally
from coord.errors import CoordError, RateLimited
from coord.ports.store import Store

__all__ = [
    "DenialCounts",
    "DenialGuard",
    "auth_reason",
    "throttled",
]

logger = logging.getLogger(__name__)

# Unauthenticated's reasons as the events name them.
_AUTH_REASONS = {
    "missing": "missing_key",
    "not_bearer": "not_bearer",
    "malformed": "malformed_key",
    "unknown": "unknown_key",
    "wrong_secret": "wrong_secret",
    "revoked": "revoked_key",
    "expired": "expired_key",
    "agent_removed": "agent_removed",
    "unknown_role": "unknown_role",
}
# Reasons whose key id names a key that exists (never an id someone made up).
KNOWN_KEY_REASONS = frozenset(
    {"wrong_secret", "revoked_key", "expired_key", "agent_removed", "unknown_role"}
)
FORBIDDEN = "forbidden"
THROTTLED = "throttled"


def auth_reason(reason: object) -> str:
    """The event reason of an ``Unauthenticated`` error's ``reason``."""
    return _AUTH_REASONS.get(str(reason), "invalid_key")


def throttled(tally: DenialTally | None, threshold: int) -> bool:
    """Whether an address with ``tally`` in its window is refused (0: never)."""
    return threshold > 0 and tally is not None and tally.failures >= threshold


class DenialCounts:
    """Denials this process answered, by topic and reason, and the requests it
    throttled: in-process counters for metrics (``Server.denials.counts``)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, topic: str, reason: str) -> None:
        """Count one answer."""
        with self._lock:
            self._counts[(topic, reason)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """Every count so far, by ``(topic, reason)``: ``("auth.denied",
        "unknown_key")``, ``("access.denied", "forbidden")``, ``("auth.throttled",
        "throttled")``."""
        with self._lock:
            return dict(self._counts)

    def total(self, topic: str) -> int:
        """How many answers of ``topic`` so far."""
        with self._lock:
            return sum(n for (t, _), n in self._counts.items() if t == topic)


class DenialGuard:
    """Records denials and throttles addresses for one server process."""

    def __init__(
        self,
        store: Store,
        *,
        failures: int,
        window: float,
        record_limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.failures = failures
        self.window = window
        self.record_limit = record_limit
        self.counts = DenialCounts()
        self._clock = clock
        self._blocked: dict[str, float] = {}  # address -> until (clock), known to this process
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """``RateLimited`` if ``address`` is throttled in the current window."""
        if self.failures <= 0:
            return
        wait = self._blocked_for(address)
        if wait is None:
            try:
                tally = self.store.denial_tally(address, window=self.window)
            except CoordError as exc:
                logger.warning("could not read the denials of %s: %s", address, exc.message)
                return
            if not throttled(tally, self.failures):
                return
            assert tally is not None
            wait = self._block(address, tally.retry_after)
        self.counts.add("auth.throttled", THROTTLED)
        raise RateLimited(
            f"too many failed authentications from {address}; retry in {wait:.0f} s",
            retry_after=wait,
            address=address,
        )

    def note(self, denial: Denial) -> None:
        """Count a denial and record it (as the window allows); never raises."""
        self.counts.add(denial.topic, denial.reason)
        try:
            tally = self.store.note_denial(
                denial, window=self.window, record_limit=self.record_limit
            )
        except Exception:  # bookkeeping: the client still gets its 401/403
            logger.exception("could not record the denial of %s", denial.address)
            return
        if denial.kind == "auth" and throttled(tally, self.failures):
            self._block(address=denial.address, wait=tally.retry_after)

    def summarize(self) -> int:
        """Close ended windows in the store (``auth.suppressed`` events)."""
        return self.store.summarize_denials()

    def _blocked_for(self, address: str) -> float | None:
        now = self._clock()
        with self._lock:
            until = self._blocked.get(address)
            if until is None:
                return None
            if until <= now:
                del self._blocked[address]
                return None
            return until - now

    def _block(self, address: str, wait: float) -> float:
        now = self._clock()
        with self._lock:
            if len(self._blocked) >= 100_000:  # bounded; the store still knows them
                self._blocked = {a: u for a, u in self._blocked.items() if u > now}
            self._blocked[address] = now + wait
        return wait
