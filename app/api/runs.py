"""Runs: a phase started with ``Prefer: respond-async``, owned by the service, not a connection.

The in-process engine: each run is a task of its own with a bounded buffer of its progress events;
at most ``max_live`` are live at once. When a run ends, its state, status, body and events go to
the store under ``run:<id>`` for the result TTL (any process sharing the store can read them) and
its in-memory state is dropped. A distributed engine would replace ``Runs`` behind the same
methods: ``start``, ``view``, ``cancel``, ``events``, ``close``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import structlog

from app.api.schemas import ErrorBody, ErrorResponse
from app.errors import RunFinished, RunInterrupted, RunNotFound, TooManyRuns
from app.progress import listen
from app.store.base import ResultStore, StoredResult, StoreUnavailable
from app.store.replay import Finished

log = structlog.get_logger("runs")

RunState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
DONE: frozenset[RunState] = frozenset({"succeeded", "failed", "cancelled"})
MAX_EVENTS = 1000
"""A run's events kept for ``Last-Event-ID`` resumption; the oldest go first beyond that."""
Work = Callable[[], Awaitable[Finished]]
BOOT = secrets.token_hex(8)
"""This process's incarnation: a run recorded live by another one (same pid, or a pid that is
gone) was interrupted by a restart or a crash."""


