"""Hedging: ask a primary, and a backup too when the primary is slow; keep the first good result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from app.deadline import Deadline

Racer = TypeVar("Racer")
Result = TypeVar("Result")


async def hedged(
    ask: Callable[[Racer], Coroutine[Any, Any, Result]],
    primary: Racer,
    backup: Racer,
    *,
    after_s: float,
    deadline: Deadline,
    good: Callable[[Result], bool],
) -> tuple[list[Result], list[Racer]]:
    """Ask ``primary``; if it has not answered within ``after_s``, ask ``backup`` too and stop at
    the first ``good`` result. Returns the finished results in finishing order and the racers
    cancelled unfinished, so no call outlives the race."""
    first = asyncio.create_task(ask(primary))
    done, _ = await asyncio.wait({first}, timeout=deadline.within(after_s))
    if done:
        return [first.result()], []
    racers = {first: primary, asyncio.create_task(ask(backup)): backup}
    pending = set(racers)
    finished: list[Result] = []
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finished.extend(task.result() for task in done)
            if any(good(result) for result in finished):
                break
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    return finished, [racers[task] for task in pending]
