"""The run board on Redis: what every replica and worker knows of a queued run.

Per run, under one prefix and one TTL: a record (owner, state, which worker process has it), a
stream of its progress events (ids 1, 2, ... from one counter, so a take-over continues the
numbering and ``Last-Event-ID`` still resumes), and its one result. The result is written with
``SET NX``: whoever ends the run first (the worker's answer, or a caller's cancel) wins, and a late
duplicate (a worker that lost its lease but was only frozen, not dead) can never overwrite it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

MAX_EVENTS = 1000
"""A run's events kept for ``Last-Event-ID`` resumption; the oldest go first beyond that."""
ENDINGS = frozenset({"result", "error", "cancelled"})
"""The event names that end a run's stream."""


@dataclass(frozen=True, slots=True)
class Record:
    """Whose run it is and where it stands."""

    owner: str
    state: str


@dataclass(frozen=True, slots=True)
class Ending:
    """How a run ended: its state, and the status and body the synchronous call would answer."""

    state: str
    status: int
    body: bytes | None


class Board:
    """Runs' records, events and results in Redis (see the module docstring)."""

    def __init__(self, redis: Redis, *, ttl_s: float, prefix: str = "orchestrator:run:") -> None:
        self.redis = redis
        self.ttl_ms = max(1000, int(ttl_s * 1000))
        self.prefix = prefix

    def _key(self, run_id: str, part: str) -> str:
        return f"{self.prefix}{run_id}:{part}"

    async def open(self, run_id: str, owner: str) -> None:
        """Record a new queued run."""
        key = self._key(run_id, "record")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"owner": owner, "state": "queued"})
            pipe.pexpire(key, self.ttl_ms)
            await pipe.execute()

    async def claim(self, key: str, run_id: str) -> str:
        """The run already holding ``key`` (an owner's Idempotency-Key), else ``run_id``, now holding it."""
        held = await self.redis.set(self._key(key, "key"), run_id, nx=True, get=True, px=self.ttl_ms)
        return _text(held) if held else run_id

    async def release(self, key: str) -> None:
        await self.redis.delete(self._key(key, "key"))

    async def record(self, run_id: str) -> Record | None:
        raw = await self.redis.hgetall(self._key(run_id, "record"))
        if not raw:
            return None
        return Record(_text(raw[b"owner"]), _text(raw[b"state"]))

    async def running(self, run_id: str, worker: str) -> None:
        """A worker has the run (again, after a take-over)."""
        await self.redis.hset(self._key(run_id, "record"), mapping={"state": "running", "worker": worker})

    async def worker(self, run_id: str) -> str | None:
        """Which worker process has the run (``host:pid``), for operators and tests."""
        raw = await self.redis.hget(self._key(run_id, "record"), "worker")
        return _text(raw) if raw else None

    async def add(self, run_id: str, event: str, data: str) -> int:
        """Append an event; its id continues the run's numbering, whoever writes it."""
        seq = int(await self.redis.incr(self._key(run_id, "seq")))
        stream = self._key(run_id, "events")
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(stream, {"event": event, "data": data}, id=f"{seq}-0", maxlen=MAX_EVENTS)
                pipe.pexpire(stream, self.ttl_ms)
                pipe.pexpire(self._key(run_id, "seq"), self.ttl_ms)
                await pipe.execute()
        except ResponseError:
            pass  # two writers raced and this id landed behind the other's: the event is dropped
        return seq

    async def end(self, run_id: str, ending: Ending, event: str, data: str) -> bool:
        """Store the run's one result; ``False`` if it already had one (nothing is changed then)."""
        value = json.dumps(
            {"state": ending.state, "status": ending.status, "body": ending.body and ending.body.decode()}
        )
        if not await self.redis.set(self._key(run_id, "result"), value, nx=True, px=self.ttl_ms):
            return False
        await self.redis.hset(self._key(run_id, "record"), "state", ending.state)
        await self.add(run_id, event, data)
        return True

    async def ending(self, run_id: str) -> Ending | None:
        raw = await self.redis.get(self._key(run_id, "result"))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        body = data["body"]
        return Ending(data["state"], data["status"], body.encode() if body is not None else None)

    async def events(self, run_id: str, after: int, *, wait_ms: int = 0) -> list[tuple[int, str, str]]:
        """Events with an id above ``after``; with ``wait_ms``, wait that long for the first one."""
        stream = self._key(run_id, "events")
        entries: list[Any]
        if wait_ms:
            found: Any = await self.redis.xread({stream: f"{after}-0"}, block=wait_ms)
            entries = found[0][1] if found else []
        else:
            entries = await self.redis.xrange(stream, min=f"({after}-0") or []
        return [_event(entry_id, fields) for entry_id, fields in entries]

    async def close(self) -> None:
        await self.redis.aclose()


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _event(entry_id: Any, fields: Any) -> tuple[int, str, str]:
    return int(_text(entry_id).partition("-")[0]), _text(fields[b"event"]), _text(fields[b"data"])


__all__ = ["ENDINGS", "MAX_EVENTS", "Board", "Ending", "Record", "RedisError"]
