"""Token buckets on a fake clock: a burst, then the rate; independent buckets; the
Retry-After they report; bounded memory."""

from __future__ import annotations

import threading

import pytest

from coord.security.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def accepted(limiter: RateLimiter, bucket: str, tries: int) -> int:
    return sum(limiter.take(bucket) == 0.0 for _ in range(tries))


def test_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert accepted(limiter, "k", 20) == 5
    wait = limiter.take("k")
    assert wait == pytest.approx(0.1)
    clock.advance(0.05)
    assert limiter.take("k") == pytest.approx(0.05)  # half a token is not a token
    clock.advance(0.05)
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("rate", "burst", "seconds", "step"), [(10, 5, 3, 0.01), (50, 100, 2, 0.003)]
)
def test_exactly_burst_plus_rate_times_t_are_accepted(
    rate: float, burst: int, seconds: float, step: float
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=rate, burst=burst, clock=clock)
    total = accepted(limiter, "k", burst * 3)  # the burst at t=0
    steps = round(seconds / step)
    for _ in range(steps):  # hammering all the time: every token is taken when it exists
        clock.advance(step)
        total += accepted(limiter, "k", 5)
    assert total == burst + round(rate * steps * step)


def test_an_idle_bucket_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1, burst=3, clock=clock)
    assert accepted(limiter, "k", 3) == 3
    clock.advance(3600)
    assert accepted(limiter, "k", 10) == 3


def test_buckets_are_independent() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    assert accepted(limiter, "key:noisy", 50) == 2
    assert limiter.take("key:noisy") > 0
    assert accepted(limiter, "key:quiet", 2) == 2  # the noisy one slows nobody else
    assert accepted(limiter, "agent:other", 2) == 2


def test_retry_after_is_when_the_next_token_arrives() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=1, clock=clock)
    assert limiter.take("k") == 0.0
    wait = limiter.take("k")
    assert wait == pytest.approx(0.5)
    clock.advance(wait - 0.01)
    assert limiter.take("k") > 0
    clock.advance(0.01)
    assert limiter.take("k") == 0.0


def test_take_all_takes_from_every_bucket_or_none() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    assert limiter.take_all(["key:a", "agent:x"]) == 0.0
    assert limiter.take_all(["key:b", "agent:x"]) == 0.0
    assert limiter.take_all(["key:c", "agent:x"]) == pytest.approx(1.0)  # the agent is empty
    assert accepted(limiter, "key:c", 2) == 2  # its own bucket was not charged
    assert accepted(limiter, "key:a", 2) == 1


def test_refilled_buckets_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=10, clock=clock)
    for n in range(1000):
        limiter.take(f"caller-{n}")
    assert len(limiter) == 1000
    clock.advance(1.0)  # everyone refilled
    limiter.take("new")
    assert len(limiter) == 1


def test_memory_is_bounded_when_every_bucket_is_busy() -> None:
    limiter = RateLimiter(rate=1, burst=5, clock=FakeClock(), max_buckets=100)
    for n in range(1000):
        limiter.take(f"caller-{n}")
    assert len(limiter) == 100


def test_concurrent_takes_never_hand_out_more_than_the_burst() -> None:
    limiter = RateLimiter(rate=1e-9, burst=500, clock=FakeClock())
    results: list[float] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [limiter.take("shared") for _ in range(200)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(0.0) == 500


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_bad_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        RateLimiter(rate=rate, burst=burst)
