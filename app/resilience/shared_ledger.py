"""The account budgets kept in Redis, so every replica and worker counts against the same figures.

One script admits a call: it reads the model's Retry-After pause and checks every budget the call
counts against, all or nothing, in the same round trip the pause check alone used to cost. Calls in
flight are a sorted set of holders scored by their lease's end, so a process that dies holding a
slot (SIGKILL, lost host) frees it when the lease runs out; calls started are a sorted set of start
times, trimmed to the sliding window. Times come from the Redis server's clock, one for every
replica. Giving a slot back is one more round trip, made only when an in-flight budget applies.

While Redis is unreachable, budgets fall back to this process's own counts (``LocalLedger``):
calls go on, limited per replica, rather than fail.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.resilience.budgets import WINDOW_S, Scope
from app.resilience.ledger import GRANTED, Answer, LocalLedger, Ticket, Verdict
from app.resilience.pause import SharedPauses

# KEYS[1]: the pause; KEYS[2..]: one per budget. ARGV: token, lease ms, window ms, then for each
# budget its kind ('c': in flight, 'r': started per window) and its limit.
# Reply {answer, wait ms, index of the budget that said no}; answers as ``ledger.Answer``.
_TAKE = """
local paused = redis.call('pttl', KEYS[1])
if paused > 0 then return {1, paused, 0} end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local rate_wait, rate_at, busy_wait, busy_at = -1, 0, -1, 0
for i = 2, #KEYS do
  local kind, limit = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if kind == 'c' then
    redis.call('zremrangebyscore', KEYS[i], '-inf', now)
    if redis.call('zcard', KEYS[i]) >= limit then
      local first = redis.call('zrange', KEYS[i], 0, 0, 'withscores')
      busy_wait, busy_at = tonumber(first[2]) - now, i - 1
    end
  else
    redis.call('zremrangebyscore', KEYS[i], '-inf', now - window)
    if redis.call('zcard', KEYS[i]) >= limit then
      local first = redis.call('zrange', KEYS[i], 0, 0, 'withscores')
      local wait = tonumber(first[2]) + window - now
      if wait > rate_wait then rate_wait, rate_at = wait, i - 1 end
    end
  end
end
if rate_wait >= 0 then return {2, rate_wait, rate_at} end
if busy_wait >= 0 then return {3, busy_wait, busy_at} end
for i = 2, #KEYS do
  if ARGV[2 * i] == 'c' then
    redis.call('zadd', KEYS[i], now + lease, ARGV[1])
    if redis.call('pttl', KEYS[i]) < lease then redis.call('pexpire', KEYS[i], lease) end
  else
    redis.call('zadd', KEYS[i], now, ARGV[1])
    redis.call('pexpire', KEYS[i], window)
  end
end
return {0, 0, 0}
"""

_GIVE_BACK = """
for i = 1, #KEYS do redis.call('zrem', KEYS[i], ARGV[1]) end
return 0
"""


class SharedLedger:
    """``take`` and ``give_back`` over the Redis that holds the shared pauses."""

    def __init__(self, pauses: SharedPauses, *, prefix: str = "orchestrator:budget:") -> None:
        self._pauses = pauses
        self._prefix = prefix
        self._take = pauses.script(_TAKE)
        self._give_back = pauses.script(_GIVE_BACK)
        self.alone = LocalLedger()
        """This process's counts, used while Redis is unreachable."""

    async def take(self, ticket: Ticket) -> Verdict:
        if not ticket.scopes:  # the pause alone: one plain read is cheaper than the script
            paused_s = await self._pauses.remaining_s(ticket.model)
            return Verdict(Answer.PAUSED, paused_s) if paused_s > 0 else GRANTED
        keys = [self._pauses.key(ticket.model)]
        args: list[str | int] = [ticket.token, _ms(ticket.lease_s), _ms(WINDOW_S)]
        for scope in ticket.scopes:
            if scope.concurrency is not None:
                keys.append(self._in_flight_key(scope))
                args += ["c", scope.concurrency]
            if scope.per_minute is not None:
                keys.append(f"{self._prefix}{scope.name}:started")
                args += ["r", scope.per_minute]
        reply = await self._pauses.run(self._take, keys, args)
        if reply is None:
            return self.alone.take_now(ticket.scopes)
        answer, wait_ms, index = (int(part) for part in reply)
        if answer == Answer.GRANTED:
            return Verdict(Answer.GRANTED, shared=True)
        found = _scope_of(ticket.scopes, index) if index else None
        return Verdict(Answer(answer), wait_ms / 1000.0, found, shared=True)

    async def give_back(self, ticket: Ticket, verdict: Verdict) -> None:
        if not verdict.shared:
            self.alone.give_back_now(ticket.scopes)
            return
        keys = [self._in_flight_key(s) for s in ticket.scopes if s.concurrency is not None]
        if keys:  # a lost reply leaves the slot to its lease
            await self._pauses.run(self._give_back, keys, [ticket.token])

    def _in_flight_key(self, scope: Scope) -> str:
        return f"{self._prefix}{scope.name}:in_flight"


def _scope_of(scopes: Sequence[Scope], index: int) -> Scope:
    """The scope behind the ``index``-th budget key (a scope has one key per bounded figure)."""
    position = 0
    for scope in scopes:
        position += (scope.concurrency is not None) + (scope.per_minute is not None)
        if position >= index:
            return scope
    raise AssertionError(f"no budget key {index}")  # pragma: no cover


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
