"""``python -m app.worker``: a process that only answers queued runs (no HTTP), beside API replicas.

It builds what an API process builds (settings, providers, store, the run queue on REDIS_URL)
and works the queue with RUN_WORKER_CONCURRENCY runs at once, until SIGTERM or SIGINT: then the
runs in hand are put back on the queue for another worker and the process exits 0. A worker
killed without warning (SIGKILL, a lost machine) stops renewing its lease; another worker takes
its runs over RUN_LEASE_S later. Needs REDIS_URL: without it runs live in the API process.

``python -m app.worker --check`` is a health check: exit 0 when at least one worker has
registered on the run queue within the last minute (saq's worker info), 1 when none has.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from saq.queue.redis import RedisQueue
from saq.worker import async_check_health

from app.api.run_engine import QUEUE_NAME
from app.errors import ConfigError
from app.main import create_app
from app.settings import Settings

log = structlog.get_logger("worker")


async def work(app: FastAPI, stop: asyncio.Event) -> None:
    """Run ``app``'s lifespan (which works the queue) until ``stop`` is set."""
    async with app.router.lifespan_context(app):
        log.info("worker_ready", concurrency=app.state.services.settings.run_worker_concurrency)
        await stop.wait()
        log.info("worker_stopping", hint="runs in hand go back on the queue")


async def serve(settings: Settings) -> None:
    """Work the queue with these settings until SIGTERM or SIGINT."""
    if settings.redis_url is None:
        raise ConfigError(
            "python -m app.worker needs REDIS_URL: the runs it answers are queued on Redis",
            hint="set REDIS_URL=redis://host:6379/0, the same as the API replicas'",
        )
    app = create_app(settings.model_copy(update={"run_workers_in_process": True}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await work(app, stop)


async def check(settings: Settings) -> int:
    """0 when a worker is registered on the run queue, else 1 (saq's own health check)."""
    if settings.redis_url is None:
        raise ConfigError("python -m app.worker --check needs REDIS_URL", hint="set it as for the workers")
    queue = RedisQueue(Redis.from_url(settings.redis_url.get_secret_value()), name=QUEUE_NAME)
    return await async_check_health(queue)


def main(argv: list[str] | None = None) -> int:
    checking = "--check" in (sys.argv[1:] if argv is None else argv)
    try:
        if checking:
            return asyncio.run(check(Settings()))
        asyncio.run(serve(Settings()))
    except ConfigError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
