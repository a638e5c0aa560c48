"""The shared backend: Redis holds results, idempotency records and single-flight locks, so every
replica behind a load balancer sees the same ones.

Short socket timeouts on purpose: an unreachable Redis must cost a request milliseconds, not
seconds, because the service answers without the store rather than waiting for it.

Bounded: every key has a TTL, and an entry over STORE_MAX_ENTRY_BYTES is not stored. The total is
the Redis server's to bound (``maxmemory`` with ``maxmemory-policy volatile-lru``): it already
evicts in constant time under memory pressure, for every replica's writes at once, whereas a cap
kept by the service would cost a sorted set and a script on every write and still drift from the
server's own expiry. The size in /metrics is the database's (``DBSIZE``, ``used_memory``), read at
most every ``size_every_s`` seconds by a write, never per request.
"""

from __future__ import annotations

import json
import secrets
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.store.base import StoredResult, StoreLimits, StoreSize, StoreUnavailable, fits

# Delete the lock only if it is still ours: a lock that expired may now belong to another replica.
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

# Renew the lease only if the lock is still ours, for the same reason.
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisStore:
    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "orchestrator:",
        timeout_s: float = 0.5,
        limits: StoreLimits | None = None,
        size_every_s: float = 10.0,
    ) -> None:
        self._redis = Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False
        )
        self._prefix = prefix
        self._unlock = self._redis.register_script(_UNLOCK)
        self._extend = self._redis.register_script(_EXTEND)
        self.limits = limits or StoreLimits()
        self._size = StoreSize()
        self._size_every_s = size_every_s
        self._sized_at = float("-inf")

    def size(self) -> StoreSize:
        return self._size

    async def _refresh_size(self) -> None:
        """Read the database's size, at most every ``size_every_s`` seconds."""
        if time.monotonic() - self._sized_at < self._size_every_s:
            return
        self._sized_at = time.monotonic()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.dbsize()
            pipe.info("memory")
            entries, memory = await pipe.execute()
        self._size = StoreSize(int(entries), int(memory["used_memory"]))

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}{kind}:{key}"

    async def get(self, key: str) -> StoredResult | None:
        try:
            raw = await self._redis.get(self._key("result", key))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        if raw is None:
            return None
        data = json.loads(raw)
        return StoredResult(data["fingerprint"], data["status"], data["body"].encode(), data["created_at"])

    async def put(self, key: str, result: StoredResult, ttl_s: float) -> None:
        if not fits(key, result, self.limits, self.backend):
            return
        value = json.dumps(
            {
                "fingerprint": result.fingerprint,
                "status": result.status,
                "body": result.body.decode(),
                "created_at": result.created_at,
            }
        )
        try:
            await self._redis.set(self._key("result", key), value, px=max(1, int(ttl_s * 1000)))
            await self._refresh_size()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        try:
            taken = await self._redis.set(
                self._key("lock", key), token, nx=True, px=max(1, int(ttl_s * 1000))
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        try:
            await self._unlock(keys=[self._key("lock", key)], args=[token])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        try:
            renewed = await self._extend(
                keys=[self._key("lock", key)], args=[token, max(1, int(ttl_s * 1000))]
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return bool(renewed)

    async def locked(self, key: str) -> bool:
        try:
            return bool(await self._redis.exists(self._key("lock", key)))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def ping(self) -> None:
        try:
            await self._redis.ping()
            await self._refresh_size()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()
