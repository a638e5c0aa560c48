"""The account budgets' counts in this process: calls in flight and calls started per window.

``take`` admits a call against every budget it counts against, all or nothing, or says how long
to wait; ``give_back`` frees its in-flight slots. The Redis ledger (``shared_ledger.py``) keeps the
same counts for every replica and falls back to this one while Redis is unreachable.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from app.resilience.budgets import WINDOW_S, Scope

BUSY_POLL_S = 0.05
"""How soon a call waiting for an in-flight slot asks again (a slot may free at any moment)."""


class Answer(IntEnum):
    """What the ledger said; the numbers are the shared ledger's script's replies too."""

    GRANTED = 0
    PAUSED = 1
    """The provider's Retry-After pause for this model is on (shared ledger only)."""
    RATE = 2
    """A per-minute budget is spent; ``wait_s`` is exact: when its oldest call leaves the window."""
    BUSY = 3
    """An in-flight budget is full; ``wait_s`` is when to ask again."""


@dataclass(frozen=True, slots=True)
class Verdict:
    answer: Answer
    wait_s: float = 0.0
    scope: Scope | None = None
    """The budget that said no."""
    shared: bool = False
    """Granted by the shared ledger (so it is given back there)."""


GRANTED = Verdict(Answer.GRANTED)


@dataclass(frozen=True, slots=True)
class Ticket:
    """One call's claim: what it counts against, under which token, for how long at most."""

    model: str
    """``provider/model_id``: whose Retry-After pause applies."""
    scopes: Sequence[Scope]
    token: str
    lease_s: float


class LocalLedger:
    """Counts for this process only: right for one replica, and the fallback when Redis is down."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._in_flight: Counter[str] = Counter()
        self._started: defaultdict[str, deque[float]] = defaultdict(deque)

    async def take(self, ticket: Ticket) -> Verdict:
        return self.take_now(ticket.scopes)

    async def give_back(self, ticket: Ticket, verdict: Verdict) -> None:
        self.give_back_now(ticket.scopes)

    def take_now(self, scopes: Sequence[Scope]) -> Verdict:
        now = self._clock()
        refusal: Verdict | None = None
        for scope in scopes:
            if scope.per_minute is not None:
                started = self._started[scope.name]
                while started and started[0] <= now - WINDOW_S:
                    started.popleft()
                if len(started) >= scope.per_minute:
                    wait_s = started[0] + WINDOW_S - now
                    if refusal is None or refusal.answer != Answer.RATE or wait_s > refusal.wait_s:
                        refusal = Verdict(Answer.RATE, wait_s, scope)
            if scope.concurrency is not None and self._in_flight[scope.name] >= scope.concurrency:
                refusal = refusal or Verdict(Answer.BUSY, BUSY_POLL_S, scope)
        if refusal is not None:
            return refusal
        for scope in scopes:
            if scope.per_minute is not None:
                self._started[scope.name].append(now)
            if scope.concurrency is not None:
                self._in_flight[scope.name] += 1
        return GRANTED

    def give_back_now(self, scopes: Sequence[Scope]) -> None:
        for scope in scopes:
            if scope.concurrency is not None:
                self._in_flight[scope.name] -= 1

    def in_flight(self, scope_name: str) -> int:
        return self._in_flight[scope_name]
