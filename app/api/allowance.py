"""The per-caller allowance: a moving window in this process, or in Redis shared by every replica.

With REDIS_URL set, every replica counts a caller's requests in the same Redis keys (the `limits`
library's Lua scripts make each hit atomic), so N replicas allow what one would, not N times it.
An unreachable Redis never fails a request: the allowance falls back to this process's own window
until Redis answers again (the same rule as the result store).
"""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

log = structlog.get_logger("app.api.allowance")

KEY_PREFIX = "orchestrator:limits"


class Allowance:
    """``take(who)``: ``None`` when the caller may go on, else the seconds until it may."""

    def __init__(self, limit: RateLimitItem, *, redis_url: str | None, timeout_s: float = 0.5) -> None:
        self.limit = limit
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._pool: ConnectionPool | None = None
        self._shared: MovingWindowRateLimiter | None = None
        self._shared_down = False
        if redis_url is not None:
            # Our own pool, so the lifespan can close it (limits' storage has no close); short
            # timeouts and no retries, so a dead Redis costs a request milliseconds.
            self._pool = ConnectionPool.from_url(
                redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
            storage = RedisStorage(
                redis_url,
                wrap_exceptions=True,  # every Redis failure arrives as limits' StorageError
                implementation="redispy",  # redis-py, the client the store already uses
                key_prefix=KEY_PREFIX,
                connection_pool=self._pool,  # type: ignore[arg-type]  # passed to redis.asyncio.Redis
            )
            self._shared = MovingWindowRateLimiter(storage)

    @property
    def backend(self) -> str:
        return "redis" if self._shared is not None else "memory"

    async def take(self, who: str) -> int | None:
        if self._shared is not None:
            try:
                wait = await _take(self._shared, self.limit, who)
            except StorageError as exc:
                self._note_down(exc)
            else:
                self._note_up()
                return wait
        return await _take(self._local, self.limit, who)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def _note_down(self, exc: StorageError) -> None:
        if not self._shared_down:  # once per outage, not once per request
            self._shared_down = True
            log.warning(
                "rate_limit_storage_unavailable",
                error=type(exc.storage_error).__name__,
                hint="counting per replica until Redis answers again",
            )

    def _note_up(self) -> None:
        if self._shared_down:
            self._shared_down = False
            log.info("rate_limit_storage_restored")


async def _take(limiter: MovingWindowRateLimiter, limit: RateLimitItem, who: str) -> int | None:
    if await limiter.hit(limit, who):
        return None
    reset = (await limiter.get_window_stats(limit, who)).reset_time
    return max(1, math.ceil(reset - time.time()))
