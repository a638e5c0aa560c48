"""One model's way to a call: the shared Retry-After pause, the account budgets, then the process's slot.

A call waits for room in its budgets, but never past what its attempt may spend (the model's timeout
cut short by the phase deadline): when the room would come too late it fails now, recorded as
``call_budget_exhausted``, and no call is made. A paused model answers, without a call, as the
provider would have: ``RateLimited`` with the pause's remaining time as its Retry-After, so the
retry policy decides (wait within the cap and the deadline, or fail over) exactly as for a real
429; a real 429 with Retry-After is written to the shared pause for every replica.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from app.deadline import MIN_USEFUL_S
from app.providers.errors import CallBudgetExhausted, RateLimited
from app.resilience.budgets import Scope
from app.resilience.ledger import BUSY_POLL_S, GRANTED, Answer, Ticket, Verdict
from app.resilience.pause import SharedPauses

if TYPE_CHECKING:
    from app.resilience.guard import Limiter

LEASE_GRACE_S = 5.0
"""A slot's lease outlasts its call's own time bound by this much: giving it back takes a moment."""


class Ledger(Protocol):
    async def take(self, ticket: Ticket) -> Verdict: ...
    async def give_back(self, ticket: Ticket, verdict: Verdict) -> None: ...


class BudgetGate:
    """``async with gate.within(seconds):`` holds the model's budgets and its provider's slot."""

    def __init__(
        self,
        limiter: Limiter,
        ledger: Ledger,
        *,
        provider: str,
        model_id: str,
        scopes: Sequence[Scope],
        pauses: SharedPauses | None,
    ) -> None:
        self.limiter = limiter
        self.ledger = ledger
        self.provider = provider
        self.key = f"{provider}/{model_id}"
        self.scopes = tuple(scopes)
        self.pauses = pauses
        self._counter = 0

    def within(self, budget_s: float) -> Hold:
        self._counter += 1
        token = f"{os.getpid()}:{id(self):x}:{self._counter}:{random.getrandbits(32):x}"
        return Hold(self, Ticket(self.key, self.scopes, token, budget_s + LEASE_GRACE_S), budget_s)

    async def admit(self, ticket: Ticket, budget_s: float) -> Verdict:
        """Wait for room in every budget; raise when the wait would outlast ``budget_s``."""
        give_up_at = time.monotonic() + budget_s - MIN_USEFUL_S
        while True:
            verdict = await self.ledger.take(ticket)
            if verdict.answer == Answer.GRANTED:
                return verdict
            if verdict.answer == Answer.PAUSED:
                raise RateLimited(
                    f"paused {verdict.wait_s:.1f}s more: "
                    "the provider asked (Retry-After) all replicas to wait",
                    provider=self.provider,
                    retry_after_s=verdict.wait_s,
                )
            wait_s = verdict.wait_s
            if verdict.answer == Answer.BUSY:  # a slot may free at any moment: ask again soon
                wait_s = min(wait_s, random.uniform(0.5, 1.0) * BUSY_POLL_S)
            if time.monotonic() + wait_s > give_up_at:
                raise self._exhausted(verdict)
            await asyncio.sleep(wait_s)

    def _exhausted(self, verdict: Verdict) -> CallBudgetExhausted:
        scope = verdict.scope
        name = scope.name if scope is not None else self.key
        if verdict.answer == Answer.RATE:
            figure = f"{scope.per_minute if scope else '?'} calls per minute to {name} already made"
            when = f"the next fits in {verdict.wait_s:.1f}s, after this call's deadline"
        else:
            figure = f"{scope.concurrency if scope else '?'} calls to {name} already in flight"
            when = "none finished before this call's deadline"
        shared = " (on every replica)" if verdict.shared else ""
        return CallBudgetExhausted(
            f"{figure}{shared}; {when}. Raise PROVIDER_LIMITS/MODEL_LIMITS if the account allows more",
            provider=self.provider,
        )


class Hold:
    """One attempt's claim on the gate: entered before the call, left after it."""

    __slots__ = ("_budget_s", "_gate", "_ticket", "_verdict")

    def __init__(self, gate: BudgetGate, ticket: Ticket, budget_s: float) -> None:
        self._gate = gate
        self._ticket = ticket
        self._budget_s = budget_s
        self._verdict = GRANTED

    async def __aenter__(self) -> None:
        gate = self._gate
        self._verdict = await gate.admit(self._ticket, self._budget_s)
        try:
            await gate.limiter.__aenter__()
        except BaseException:
            await gate.ledger.give_back(self._ticket, self._verdict)
            raise

    async def __aexit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        gate = self._gate
        await gate.limiter.__aexit__()
        await gate.ledger.give_back(self._ticket, self._verdict)
        if gate.pauses is not None and isinstance(error, RateLimited) and error.retry_after_s:
            await gate.pauses.pause(gate.key, error.retry_after_s)
