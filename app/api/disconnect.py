"""Stop waiting when the caller hangs up, so no upstream call keeps running for nobody.

A plain (non-streaming) endpoint is not cancelled by the server when the client disconnects; the
ASGI ``http.disconnect`` message is the only sign. Once the body has been read, the next
``receive()`` returns that message when the client leaves (or when the response is complete), so
one watcher task per request is enough.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request

from app.errors import ClientDisconnected

T = TypeVar("T")


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T], *, keyed: bool = False) -> T:
    """``await work``, cancelling it if the client goes away. Cancelling it stops this caller's
    wait; the run itself stops unless it is ``keyed`` (an Idempotency-Key's run goes on and is
    stored) or another caller still waits on it (see app/store/replay.py)."""
    task = asyncio.create_task(work)
    watcher = asyncio.create_task(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        # Shielded: if this handler is cancelled again, the run still finishes closing its calls.
        await asyncio.shield(asyncio.gather(watcher, task, return_exceptions=True))
    if task.cancelled():
        raise ClientDisconnected(
            "the client closed the connection; the run goes on under its Idempotency-Key"
            if keyed
            else "the client closed the connection; the phase and its upstream calls were cancelled"
        )
    return task.result()
