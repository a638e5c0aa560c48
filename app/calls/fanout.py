"""Calls several models at once, each under its own timeout, all under one deadline.

Returns one ``Outcome`` per call and never raises for a model's failure: a slow or broken model is
recorded, and its siblings carry on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from app.calls.call import call_model
from app.calls.guarded import Call
from app.deadline import Deadline
from app.domain import Failure, Outcome, Success


@dataclass(frozen=True, slots=True)
class Quorum:
    """Proceed once ``needed`` calls succeeded, waiting at most ``grace_s`` more for the rest."""

    needed: int
    grace_s: float


async def fan_out(
    calls: Sequence[Call], *, deadline: Deadline, quorum: Quorum | None = None
) -> list[Outcome]:
    """Run every call concurrently; the outcomes come back in the order of ``calls``.

    With a quorum, once ``quorum.needed`` calls have succeeded the rest get ``quorum.grace_s``
    more; whatever is still running then is cancelled and recorded as ``late``.
    """
    if not calls:
        return []
    tasks = [asyncio.create_task(call_model(c, deadline=deadline)) for c in calls]
    try:
        if quorum is None or quorum.needed >= len(calls):
            await asyncio.wait(tasks)
        else:
            await _until_quorum(tasks, quorum, deadline)
    finally:
        # Late members, or all of them when the deadline or a client disconnect cancelled us:
        # cancel and wait, so no upstream request outlives the phase.
        unfinished = [task for task in tasks if not task.done()]
        for task in unfinished:
            task.cancel()
        if unfinished:
            # Shielded: a second cancellation of this phase must not re-cancel the calls while
            # they close their connections (the transport would abandon the socket half-closed).
            await asyncio.shield(asyncio.gather(*unfinished, return_exceptions=True))
    return [_result(task, call, quorum, started=deadline) for task, call in zip(tasks, calls, strict=True)]


async def _until_quorum(tasks: list[asyncio.Task[Outcome]], quorum: Quorum, deadline: Deadline) -> None:
    pending = set(tasks)
    successes = 0
    while pending and successes < quorum.needed:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        successes += sum(isinstance(t.result(), Success) for t in done)
    if pending:
        await asyncio.wait(pending, timeout=deadline.within(quorum.grace_s))


def _result(task: asyncio.Task[Outcome], call: Call, quorum: Quorum | None, *, started: Deadline) -> Outcome:
    if not task.cancelled():
        return task.result()
    grace = f"{quorum.grace_s:g}s" if quorum else "its"
    return Failure(
        call.member.ref,
        call.role,
        "late",
        f"still running when the quorum's {grace} grace ended; cancelled "
        f"after {started.elapsed_ms() / 1000:.1f}s",
        latency_ms=started.elapsed_ms(),
        error_kind="late",
        attempts=1,
    )
