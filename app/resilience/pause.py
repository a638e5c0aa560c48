"""A provider's ``429 Retry-After``, shared through Redis: every replica holds off that model until then.

Providers limit the account, not the process: when one replica is told to wait, the others calling
the same model at once would only collect 429s of their own. The pause is a Redis key per provider
and model that expires when the provider said to come back; a longer pause extends it, a shorter
one never cuts it short. Without Redis nothing is shared (each call honours its own Retry-After).

The same connection runs the provider budgets' scripts (``shared_ledger.py``), which read the
pause in the round trip that admits a call. An unreachable Redis never fails a call: pauses (and
budgets) go unshared for a few seconds, then Redis is asked again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = structlog.get_logger("app.resilience.pause")

# Set the pause only when it outlasts the one already there: Retry-After values race.
_EXTEND = """
local ms = tonumber(ARGV[1])
if redis.call('pttl', KEYS[1]) < ms then redis.call('set', KEYS[1], '1', 'px', ms) end
return 0
"""


class SharedPauses:
    """``remaining_s(key)`` and ``pause(key, seconds)`` over one Redis, for every replica."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "orchestrator:pause:",
        timeout_s: float = 0.5,
        quiet_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Short timeouts and no retries: a call must not wait on Redis longer than on a model.
        self._redis = Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._extend = self._redis.register_script(_EXTEND)
        self._prefix = prefix
        self._quiet_s = quiet_s
        self._clock = clock
        self._down_until = 0.0

    def key(self, name: str) -> str:
        """The Redis key of ``name``'s pause (``provider/model_id``)."""
        return self._prefix + name

    def script(self, source: str) -> AsyncScript:
        return self._redis.register_script(source)

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """``script``'s reply, or ``None`` while Redis is unreachable (callers then go it alone)."""
        if self._clock() < self._down_until:
            return None
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return None

    async def remaining_s(self, key: str) -> float:
        """Seconds until calls to ``key`` may go out again (0: now)."""
        if self._clock() < self._down_until:
            return 0.0
        try:
            ms = await self._redis.pttl(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return 0.0
        return max(0.0, int(ms) / 1000.0)  # -2: no pause; -1 cannot happen (always set with px)

    async def pause(self, key: str, seconds: float) -> None:
        if seconds <= 0 or self._clock() < self._down_until:
            return
        try:
            await self._extend(keys=[self._prefix + key], args=[max(1, round(seconds * 1000))])
        except (RedisError, OSError) as exc:
            self._went_down(exc)

    async def close(self) -> None:
        await self._redis.aclose()

    def _went_down(self, exc: BaseException) -> None:
        self._down_until = self._clock() + self._quiet_s
        log.warning(
            "provider_pauses_unavailable",
            error=type(exc).__name__,
            hint=(
                "Retry-After pauses and provider budgets stay per replica; "
                f"Redis is asked again in {self._quiet_s:.0f}s"
            ),
        )
