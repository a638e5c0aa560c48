"""Which run engine a process uses, and the in-process worker's lifetime.

No REDIS_URL: ``Runs``, in-process, its records in the store (SQLite by default). REDIS_URL:
``QueuedRuns`` on saq; the API process also works the queue unless RUN_WORKERS_IN_PROCESS=false,
and ``python -m app.worker`` processes add workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from saq.queue.redis import RedisQueue

from app.api.deps import Services
from app.api.queued_runs import WAIT_MS, QueuedRuns
from app.api.run_worker import worker_for
from app.api.runs import RunEngine, Runs
from app.jobs.board import Board
from app.settings import Settings
from app.store.base import ResultStore

QUEUE_NAME = "orchestrator-runs"
RUNS_CLIENT = "orchestrator-runs"
"""The Redis client name of the run queue's connections."""


async def run_engine(settings: Settings, store: ResultStore | None) -> RunEngine:
    """The engine for these settings, connected; its owner closes it."""
    if settings.redis_url is None:
        return Runs(store, max_live=settings.max_live_runs, ttl_s=settings.idempotency_ttl_s)
    url = settings.redis_url.get_secret_value()
    # Reads block up to WAIT_MS for new events: the socket timeout must outlast them. Named, so an
    # operator (CLIENT LIST) tells the run queue's connections from the store's and the limiter's.
    redis = Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=WAIT_MS / 1000 + 5, client_name=RUNS_CLIENT
    )
    queue = RedisQueue(Redis.from_url(url, client_name=RUNS_CLIENT), name=QUEUE_NAME)
    await queue.connect()
    board = Board(redis, ttl_s=settings.idempotency_ttl_s)
    return QueuedRuns(board, queue, lease_s=settings.run_lease_s, attempts=settings.run_attempts)


@asynccontextmanager
async def working(services: Services) -> AsyncIterator[None]:
    """This process works the run queue while the context lasts (when queued and asked to)."""
    runs, settings = services.runs, services.settings
    if not isinstance(runs, QueuedRuns) or not settings.run_workers_in_process:
        yield
        return
    worker = worker_for(services, runs, concurrency=settings.run_worker_concurrency)
    running = asyncio.create_task(worker.start(), name="run-worker")
    try:
        yield
    finally:
        # Runs in hand are cancelled; saq puts each back on the queue for another worker.
        await worker.stop()
        await asyncio.gather(running, return_exceptions=True)
