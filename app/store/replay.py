"""Nothing lost, nothing twice: idempotent replays, the response cache and single-flight runs.

For one storage key (a caller's ``Idempotency-Key``, or the hash of a cacheable request) the first
caller starts a *flight*; everyone else waits on it:

1. callers in this process wait on the flight's task (no store round trips), each for at most its
   own deadline;
2. a stored result is replayed (a reused key with another body is a conflict);
3. otherwise the store's lock decides which replica runs it; the others poll the store until the
   result appears, or run it themselves (with what is left of their deadline) when the holder
   vanished without one.

The flight runs in a task of its own, not in any caller's: a caller that leaves only stops
waiting. A keyed flight belongs to the service and always finishes (and is stored); an unkeyed
one is cancelled when its last waiter leaves, so no upstream call keeps running for nobody.

The lock is a lease (``lease_s``), renewed while its holder runs: a holder that dies lets go of it
within one lease, so a resend after a crash waits seconds, not the dead run's whole deadline.

The store is an optimisation and a safety net, never a dependency: when it fails the phase still
runs, the failure is logged, and ``degraded`` says why until the store answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from app.store.base import ResultStore, StoredResult, StoreUnavailable

log = structlog.get_logger("store")

POLL_S = 0.05
LEASE_S = 6.0
"""How long a lock outlives a holder that stopped renewing it (it renews every third of that)."""
RUNNER_SLACK_S = 5.0
"""How much longer than its deadline the caller that started a flight waits for it: the run is
bounded by that deadline already; this only guards against a step that forgot it."""
T = TypeVar("T")

Compute = Callable[[float], Awaitable["Finished"]]
"""Runs the phase here, given how long was already spent waiting on another run (seconds)."""


@dataclass(frozen=True, slots=True)
class Finished:
    """A response to send: its status and body, and whether it came from an earlier run."""

    status: int
    body: bytes
    replayed: bool = False
    keep: bool = True
    """Whether the cache may store this 200 (the cache keeps no degraded answer; a key keeps all)."""
    created_at: float | None = None
    """When a replayed result was stored (wall clock); ``None`` for one run or joined just now."""
    replay: bytes | None = None
    """What later readers get instead of ``body`` (a cache hit says ``"cached": true``); stored,
    and sent, as it is. ``None``: they get ``body``."""
    waited_s: float = 0.0
    """How long this caller waited on another caller's run (joined, or a lock held elsewhere)."""

    @property
    def replay_body(self) -> bytes:
        """The body a joined caller or a stored replay receives."""
        return self.body if self.replay is None else self.replay


def _young_enough(stored: StoredResult, max_age_s: float | None) -> bool:
    return max_age_s is None or time.time() - stored.created_at <= max_age_s


class KeyConflict(Exception):
    """The key was first used with another request body."""


class StillRunning(Exception):
    """This caller's deadline passed while the run it waits on (here or elsewhere) went on."""

    def __init__(self, key: str, waited_s: float) -> None:
        super().__init__(key)
        self.waited_s = waited_s


@dataclass(slots=True)
class _Flight:
    """One run of a key in this process, and how many callers still wait on it."""

    fingerprint: str
    task: asyncio.Task[Finished]
    keyed: bool
    waiters: int = 0


