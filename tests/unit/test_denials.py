"""The pure logic of refused requests: reasons, the throttle rule, the counts, the
process's memory of throttled addresses, and bookkeeping that never fails a request."""

from __future__ import annotations

from typing import Any, cast

import pytest
from starlette.datastructures import MutableHeaders

from coord.api.headers import secure
from coord.domain.security import Denial, DenialTally
from coord.errors import RateLimited, StoreUnavailable
from coord.ports.store import Store
from coord.services.denials import DenialCounts, DenialGuard, auth_reason, throttled

DENIAL = Denial("auth", "10.0.0.1", "GET", "/api/v1/me", "unknown_key")


class FakeStore:
    """Counts denials per address in one window that never ends."""

    def __init__(self, retry_after: float = 30.0, fail: bool = False) -> None:
        self.failures: dict[str, int] = {}
        self.retry_after = retry_after
        self.fail = fail
        self.reads = 0

    def note_denial(self, denial: Denial, *, window: float, record_limit: int) -> DenialTally:
        if self.fail:
            raise StoreUnavailable("the database is down")
        self.failures[denial.address] = self.failures.get(denial.address, 0) + 1
        n = self.failures[denial.address]
        return DenialTally(n, n, self.retry_after, recorded=n <= record_limit)

    def denial_tally(self, address: str, *, window: float) -> DenialTally | None:
        self.reads += 1
        if self.fail:
            raise StoreUnavailable("the database is down")
        n = self.failures.get(address)
        return None if n is None else DenialTally(n, n, self.retry_after)


def guard(store: FakeStore, clock: list[float], failures: int = 3) -> DenialGuard:
    return DenialGuard(
        cast(Store, store), failures=failures, window=60.0, record_limit=2, clock=lambda: clock[0]
    )


def test_reasons_are_named_for_people() -> None:
    assert auth_reason("unknown") == "unknown_key"
    assert auth_reason("missing") == "missing_key"
    assert auth_reason("revoked") == "revoked_key"
    assert auth_reason("expired") == "expired_key"
    assert auth_reason("something new") == "invalid_key"


def test_the_throttle_rule() -> None:
    assert not throttled(None, 3)
    assert not throttled(DenialTally(9, 2, 5.0), 3)  # 403s do not count
    assert throttled(DenialTally(3, 3, 5.0), 3)
    assert not throttled(DenialTally(100, 100, 5.0), 0)  # 0: never


def test_counts_by_topic_and_reason() -> None:
    counts = DenialCounts()
    counts.add("auth.denied", "unknown_key")
    counts.add("auth.denied", "unknown_key")
    counts.add("access.denied", "forbidden")
    assert counts.snapshot() == {
        ("auth.denied", "unknown_key"): 2,
        ("access.denied", "forbidden"): 1,
    }
    assert counts.total("auth.denied") == 2


def test_an_address_is_refused_after_the_threshold_until_its_window_ends() -> None:
    store, clock = FakeStore(retry_after=30.0), [1000.0]
    denials = guard(store, clock)
    for _ in range(3):
        denials.check("10.0.0.1")
        denials.note(DENIAL)
    with pytest.raises(RateLimited) as refused:
        denials.check("10.0.0.1")
    assert refused.value.retry_after == pytest.approx(30.0)
    reads = store.reads
    clock[0] += 10
    with pytest.raises(RateLimited) as again:
        denials.check("10.0.0.1")  # known to this process: no read
    assert store.reads == reads
    assert again.value.retry_after == pytest.approx(20.0)
    denials.check("10.0.0.2")  # another address goes on
    assert denials.counts.snapshot()[("auth.throttled", "throttled")] == 2


def test_another_process_s_failures_throttle_too() -> None:
    store, clock = FakeStore(), [0.0]
    store.failures["10.0.0.3"] = 3  # counted by another server process
    with pytest.raises(RateLimited):
        guard(store, clock).check("10.0.0.3")


def test_bookkeeping_that_fails_never_fails_the_request(caplog: Any) -> None:
    denials = guard(FakeStore(fail=True), [0.0])
    denials.note(DENIAL)  # logged, not raised
    denials.check("10.0.0.1")  # unknown: let through (authentication decides)
    assert denials.counts.total("auth.denied") == 1
    assert "could not record" in caplog.text


def test_zero_disables_the_throttle() -> None:
    store = FakeStore()
    denials = guard(store, [0.0], failures=0)
    for _ in range(10):
        denials.note(DENIAL)
    denials.check("10.0.0.1")
    assert store.reads == 0


def test_security_headers_keep_a_response_s_own_cache_directive() -> None:
    plain = MutableHeaders()
    secure(plain)
    assert plain["cache-control"] == "no-store"
    assert plain["x-frame-options"] == "DENY"
    stream = MutableHeaders({"Cache-Control": "no-cache"})
    secure(stream)
    assert stream["cache-control"] == "no-cache, no-store"
    stored = MutableHeaders({"Cache-Control": "private, no-store"})
    secure(stored)
    assert stored["cache-control"] == "private, no-store"
