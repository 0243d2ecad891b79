"""Pure rules: durations, priorities, rate limits, key templates, policies, retries,
admission under limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coord.domain.durations import format_duration, parse_duration
from coord.domain.limits import Candidate, admit
from coord.domain.retry import backoff_delay, decide_failure
from coord.domain.tasks import (
    KeyTemplate,
    Priority,
    RateLimit,
    TaskPolicy,
    TaskState,
    policy_from_dict,
    policy_to_dict,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("2d", 172800),
        ("1.5", 1.5),
        (12, 12),
        (timedelta(minutes=2), 120),
        (" 5 m ", 300),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "abc", "10x", "m", "-5s", "-1", "5s garbage", True])
def test_parse_duration_refuses_bad_text(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)  # type: ignore[arg-type]


def test_format_duration() -> None:
    assert (format_duration(0.25), format_duration(90), format_duration(7200)) == (
        "0.25s",
        "1m30s",
        "2h",
    )


def test_priority_parse() -> None:
    assert Priority.parse("HIGH") is Priority.HIGH
    assert Priority.parse(3) is Priority.CRITICAL
    for bad in ("urgent", 7, True):
        with pytest.raises(ValueError, match="invalid priority"):
            Priority.parse(bad)  # type: ignore[arg-type]


def test_rate_limit_parse() -> None:
    assert RateLimit.parse("10/s") == RateLimit(10, 10)
    assert RateLimit.parse("60/m") == RateLimit(60, 1)
    assert RateLimit.parse("5/10s") == RateLimit(5, 0.5)
    for bad in ("10", "x/s", "0/s", "5/0s", "-1/s"):
        with pytest.raises(ValueError, match="invalid rate limit"):
            RateLimit.parse(bad)


def test_key_template() -> None:
    template = KeyTemplate("tenant:{tenant}:{user}")
    assert template.render({"tenant": "a", "user": 7, "other": 1}) == "tenant:a:7"
    assert KeyTemplate("global").render({}) == "global"
    with pytest.raises(ValueError, match=r"needs payload field\(s\) \['user'\]"):
        template.render({"tenant": "a"})
    for unsafe in ("{x.__class__}", "{x[0]}", "{x!r}", "{x:>10}", "{"):
        with pytest.raises(ValueError, match="invalid key template"):
            KeyTemplate(unsafe)


def test_policy_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="retries must be >= 0"):
        TaskPolicy(name="t", retries=-1)
    with pytest.raises(ValueError, match="go together"):
        TaskPolicy(name="t", concurrency_key="k")
    with pytest.raises(ValueError, match="rate_limit_key needs rate_limit"):
        TaskPolicy(name="t", rate_limit_key="b")
    policy = TaskPolicy(name="t", priority=Priority.HIGH, rate_limit=RateLimit(5, 1), retries=2)
    assert policy_from_dict(policy_to_dict(policy)) == policy
    assert (policy.max_attempts, policy.rate_key) == (3, "t")


def test_terminal_states() -> None:
    assert {s for s in TaskState if s.is_terminal} == {
        TaskState.SUCCEEDED,
        TaskState.DEAD,
        TaskState.CANCELLED,
    }


@given(
    attempt=st.integers(1, 10_000),
    base=st.floats(0, 100),
    cap=st.floats(0, 1000),
    r=st.floats(0, 1),
)
def test_backoff_is_bounded_by_the_cap(attempt: int, base: float, cap: float, r: float) -> None:
    delay = backoff_delay(attempt, base, cap, rand=lambda: r)
    assert 0 <= delay <= cap


def test_backoff_grows_exponentially_with_jitter() -> None:
    low = [backoff_delay(a, 1.0, 1000, rand=lambda: 0.0) for a in range(1, 6)]
    high = [backoff_delay(a, 1.0, 1000, rand=lambda: 1.0) for a in range(1, 6)]
    assert low == [0.5, 1, 2, 4, 8]
    assert high == [1, 2, 4, 8, 16]


def test_decide_failure() -> None:
    common = {"retry_backoff": 1.0, "retry_backoff_max": 10.0}
    assert (
        decide_failure(attempt=1, max_attempts=3, fatal=False, **common).state is TaskState.FAILED
    )
    assert decide_failure(attempt=3, max_attempts=3, fatal=False, **common).state is TaskState.DEAD
    assert decide_failure(attempt=1, max_attempts=3, fatal=True, **common).state is TaskState.DEAD
    honoured = decide_failure(attempt=1, max_attempts=3, fatal=False, retry_after=4, **common)
    capped = decide_failure(attempt=1, max_attempts=3, fatal=False, retry_after=99, **common)
    assert (honoured.delay, capped.delay) == (4, 10)


def test_a_schema_error_gets_one_immediate_repair_attempt() -> None:
    common = {"retry_backoff": 1.0, "retry_backoff_max": 10.0, "schema": True}
    with_retries = decide_failure(attempt=1, max_attempts=3, fatal=False, **common)
    assert (with_retries.state, with_retries.delay, with_retries.extra_attempts) == (
        TaskState.FAILED,
        0.0,
        0,
    )
    out_of_retries = decide_failure(attempt=1, max_attempts=1, fatal=False, **common)
    assert (out_of_retries.state, out_of_retries.extra_attempts) == (TaskState.FAILED, 1)
    again = decide_failure(attempt=2, max_attempts=3, fatal=False, repairing=True, **common)
    assert again.state is TaskState.DEAD


candidates = st.lists(
    st.builds(
        Candidate,
        id=st.uuids().map(str),
        concurrency_key=st.sampled_from([None, "a", "b"]),
        concurrency_limit=st.just(2),
        rate_key=st.sampled_from([None, "r"]),
    ).map(lambda c: c if c.concurrency_key else Candidate(c.id, None, None, c.rate_key)),
    max_size=30,
)


@given(cs=candidates, running_a=st.integers(0, 3), tokens=st.floats(0, 10))
def test_admission_never_exceeds_limits_and_keeps_order(
    cs: list[Candidate], running_a: int, tokens: float
) -> None:
    result = admit(cs, {"a": running_a}, {"r": tokens})
    chosen = [c for c in cs if c.id in set(result.task_ids)]
    assert result.task_ids == [c.id for c in chosen]  # claim order kept
    assert running_a + sum(c.concurrency_key == "a" for c in chosen) <= max(2, running_a)
    assert sum(c.concurrency_key == "b" for c in chosen) <= 2
    assert sum(c.rate_key == "r" for c in chosen) <= int(tokens)
    assert result.tokens_taken.get("r", 0) == sum(c.rate_key == "r" for c in chosen)
    unlimited = [c.id for c in cs if c.concurrency_key is None and c.rate_key is None]
    assert set(unlimited) <= set(result.task_ids)


def test_unknown_bucket_is_unlimited() -> None:
    result = admit([Candidate("1", None, None, "missing")], {}, {})
    assert result.task_ids == ["1"] and result.tokens_taken == {}
