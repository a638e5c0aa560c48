"""``Accept: text/event-stream``: the same run, narrated as server-sent events.

Events: ``phase_started`` (the first, before any model call: plan, deadline, the local model's
estimate), ``model_started``, ``model_tokens`` (local-model calls, streamed from llama.cpp: the
tokens decoded so far), ``model_finished`` (status, latency, tokens), ``synthesis_started``, then
``result`` (the JSON endpoint's body) or ``error`` (the error shape). sse-starlette
does the protocol (framing, keep-alive pings, disconnect detection); when the client goes away
it cancels this generator, which cancels the run and with it every upstream call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse

from app.api.errors import service_error_response
from app.errors import OrchestratorError
from app.progress import listen
from app.store.replay import Finished

Answer = Callable[[], Awaitable[tuple[Finished, dict[str, str]]]]
PING_S = 10


def stream(request: Request, answer: Answer) -> EventSourceResponse:
    runs: list[asyncio.Task[Any]] = []

    async def on_close(_: object) -> None:
        # The generator may be parked at a ``yield`` when the client leaves, and then its
        # ``finally`` waits for garbage collection; cancel the run here, at once.
        for task in runs:
            task.cancel()

    return EventSourceResponse(
        _events(request, answer, runs), ping=PING_S, client_close_handler_callable=on_close
    )


async def _events(
    request: Request, answer: Answer, runs: list[asyncio.Task[Any]]
) -> AsyncIterator[dict[str, str]]:
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def run() -> tuple[Finished, dict[str, str]]:
        listen(lambda event, data: queue.put_nowait((event, data)))  # this task and its children
        return await answer()

    task = asyncio.create_task(run())
    runs.append(task)
    getter: asyncio.Future[tuple[str, dict[str, Any]]] | None = None
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            event, data = getter.result()
            yield {"event": event, "data": json.dumps(data)}
        while not queue.empty():
            event, data = queue.get_nowait()
            yield {"event": event, "data": json.dumps(data)}
        try:
            finished, _ = task.result()
        except OrchestratorError as exc:
            failed = service_error_response(request, exc)
            yield {"event": "error", "data": bytes(failed.body).decode()}
            return
        yield {"event": "result" if finished.status == 200 else "error", "data": finished.body.decode()}
    finally:
        if getter is not None and not getter.done():
            getter.cancel()
        if not task.done():
            if not task.cancelling():  # cancel once: a second cancel interrupts its cleanup
                task.cancel()
            await asyncio.shield(asyncio.gather(task, return_exceptions=True))
