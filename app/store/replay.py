"""Nothing lost, nothing twice: idempotent replays, the response cache and single-flight runs.

For one storage key (an ``Idempotency-Key``, or the hash of a cacheable request) the first caller
runs the phase; everyone else gets that caller's result:

1. callers in this process wait on the first caller's future (no store round trips);
2. a stored result is replayed (a reused key with another body is a conflict);
3. otherwise the store's lock decides which replica runs it; the others poll the store until the
   result appears, or run it themselves if the holder vanished without one.

The store is an optimisation and a safety net, never a dependency: when it fails the phase still
runs, the failure is logged, and ``degraded`` says why until the store answers again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from app.store.base import ResultStore, StoredResult, StoreUnavailable

log = structlog.get_logger("store")

POLL_S = 0.05
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finished:
    """A response to send: its status and body, and whether it came from an earlier run."""

    status: int
    body: bytes
    replayed: bool = False
    keep: bool = True
    """Whether a 200 may be stored (the cache keeps no degraded answer)."""
    created_at: float | None = None
    """When a replayed result was stored (wall clock); ``None`` for one run or joined just now."""
    replay: bytes | None = None
    """What later readers get instead of ``body`` (a cache hit says ``"cached": true``); stored,
    and sent, as it is. ``None``: they get ``body``."""

    @property
    def replay_body(self) -> bytes:
        """The body a joined caller or a stored replay receives."""
        return self.body if self.replay is None else self.replay


def _young_enough(stored: StoredResult, max_age_s: float | None) -> bool:
    return max_age_s is None or time.time() - stored.created_at <= max_age_s


class KeyConflict(Exception):
    """The key was first used with another request body."""


class Replayer:
    def __init__(self, store: ResultStore | None) -> None:
        self.store = store
        self.degraded: str | None = None
        """The last store failure, until the store answers again (shown by /readyz)."""
        self._inflight: dict[str, tuple[str, asyncio.Future[Finished]]] = {}

    async def run(
        self,
        key: str,
        fingerprint: str,
        compute: Callable[[], Awaitable[Finished]],
        *,
        ttl_s: float,
        wait_s: float,
        max_age_s: float | None = None,
    ) -> Finished:
        """The result for ``key``: replayed, joined or computed. Only 200s are stored.

        ``max_age_s`` skips stored results older than that (``Cache-Control: max-age``; 0 still
        coalesces and stores). ``wait_s`` bounds how long to wait for another replica's run.
        """
        joined = self._inflight.get(key)
        if joined is not None:
            if joined[0] != fingerprint:
                raise KeyConflict(key)
            finished = await asyncio.shield(joined[1])
            return Finished(finished.status, finished.replay_body, replayed=True)

        future: asyncio.Future[Finished] = asyncio.get_running_loop().create_future()
        self._inflight[key] = (fingerprint, future)
        try:
            finished = await self._resolve(
                key, fingerprint, compute, ttl_s=ttl_s, wait_s=wait_s, max_age_s=max_age_s
            )
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a future nobody joined must not warn at shutdown
            raise
        finally:
            del self._inflight[key]
        future.set_result(finished)
        return finished

    async def _resolve(
        self,
        key: str,
        fingerprint: str,
        compute: Callable[[], Awaitable[Finished]],
        *,
        ttl_s: float,
        wait_s: float,
        max_age_s: float | None,
    ) -> Finished:
        give_up = time.monotonic() + wait_s
        while True:
            if (stored := await self._get(key)) is not None:
                if stored.fingerprint != fingerprint:
                    raise KeyConflict(key)
                if _young_enough(stored, max_age_s):
                    return Finished(stored.status, stored.body, replayed=True, created_at=stored.created_at)
            token = await self._lock(key, ttl_s=wait_s)
            if token is not None:
                break
            # Another replica is running it: wait for its result (or for its lock to lapse).
            while await self._locked(key) and time.monotonic() < give_up:
                await asyncio.sleep(POLL_S)
                if (stored := await self._get(key)) is not None and _young_enough(stored, max_age_s):
                    break
            if time.monotonic() >= give_up:
                token = ""  # waited long enough: run it here rather than stall the workflow
                break
        try:
            return await self.fresh(key, fingerprint, compute, ttl_s=ttl_s)
        finally:
            if token:
                await self._unlock(key, token)

    async def fresh(
        self, key: str, fingerprint: str, compute: Callable[[], Awaitable[Finished]], *, ttl_s: float
    ) -> Finished:
        """Run ``compute()`` here, joining no one and reading nothing, and store a keepable 200 for
        later readers of ``key``."""
        finished = await compute()
        if finished.status == 200 and finished.keep:
            await self._put(key, StoredResult(fingerprint, 200, finished.replay_body, time.time()), ttl_s)
        return finished

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

    async def _lock(self, key: str, *, ttl_s: float) -> str | None:
        # Without a store there is no one to coordinate with: run it ("" = no lock to release).
        return await self._guard(self.store.try_lock(key, ttl_s), "") if self.store else ""

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
