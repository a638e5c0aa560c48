"""The saq worker that answers queued runs, in an API process or in ``python -m app.worker``.

One take of a run: skip it if it already ended (cancelled, or answered by an earlier take),
mark it running under this process's name, renew the lease while it runs, relay its progress
events to the board in order, then store its one result (``SET NX``: a late duplicate loses).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from saq import Job, Worker
from saq.types import Context

from app.api.deps import Services
from app.api.queued_runs import RUN_JOB, QueuedRuns
from app.api.run_work import answer_order
from app.api.runs import RunOrder
from app.jobs.board import Board, Ending
from app.progress import listen

log = structlog.get_logger("runs")
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
"""Which process has a run, on the board (``worker``)."""


def worker_for(services: Services, runs: QueuedRuns, *, concurrency: int) -> Worker[Context]:
    """A saq worker on the runs' queue that answers them with ``services``."""

    async def run_phase(ctx: Context, *, order: dict[str, Any]) -> None:
        await take(services, runs.board, ctx["job"], RunOrder(**order), lease_s=runs.lease_s)

    # The sweep hands a lapsed lease to another worker: checking a few times per lease keeps
    # the take-over near RUN_LEASE_S after the last renewal.
    sweep_s = max(1, runs.lease_s // 3)
    worker: Worker[Context] = Worker(
        runs.queue,
        functions=[(RUN_JOB, run_phase)],
        concurrency=concurrency,
        timers={"sweep": sweep_s, "abort": 1},  # type: ignore[arg-type]
    )
    worker.SIGNALS = []  # the process's owner (uvicorn, app.worker) handles signals, not saq
    return worker


async def take(services: Services, board: Board, job: Job, order: RunOrder, *, lease_s: int) -> None:
    """One worker's take of a run (see the module docstring)."""
    if await board.ending(order.run_id) is not None:
        return
    await board.running(order.run_id, WORKER_NAME)
    log.info("run_taken", run=order.run_id[:8], attempt=job.attempts, worker=WORKER_NAME)
    async with _leased(job, lease_s), _relayed(board, order.run_id):
        finished = await answer_order(services, order)
    ok = finished.status == 200
    ending = Ending("succeeded" if ok else "failed", finished.status, finished.body)
    if not await board.end(order.run_id, ending, "result" if ok else "error", finished.body.decode()):
        log.info("run_answered_twice", run=order.run_id[:8], kept="the first answer")


@asynccontextmanager
async def _leased(job: Job, lease_s: int) -> AsyncIterator[None]:
    """Renew the job's heartbeat a few times per lease while the body runs."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            await job.update()

    renewing = asyncio.create_task(renew(), name="run-lease")
    try:
        yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)


@asynccontextmanager
async def _relayed(board: Board, run_id: str) -> AsyncIterator[None]:
    """Progress events (emitted synchronously, anywhere below) written to the board in order."""
    pending: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

    async def write() -> None:
        while (item := await pending.get()) is not None:
            await board.add(run_id, *item)

    writer = asyncio.create_task(write(), name="run-events")
    listen(lambda event, data: pending.put_nowait((event, json.dumps(data))))
    try:
        yield
    finally:
        listen(None)
        pending.put_nowait(None)
        await asyncio.gather(writer, return_exceptions=True)