def new_run_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class RunOrder:
    """One run's request, as JSON-safe data (a queued job's arguments)."""

    run_id: str
    phase: str
    body: str
    owner: str
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One server-sent event of a run: its id (1, 2, ...), name and JSON data."""

    id: int
    event: str
    data: str


@dataclass(frozen=True, slots=True)
class RunView:
    """What a caller may see of a run: its state and, once done, the answer and its events."""

    id: str
    state: RunState
    result: Finished | None = None
    events: tuple[RunEvent, ...] = ()


class RunEngine(Protocol):
    """What the run API needs of an engine: in-process (``Runs``) or queued on Redis."""

    async def start(self, order: RunOrder, work: Work, *, key: str | None = None) -> RunView: ...

    async def view(self, run_id: str, owner: str) -> RunView: ...

    async def record(self, order: RunOrder, finished: Finished) -> None:
        """Keep a synchronous call's answer as an ended run, so GET /runs/{id} answers it too."""
        ...

    async def cancel(self, run_id: str, owner: str) -> RunView: ...

    def events(self, run_id: str, owner: str, after: int) -> AsyncIterator[RunEvent]: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Live:
    """A run in this process: its task, state and recent events."""

    id: str
    owner: str
    key: str | None
    state: RunState = "queued"
    events: deque[RunEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    result: Finished | None = None
    task: asyncio.Task[None] | None = None

    def add(self, event: str, data: str) -> None:
        last = self.events[-1].id if self.events else 0
        self.events.append(RunEvent(last + 1, event, data))
        self.changed.set()
        self.changed = asyncio.Event()  # waiters hold the old one, now set

    def view(self) -> RunView:
        return RunView(self.id, self.state, self.result, tuple(self.events))


class Runs:
    """The in-process run engine (see the module docstring)."""

    def __init__(self, store: ResultStore | None, *, max_live: int, ttl_s: float) -> None:
        self.store = store
        self.max_live = max_live
        self.ttl_s = ttl_s
        self._live: dict[str, _Live] = {}
        self._keys: dict[tuple[str, str], str] = {}
        # Only when the store could not keep a result: the last few, so a poll still finds them.
        self._unstored: OrderedDict[str, tuple[str, RunView]] = OrderedDict()
        # Synchronous calls' answers (the last few), in memory only: a store write per call would
        # double the store's cost on the default path, and their callers already have them.
        self._answered: OrderedDict[str, tuple[str, RunView]] = OrderedDict()
        self._keeping: set[asyncio.Future[None]] = set()

    async def start(self, order: RunOrder, work: Work, *, key: str | None = None) -> RunView:
        """A new run of ``work`` for the order's owner; with ``key``, that owner's live run of it if any."""
        owner = order.owner
        if key is not None and (same := self._keys.get((owner, key))) in self._live:
            return self._live[same].view()
        if len(self._live) >= self.max_live:
            raise TooManyRuns(
                f"{len(self._live)} runs are live in this process; MAX_LIVE_RUNS is {self.max_live}",
                hint=f"retry after {TooManyRuns.retry_after_s} s, or raise MAX_LIVE_RUNS",
                details={"limit": self.max_live},
            )
        live = _Live(order.run_id, owner, key)
        self._live[live.id] = live
        if key is not None:
            self._keys[owner, key] = live.id
        await self._record_start(live)  # before the task: its final record must come after this one
        live.task = asyncio.create_task(self._run(live, work), name=f"run-{live.id[:8]}")
        live.task.add_done_callback(lambda _: self._if_never_started(live))
        return live.view()

    async def view(self, run_id: str, owner: str) -> RunView:
        """The run's state now, from this process or the store; 404 for another owner's."""
        live = self._live.get(run_id)
        if live is not None and live.owner == owner:
            return live.view()
        if live is None:
            found = await self._stored(run_id, owner)
            if found is not None:
                return found
        raise run_not_found(run_id)

    async def record(self, order: RunOrder, finished: Finished) -> None:
        """In this process only, the last ``max_live`` of them (see ``_answered``)."""
        ok = finished.status == 200
        ending = RunEvent(1, "result" if ok else "error", finished.body.decode())
        view = RunView(order.run_id, "succeeded" if ok else "failed", finished, (ending,))
        _hold(self._answered, order.run_id, (order.owner, view), self.max_live)

    async def cancel(self, run_id: str, owner: str) -> RunView:
        """Cancel a queued or running run (and its upstream calls); 409 once it has ended."""
        live = self._live.get(run_id)
        if live is None or live.owner != owner:
            await self.view(run_id, owner)  # 404 unless this caller's run ended
            raise run_finished(run_id)
        if live.task is not None and live.state not in DONE:
            live.task.cancel()
        return RunView(live.id, "cancelled")

    async def events(self, run_id: str, owner: str, after: int) -> AsyncIterator[RunEvent]:
        """The run's events with an id above ``after``, as they come, until it ends."""
        live = self._live.get(run_id)
        if live is None or live.owner != owner:
            for event in (await self.view(run_id, owner)).events:
                if event.id > after:
                    yield event
            return
        while True:
            changed = live.changed
            for event in tuple(live.events):
                if event.id > after:
                    after = event.id
                    yield event
            if live.state in DONE:
                return
            await changed.wait()

    async def close(self) -> None:
        """Cancel every live run (the service is stopping; their callers see ``cancelled``)."""
        tasks = [live.task for live in self._live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._keeping, return_exceptions=True)

    async def _run(self, live: _Live, work: Work) -> None:
        listen(lambda event, data: live.add(event, json.dumps(data)))  # this task and its children
        live.state = "running"
        try:
            finished = await work()
        except asyncio.CancelledError:
            self._cancelled(live)
        except Exception:  # a bug, not an answer: the run must still end, and say so
            log.exception("run_crashed", run=live.id[:8])
            live.state = "failed"
            live.add("error", json.dumps({"error": {"code": "internal_error", "message": "the run failed"}}))
        else:
            live.result = finished
            live.state = "succeeded" if finished.status == 200 else "failed"
            live.add("result" if finished.status == 200 else "error", finished.body.decode())
        finally:
            listen(None)
            # Shielded: a cancelled run still records that it was cancelled.
            await asyncio.shield(self._keep(live))

    def _if_never_started(self, live: _Live) -> None:
        """A task cancelled before its first step never runs its body: record the cancel here."""
        if live.state == "queued":
            self._cancelled(live)
            keeping = asyncio.ensure_future(self._keep(live))
            self._keeping.add(keeping)
            keeping.add_done_callback(self._keeping.discard)

    def _cancelled(self, live: _Live) -> None:
        live.state = "cancelled"
        live.add("cancelled", json.dumps({"id": live.id, "state": "cancelled"}))

    async def _keep(self, live: _Live) -> None:
        """Store the ended run, then drop it from memory (kept in a small LRU if not stored)."""
        await self._keep_or_hold(live)
        del self._live[live.id]
        if live.key is not None:
            self._keys.pop((live.owner, live.key), None)
        live.changed.set()

    async def _record_start(self, live: _Live) -> None:
        """A minimal record of the live run, so that after a crash it reads as interrupted."""
        if self.store is None:
            return
        envelope: dict[str, Any] = {
            "state": live.state,
            "body": None,
            "events": [],
            "pid": os.getpid(),
            "boot": BOOT,
        }
        record = StoredResult(live.owner, 0, json.dumps(envelope).encode(), time.time())
        try:
            await self.store.put(_storage(live.id), record, self.ttl_s)
        except StoreUnavailable as exc:
            log.warning("run_not_recorded", run=live.id[:8], error=str(exc))

    async def _interrupted(self, run_id: str, owner: str) -> RunView:
        """The run's process is gone: it ends failed, saying so, and is stored that way."""
        live = _Live(run_id, owner, None, state="failed")
        live.result = Finished(RunInterrupted.status_code, _interrupted_body(run_id))
        live.add("error", live.result.body.decode())
        if self.store is not None:
            await self._keep_ended(live)
        return live.view()

    async def _keep_or_hold(self, live: _Live) -> None:
        """Store the ended run, or hold it in a small LRU here when the store cannot keep it."""
        if not await self._keep_ended(live):
            _hold(self._unstored, live.id, (live.owner, live.view()), self.max_live)

    async def _keep_ended(self, live: _Live) -> bool:
        """Write the ended run to the store; whether it is there now."""
        if self.store is None:
            return False
        envelope = {
            "state": live.state,
            "body": live.result.body.decode() if live.result else None,
            "events": [[e.id, e.event, e.data] for e in live.events],
        }
        status = live.result.status if live.result else 0
        result = StoredResult(live.owner, status, json.dumps(envelope).encode(), time.time())
        try:
            await self.store.put(_storage(live.id), result, self.ttl_s)
            return await self.store.get(_storage(live.id)) is not None
        except StoreUnavailable as exc:
            log.warning("run_not_stored", run=live.id[:8], error=str(exc))
            return False

    async def _stored(self, run_id: str, owner: str) -> RunView | None:
        for held in (self._unstored, self._answered):
            if run_id in held:
                holder, view = held[run_id]
                return view if holder == owner else None
        if self.store is None:
            return None
        try:
            found = await self.store.get(_storage(run_id))
        except StoreUnavailable:
            return None
        if found is None or found.fingerprint != owner:
            return None
        envelope: dict[str, Any] = json.loads(found.body)
        if envelope["state"] not in DONE:
            return (
                await self._interrupted(run_id, owner) if _orphaned(envelope) else RunView(run_id, "running")
            )
        body = envelope["body"]
        result = Finished(found.status, body.encode(), created_at=found.created_at) if body else None
        events = tuple(RunEvent(i, name, data) for i, name, data in envelope["events"])
        return RunView(run_id, envelope["state"], result, events)


def _storage(run_id: str) -> str:
    """Where an ended run lives in the store (its owner is the entry's fingerprint)."""
    return f"run:{run_id}"


def _hold(
    held: OrderedDict[str, tuple[str, RunView]], run_id: str, entry: tuple[str, RunView], limit: int
) -> None:
    """Keep ``entry`` in an LRU of at most ``limit`` runs."""
    held[run_id] = entry
    while len(held) > limit:
        held.popitem(last=False)


def _orphaned(envelope: dict[str, Any]) -> bool:
    """Whether the process that recorded a live run is gone (this pid in a new incarnation, or
    no such pid: the SQLite file is one machine's, so its pids are ours to check)."""
    pid, boot = envelope.get("pid"), envelope.get("boot")
    if pid == os.getpid():
        return bool(boot != BOOT)
    try:
        os.kill(int(pid or 0), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return not pid


def _interrupted_body(run_id: str) -> bytes:
    error = ErrorBody(
        code=RunInterrupted.code,
        message=f"run {run_id!r} was interrupted: the process running it stopped before it ended",
        hint="send the request again (with the same Idempotency-Key, if it had one)",
        details={"run_id": run_id},
    )
    return ErrorResponse(error=error).model_dump_json().encode()


def run_not_found(run_id: str) -> RunNotFound:
    return RunNotFound(
        f"no run {run_id!r} for this caller",
        hint="use the Location a 202 from POST /phases/{name}/orchestrate (Prefer: respond-async) "
        "returned, with the same API key; a finished run is kept for IDEMPOTENCY_TTL_S",
        details={"run_id": run_id},
    )


def run_finished(run_id: str) -> RunFinished:
    return RunFinished(
        f"run {run_id!r} has already ended; there is nothing to cancel",
        hint=f"GET /runs/{run_id} for its result",
        details={"run_id": run_id},
    )
