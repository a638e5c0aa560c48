"""Runs queued on Redis through saq: any replica starts, reads, streams and cancels any run.

A run is a saq job keyed by the run id, whose arguments are the run's order (``RunOrder``); a
worker (in an API process, or ``python -m app.worker``) answers it. The job's heartbeat is the
worker's lease: a worker renews it while the run goes on, and saq's sweep hands a run whose worker
stopped renewing (killed, frozen) to another worker, up to RUN_ATTEMPTS takes. What callers see
(state, events, the one result) lives on the ``Board``, so it does not depend on which worker ran.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import NoReturn

import structlog
from redis.exceptions import RedisError
from saq import Job
from saq.queue.redis import RedisQueue

from app.api.runs import DONE, RunEvent, RunOrder, RunState, RunView, Work, run_finished, run_not_found
from app.errors import RunsUnavailable
from app.jobs.board import ENDINGS, Board, Ending
from app.store.replay import Finished

log = structlog.get_logger("runs")
RUN_JOB = "run_phase"
"""The saq function name of a run."""
WAIT_MS = 5000
"""How long one read of a run's events blocks before checking whether it ended another way."""
RUN_TIMEOUT_S = 3600
"""saq's cap on one take of a run; the phase's own deadline ends it long before."""


class QueuedRuns:
    """The distributed run engine (see the module docstring); the same methods as ``Runs``."""

    def __init__(self, board: Board, queue: RedisQueue, *, lease_s: int, attempts: int) -> None:
        self.board = board
        self.queue = queue
        self.lease_s = lease_s
        self.attempts = attempts

    async def start(self, order: RunOrder, work: Work, *, key: str | None = None) -> RunView:
        """Queue the order (``work`` is the in-process engine's; a worker rebuilds it from the order)."""
        try:
            if key is not None and (same := await self._same(order, key)) is not None:
                return same
            await self.board.open(order.run_id, order.owner)
            job = Job(
                RUN_JOB,
                kwargs={"order": order.as_kwargs()},
                key=order.run_id,
                timeout=RUN_TIMEOUT_S,
                heartbeat=self.lease_s,
                retries=self.attempts,
                ttl=600,
            )
            await self.queue.enqueue(job)
        except RedisError as exc:
            _unavailable(exc)
        return RunView(order.run_id, "queued")

    async def _same(self, order: RunOrder, key: str) -> RunView | None:
        """The owner's run still going under ``key``, if any; else ``key`` now names this run."""
        slot = f"{order.owner}:{key}"
        holder = await self.board.claim(slot, order.run_id)
        if holder == order.run_id:
            return None
        record = await self.board.record(holder)
        if record is not None and record.state not in DONE and await self.board.ending(holder) is None:
            return RunView(holder, _state(record.state))
        await self.board.release(slot)
        await self.board.claim(slot, order.run_id)
        return None

    async def view(self, run_id: str, owner: str) -> RunView:
        try:
            record = await self.board.record(run_id)
            if record is None or record.owner != owner:
                raise run_not_found(run_id)
            ending = await self.board.ending(run_id)
        except RedisError as exc:
            _unavailable(exc)
        if ending is None:
            return RunView(run_id, _state(record.state))
        result = Finished(ending.status, ending.body) if ending.body is not None else None
        return RunView(run_id, _state(ending.state), result)

    async def record(self, order: RunOrder, finished: Finished) -> None:
        ok = finished.status == 200
        ending = Ending("succeeded" if ok else "failed", finished.status, finished.body)
        try:
            await self.board.open(order.run_id, order.owner)
            await self.board.end(order.run_id, ending, "result" if ok else "error", finished.body.decode())
        except RedisError as exc:  # the caller has the answer; only GET /runs/{id} will miss it
            log.warning("run_not_recorded", run=order.run_id[:8], error=type(exc).__name__)

    async def cancel(self, run_id: str, owner: str) -> RunView:
        """The cancel is the run's one result (unless it already has one: 409); the worker is told."""
        await self.view(run_id, owner)
        cancelled = json.dumps({"id": run_id, "state": "cancelled"})
        try:
            if not await self.board.end(run_id, Ending("cancelled", 0, None), "cancelled", cancelled):
                raise run_finished(run_id)
            job = await self.queue.job(run_id)
            if job is not None:
                await self.queue.abort(job, error="cancelled")
        except RedisError as exc:
            _unavailable(exc)
        return RunView(run_id, "cancelled")

    async def events(self, run_id: str, owner: str, after: int) -> AsyncIterator[RunEvent]:
        """The run's events above ``after``, from the board, as any worker writes them, to its end."""
        await self.view(run_id, owner)
        while True:
            batch = await self.board.events(run_id, after, wait_ms=WAIT_MS)
            for event_id, event, data in batch:
                after = event_id
                yield RunEvent(event_id, event, data)
                if event in ENDINGS:
                    return
            if not batch and await self.board.ending(run_id) is not None:
                for event_id, event, data in await self.board.events(run_id, after):
                    yield RunEvent(event_id, event, data)
                return

    async def close(self) -> None:
        """Close both Redis clients; a Redis that is already gone must not fail the shutdown."""
        try:
            await self.queue.disconnect()  # unsubscribes first: a round trip to Redis
        except (RedisError, OSError) as exc:
            log.warning("run_queue_not_closed_cleanly", error=type(exc).__name__)
            await self.queue.redis.aclose()
        await self.board.close()


def _state(raw: str) -> RunState:
    states: dict[str, RunState] = {s: s for s in ("queued", "running", "succeeded", "failed", "cancelled")}
    return states.get(raw, "running")


def _unavailable(exc: RedisError) -> NoReturn:
    raise RunsUnavailable(
        f"the run queue (Redis) did not answer: {type(exc).__name__}",
        hint=f"retry after {RunsUnavailable.retry_after_s} s; check REDIS_URL and the Redis server",
    ) from exc
