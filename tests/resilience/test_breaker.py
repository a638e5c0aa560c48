"""The circuit breaker's states, on a fake clock."""

from __future__ import annotations

from app.resilience.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooldown_s=30, clock=clock)


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    b = breaker(clock)
    b.failure()
    b.failure()
    b.success()  # a success in between resets the count
    b.failure()
    b.failure()
    assert b.state == "closed" and b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    assert b.retry_in_s() == 30


def test_half_open_lets_one_probe_through_and_its_result_decides() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    clock.now += 30
    assert b.state == "half_open"
    assert b.allow() and not b.allow()  # one probe at a time
    b.failure()
    assert b.state == "open" and b.retry_in_s() == 30  # failed probe: another full cooldown
    clock.now += 30
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow() and b.allow()


def test_a_cancelled_probe_frees_the_slot() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    clock.now += 31
    assert b.allow()
    b.release()
    assert b.state == "half_open" and b.allow()
