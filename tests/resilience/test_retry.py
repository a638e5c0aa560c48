"""Retries: what is retried, how long between attempts, and never past the deadline."""

from __future__ import annotations

import time

import pytest

from app.deadline import Deadline
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
)
from app.resilience.retry import RetryPolicy, with_retries

FAST = RetryPolicy(max_attempts=3, base_s=0.01, max_backoff_s=0.02, retry_after_cap_s=1.0)


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: ProviderError) -> None:
        self.errors = list(errors)
        self.attempts: list[float] = []

    async def __call__(self, number: int) -> str:
        self.attempts.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return f"ok on attempt {number}"


def err(cls: type[ProviderError], retry_after_s: float | None = None) -> ProviderError:
    return cls("boom", provider="p", retry_after_s=retry_after_s)


@pytest.mark.parametrize(
    "cls", [ProviderTimeout, ProviderConnectionError, RateLimited, Overloaded, UpstreamServerError]
)
async def test_transient_errors_are_retried(cls: type[ProviderError]) -> None:
    flaky = Flaky(err(cls), err(cls))
    result, attempts = await with_retries(flaky, policy=FAST, deadline=Deadline(10))
    assert (result, attempts) == ("ok on attempt 3", 3)


@pytest.mark.parametrize("cls", [BadRequest, AuthenticationError, QuotaExceeded])
async def test_errors_a_retry_cannot_fix_are_not_retried(cls: type[ProviderError]) -> None:
    flaky = Flaky(err(cls))
    with pytest.raises(cls) as raised:
        await with_retries(flaky, policy=FAST, deadline=Deadline(10))
    assert len(flaky.attempts) == 1 and raised.value.attempts == 1


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    flaky = Flaky(*(err(Overloaded) for _ in range(5)))
    with pytest.raises(Overloaded) as raised:
        await with_retries(flaky, policy=FAST, deadline=Deadline(10))
    assert len(flaky.attempts) == 3 and raised.value.attempts == 3


async def test_retry_after_is_obeyed() -> None:
    flaky = Flaky(err(RateLimited, retry_after_s=0.3))
    _, attempts = await with_retries(flaky, policy=FAST, deadline=Deadline(10))
    assert attempts == 2
    assert flaky.attempts[1] - flaky.attempts[0] >= 0.3


async def test_a_retry_after_beyond_the_cap_fails_at_once() -> None:
    flaky = Flaky(err(RateLimited, retry_after_s=5))
    with pytest.raises(RateLimited):
        await with_retries(flaky, policy=FAST, deadline=Deadline(10))
    assert len(flaky.attempts) == 1


async def test_no_retry_is_scheduled_past_the_deadline() -> None:
    flaky = Flaky(err(RateLimited, retry_after_s=0.5))
    scheduled: list[float] = []
    with pytest.raises(RateLimited):
        await with_retries(
            flaky, policy=FAST, deadline=Deadline(0.6), before_retry=lambda n, e, s: scheduled.append(s)
        )
    assert len(flaky.attempts) == 1  # 0.5 s of waiting would leave no time for an attempt
    assert scheduled == []  # it did not sleep first and then give up


async def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=4, base_s=0.05, max_backoff_s=0.08)
    flaky = Flaky(*(err(UpstreamServerError) for _ in range(3)))
    waits: list[float] = []
    await with_retries(
        flaky, policy=policy, deadline=Deadline(10), before_retry=lambda n, e, s: waits.append(s)
    )
    # The waits as planned (0.05 s plus jitter, doubling, capped at 0.08 s), and as slept: at least
    # that long (a busy machine can only make a sleep longer, so no upper bound on the gaps).
    assert len(waits) == 3 and 0.05 <= waits[0] <= 0.08 and waits[1:] == [0.08, 0.08], waits
    gaps = [b - a for a, b in zip(flaky.attempts, flaky.attempts[1:], strict=False)]
    assert all(gap >= wait for gap, wait in zip(gaps, waits, strict=True)), (gaps, waits)


class SlowThenFails:
    """Each attempt takes ``seconds`` and then fails with ``error``."""

    def __init__(self, seconds: float, error: ProviderError) -> None:
        self.seconds, self.error = seconds, error
        self.attempts = 0

    async def __call__(self, number: int) -> str:
        import asyncio

        self.attempts += 1
        await asyncio.sleep(self.seconds)
        raise self.error


async def test_a_retry_that_cannot_finish_before_the_deadline_is_not_started() -> None:
    # The first attempt used 0.9 s (or more, on a busy machine) of a 1.5 s deadline: a second one
    # like it cannot finish.
    slow = SlowThenFails(0.9, err(ProviderTimeout))
    with pytest.raises(ProviderTimeout) as raised:
        await with_retries(slow, policy=FAST, deadline=Deadline(1.5))
    assert slow.attempts == 1 and raised.value.attempts == 1


async def test_a_quick_failure_is_still_retried_under_the_same_deadline() -> None:
    quick = SlowThenFails(0.01, err(UpstreamServerError))
    with pytest.raises(UpstreamServerError):  # three quick tries leave over a second to spare
        await with_retries(quick, policy=FAST, deadline=Deadline(1.5))
    assert quick.attempts == 3
