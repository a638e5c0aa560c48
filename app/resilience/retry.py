"""Retrying one model call: capped exponential backoff with jitter, ``Retry-After`` honoured,
never past the phase deadline.

tenacity does the mechanics (attempt loop, wait and stop composition, async sleep); this module
only decides *what* is worth retrying and *how long* to wait, from our error tree. Retryable:
timeouts, connection errors, 408/409/429/5xx/529 (``ProviderError.retryable``). Never retried: 400,
401, 403, 404, 422, quota and content errors, which no second attempt would change.

A retry is started only when it can finish before the deadline it lives under (for a parallel
model, the end of the fan-out, which keeps the judge's reserve): the last attempt's duration is
the estimate of the next one's, so a call that timed out is not tried again with less time than
its timeout, while a quick 500 still is.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from app.deadline import MIN_USEFUL_S, Deadline
from app.providers.errors import ProviderError

T = TypeVar("T")

MIN_ATTEMPT_S = MIN_USEFUL_S
"""A retry that would leave less than this before the deadline is not worth starting."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_s: float = 0.5
    """First backoff; doubles each attempt, with up to as much again of random jitter."""
    max_backoff_s: float = 8.0
    retry_after_cap_s: float = 30.0
    """An upstream's ``Retry-After`` is obeyed up to this; beyond it the call fails now."""

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)


def retryable(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retryable


def _delay(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    exponential = wait_exponential_jitter(
        initial=policy.base_s, max=policy.max_backoff_s, jitter=policy.base_s
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after_s", None)
        if isinstance(asked, int | float) and asked > 0:
            return float(asked)  # the upstream knows its own reset time better than any backoff
        return float(exponential(state))

    return wait


class _OutOfTime(stop_base):
    """Stop when the next wait is longer than we accept or would leave no time for an attempt.

    tenacity computes the wait before asking ``stop``, so ``upcoming_sleep`` is the real one.
    """

    def __init__(self, policy: RetryPolicy, deadline: Deadline, expected_s: Callable[[], float]) -> None:
        self.policy = policy
        self.deadline = deadline
        self.expected_s = expected_s

    def __call__(self, state: RetryCallState) -> bool:
        sleep = state.upcoming_sleep
        needed = max(MIN_ATTEMPT_S, self.expected_s())
        return sleep > self.policy.retry_after_cap_s or not self.deadline.fits(sleep + needed)


async def with_retries(
    attempt: Callable[[int], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: Deadline,
    before_retry: Callable[[int, ProviderError, float], None] | None = None,
) -> tuple[T, int]:
    """``(result, attempts)`` of the first successful attempt; re-raises the last error with
    ``attempts`` set on it when every attempt failed or the deadline left no room for another."""
    # The first attempt runs bare: most calls succeed at once, and tenacity's loop cost more CPU
    # per call than the call's own adapter (BENCHMARKS.md). Only a retryable failure enters it.
    began = time.monotonic()
    try:
        return await attempt(1), 1
    except ProviderError as error:
        if not retryable(error) or policy.max_attempts <= 1:
            error.attempts = 1
            raise
        first = error
    number = 0
    last_s = time.monotonic() - began

    def announce(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if before_retry is not None and isinstance(error, ProviderError):
            before_retry(state.attempt_number, error, state.upcoming_sleep)

    retrying = AsyncRetrying(
        retry=retry_if_exception(retryable),
        wait=_delay(policy),
        stop=stop_after_attempt(policy.max_attempts) | _OutOfTime(policy, deadline, lambda: last_s),
        before_sleep=announce,
        reraise=True,
    )
    try:
        async for state in retrying:
            with state:
                number = state.retry_state.attempt_number
                if number == 1:  # already made above: tenacity judges its error, waits, and goes on
                    raise first
                began = time.monotonic()
                try:
                    return await attempt(number), number
                finally:
                    last_s = time.monotonic() - began
    except ProviderError as error:
        error.attempts = number
        raise
    raise AssertionError("tenacity ended without a result or an error")  # pragma: no cover