class Replayer:
    def __init__(self, store: ResultStore | None, *, lease_s: float = LEASE_S) -> None:
        self.store = store
        self.lease_s = lease_s
        self.degraded: str | None = None
        """The last store failure, until the store answers again (shown by /readyz)."""
        self._inflight: dict[str, _Flight] = {}

    async def run(
        self,
        key: str,
        fingerprint: str,
        compute: Compute,
        *,
        ttl_s: float,
        wait_s: float,
        keyed: bool = False,
        max_age_s: float | None = None,
    ) -> Finished:
        """The result for ``key``: replayed, joined or computed.

        ``wait_s`` is this caller's deadline: it never waits longer on another run (else
        ``StillRunning``), and a run it starts after waiting gets what is left of it. ``keyed``:
        an Idempotency-Key's run, which no hang-up cancels and whose every 200 is stored (else
        only 200s with ``keep``). ``max_age_s`` skips stored results older than that
        (``Cache-Control: max-age``; 0 still coalesces and stores).
        """
        flight = self._inflight.get(key)
        if flight is not None:
            if flight.fingerprint != fingerprint:
                raise KeyConflict(key)
            began = time.monotonic()
            finished = await self._wait(key, flight, wait_s)
            waited = time.monotonic() - began
            return Finished(finished.status, finished.replay_body, replayed=True, waited_s=waited)
        work = self._resolve(
            key, fingerprint, compute, ttl_s=ttl_s, wait_s=wait_s, keyed=keyed, max_age_s=max_age_s
        )
        flight = _Flight(fingerprint, asyncio.create_task(work), keyed)
        self._inflight[key] = flight
        flight.task.add_done_callback(lambda task: self._landed(key, task))
        return await self._wait(key, flight, wait_s + RUNNER_SLACK_S)

    def _landed(self, key: str, task: asyncio.Task[Finished]) -> None:
        if self._inflight.get(key) is not None and self._inflight[key].task is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: a keyed run nobody waits for any more must not warn

    async def _wait(self, key: str, flight: _Flight, wait_s: float) -> Finished:
        """``flight``'s result, waiting at most ``wait_s``; the last waiter to leave an unkeyed
        flight cancels it."""
        flight.waiters += 1
        began = time.monotonic()
        try:
            async with asyncio.timeout(wait_s):
                return await asyncio.shield(flight.task)
        except TimeoutError:
            raise StillRunning(key, time.monotonic() - began) from None
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.keyed and not flight.task.done():
                # Gone from the table before it is cancelled: a caller arriving while the run
                # closes its calls starts a run of its own, never joins one being cancelled
                # (it would inherit the cancellation, a 499 for a caller still connected).
                if self._inflight.get(key) is flight:
                    del self._inflight[key]
                flight.task.cancel()
                # Shielded: a second cancel of this caller must not cut the run's clean-up short.
                await asyncio.shield(asyncio.gather(flight.task, return_exceptions=True))

    async def _resolve(
        self,
        key: str,
        fingerprint: str,
        compute: Compute,
        *,
        ttl_s: float,
        wait_s: float,
        keyed: bool,
        max_age_s: float | None,
    ) -> Finished:
        began, waited = time.monotonic(), 0.0  # waited: only time spent on another replica's run
        while True:
            if (stored := await self._get(key)) is not None:
                if stored.fingerprint != fingerprint:
                    raise KeyConflict(key)
                if _young_enough(stored, max_age_s):
                    return Finished(
                        stored.status,
                        stored.body,
                        replayed=True,
                        created_at=stored.created_at,
                        waited_s=waited,
                    )
            token = await self._lock(key)
            if token is not None:
                break
            # Another replica runs it: wait for its result, or for its lease to lapse.
            while await self._locked(key) and time.monotonic() - began < wait_s:
                await asyncio.sleep(POLL_S)
                if (stored := await self._get(key)) is not None and _young_enough(stored, max_age_s):
                    break
            waited = time.monotonic() - began
            if waited >= wait_s:
                raise StillRunning(key, waited)
        async with self._holding(key, token):
            return await self.fresh(key, fingerprint, compute, ttl_s=ttl_s, keyed=keyed, waited_s=waited)

    async def fresh(
        self,
        key: str,
        fingerprint: str,
        compute: Compute,
        *,
        ttl_s: float,
        keyed: bool = False,
        waited_s: float = 0.0,
    ) -> Finished:
        """Run ``compute()`` here, joining no one and reading nothing, and store its 200 (keyed:
        any; else only a keepable one) for later readers of ``key``."""
        finished = await compute(waited_s)
        if finished.status == 200 and (keyed or finished.keep):
            await self._put(key, StoredResult(fingerprint, 200, finished.replay_body, time.time()), ttl_s)
        return Finished(
            finished.status, finished.body, keep=finished.keep, replay=finished.replay, waited_s=waited_s
        )

    @contextlib.asynccontextmanager
    async def _holding(self, key: str, token: str) -> AsyncIterator[None]:
        """Renew the lease on ``key`` while the body runs, then release it."""
        renewer = asyncio.create_task(self._renew(key, token)) if token else None
        try:
            yield
        finally:
            if renewer is not None:
                renewer.cancel()
                await asyncio.gather(renewer, return_exceptions=True)
            if token:
                await self._unlock(key, token)

    async def _renew(self, key: str, token: str) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not await self._guard(self.store.extend(key, token, self.lease_s), True):
                log.warning("store_lease_lost", key_kind=key.partition(":")[0])
                return

    async def close(self) -> None:
        """Cancel the flights still running (the process is stopping; nothing waits for them)."""
        flights = list(self._inflight.values())
        for flight in flights:
            flight.task.cancel()
        await asyncio.gather(*(f.task for f in flights), return_exceptions=True)

    # Store calls that degrade instead of failing the request.

    async def _guard(self, operation: Awaitable[T], fallback: T) -> T:
        assert self.store is not None
        try:
            result = await operation
        except StoreUnavailable as exc:
            if self.degraded is None:
                log.warning("store_unavailable", backend=self.store.backend, error=str(exc))
            self.degraded = str(exc)
            return fallback
        if self.degraded is not None:
            log.info("store_recovered", backend=self.store.backend)
            self.degraded = None
        return result

    async def _get(self, key: str) -> StoredResult | None:
        return await self._guard(self.store.get(key), None) if self.store else None

    async def _put(self, key: str, result: StoredResult, ttl_s: float) -> None:
        if self.store:
            await self._guard(self.store.put(key, result, ttl_s), None)

    async def _lock(self, key: str) -> str | None:
        # Without a store there is no one to coordinate with: run it ("" = no lock to release).
        return await self._guard(self.store.try_lock(key, self.lease_s), "") if self.store else ""

    async def _unlock(self, key: str, token: str) -> None:
        if self.store:
            await self._guard(self.store.unlock(key, token), None)

    async def _locked(self, key: str) -> bool:
        return await self._guard(self.store.locked(key), False) if self.store else False

    async def check(self) -> str | None:
        """``None`` when the store answers (or there is none), else why not."""
        if self.store is None:
            return None
        await self._guard(self.store.ping(), None)
        return self.degraded
