"""Per-provider and per-model protection, built once per app and shared by every phase.

A ``Guard`` is what one roster member calls through: its provider's concurrency limit, its own
circuit breaker and error counts (per provider *and* model id, so two aliases of one model share
them), and the retry policy. ``Resilience`` owns them all and reports them for ``GET /providers``.
The accounts' budgets (PROVIDER_LIMITS, MODEL_LIMITS) hold calls back before the process's slot;
with Redis they count every replica's calls, and a model's 429 Retry-After pauses it everywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from app.resilience.breaker import CircuitBreaker
from app.resilience.budgets import BudgetBook
from app.resilience.gate import BudgetGate, Ledger
from app.resilience.ledger import LocalLedger
from app.resilience.pause import SharedPauses
from app.resilience.retry import RetryPolicy
from app.resilience.shared_ledger import SharedLedger

RECENT_WINDOW_S = 300.0


@dataclass(slots=True)
class ModelHealth:
    """Counters for one provider/model pair; errors are also kept for the recent window."""

    clock: Callable[[], float] = time.monotonic
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    _recent: deque[tuple[float, str]] = field(default_factory=deque)

    def record(self, *, ok: bool, kind: str | None = None, error: str | None = None) -> None:
        self.calls += 1
        if ok:
            return
        self.failures += 1
        self.last_error = error
        now = self.clock()
        self._recent.append((now, kind or "error"))
        while self._recent and now - self._recent[0][0] > RECENT_WINDOW_S:
            self._recent.popleft()

    def recent_errors(self) -> dict[str, int]:
        """Error kinds seen in the last five minutes, with counts."""
        now = self.clock()
        return dict(Counter(kind for at, kind in self._recent if now - at <= RECENT_WINDOW_S))


class Limiter:
    """A provider's concurrency limit, counting the calls holding a slot."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._slots = asyncio.Semaphore(limit)

    def within(self, _budget_s: float) -> Limiter:
        """The slot as a context manager; the caller's own timeout bounds the wait for it."""
        return self

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        self.in_use += 1

    async def __aexit__(self, *_: object) -> None:
        self.in_use -= 1
        self._slots.release()


@dataclass(frozen=True, slots=True)
class Guard:
    limiter: Limiter | BudgetGate
    """``async with limiter.within(seconds):`` around each attempt."""
    breaker: CircuitBreaker
    health: ModelHealth
    policy: RetryPolicy


class Resilience:
    """Every guard of the app. ``off()`` (retries and breaking disabled) is for unit tests."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        breaker_threshold: int,
        breaker_cooldown_s: float,
        unavailable_cooldown_s: float | None = None,
        concurrency: Mapping[str, int] | None = None,
        default_concurrency: int = 16,
        clock: Callable[[], float] = time.monotonic,
        pauses: SharedPauses | None = None,
        budgets: BudgetBook | None = None,
    ) -> None:
        self.policy = policy
        self.pauses = pauses
        """Retry-After pauses shared by every replica (Redis); ``None``: each call honours its own."""
        self.budgets = budgets or BudgetBook({}, {})
        """The accounts' budgets, counted in Redis beside the pauses when there are any."""
        self.ledger: Ledger = LocalLedger() if pauses is None else SharedLedger(pauses)
        self._threshold = breaker_threshold
        self._cooldown_s = breaker_cooldown_s
        self._unavailable_cooldown_s = unavailable_cooldown_s
        self._concurrency = dict(concurrency or {})
        self._default_concurrency = default_concurrency
        self._clock = clock
        self._limiters: dict[str, Limiter] = {}
        self._guards: dict[tuple[str, str], Guard] = {}

    @classmethod
    def off(cls) -> Resilience:
        return cls(policy=RetryPolicy.never(), breaker_threshold=10**9, breaker_cooldown_s=1.0)

    def guard(self, provider: str, model_id: str) -> Guard:
        key = (provider, model_id)
        if key not in self._guards:
            shared = self._limiters.setdefault(provider, Limiter(self.limit_of(provider)))
            limiter: Limiter | BudgetGate = shared
            scopes = self.budgets.scopes(provider, model_id)
            if scopes or self.pauses is not None:
                limiter = BudgetGate(
                    shared,
                    self.ledger,
                    provider=provider,
                    model_id=model_id,
                    scopes=scopes,
                    pauses=self.pauses,
                )
            breaker = CircuitBreaker(
                threshold=self._threshold,
                cooldown_s=self._cooldown_s,
                unavailable_cooldown_s=self._unavailable_cooldown_s,
                clock=self._clock,
            )
            self._guards[key] = Guard(limiter, breaker, ModelHealth(self._clock), self.policy)
        return self._guards[key]

    async def close(self) -> None:
        if self.pauses is not None:
            await self.pauses.close()

    def limit_of(self, provider: str) -> int:
        return self._concurrency.get(provider, self._default_concurrency)

    def in_use(self, provider: str) -> int:
        limiter = self._limiters.get(provider)
        return 0 if limiter is None else limiter.in_use

    def guards_of(self, provider: str) -> dict[str, Guard]:
        """Model id -> guard, for the models of ``provider`` that have one."""
        return {model: g for (p, model), g in self._guards.items() if p == provider}

    def unavailable(self) -> dict[tuple[str, str], str]:
        """(provider, model id) -> the provider's words, for every model it said it does not serve
        (until a call to it succeeds again)."""
        return {
            key: guard.breaker.unavailable
            for key, guard in self._guards.items()
            if guard.breaker.unavailable is not None
        }
