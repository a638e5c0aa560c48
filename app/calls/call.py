"""One model call as every strategy makes it: announced, guarded, and re-asked once when cut off.

An answer that stopped at its token limit, or a model that stopped while still reasoning, has not
answered: it is never passed on as if complete (json-repair would happily close its brackets and
the dropped fields would vanish without a trace). It becomes a ``Failure`` whose kind says so,
with the tokens it cost, and the phase goes on as for any failed model.
"""

from __future__ import annotations

import dataclasses

import structlog

from app.calls.guarded import Call, call_once
from app.calls.truncation import incomplete, larger_budget, merged_failure, merged_success, unusable
from app.deadline import Deadline
from app.domain import CallInfo, Outcome, Success, Usage
from app.progress import emit, listening, token_progress

log = structlog.get_logger("fanout")


async def call_model(call: Call, *, deadline: Deadline) -> Outcome:
    """Run one call to completion, its retries included; a failure comes back as a ``Failure``."""
    ref = call.member.ref
    info = CallInfo(call.phase, call.role, ref.alias)
    # Someone watches: an adapter that can stream tells them the tokens as they are decoded.
    counted = token_progress(model=ref.alias, role=call.role) if listening() else None
    call = dataclasses.replace(call, request=dataclasses.replace(call.request, call=info, on_tokens=counted))
    emit("model_started", model=ref.alias, provider=ref.provider, role=call.role)
    outcome = await _whole_answer(call, deadline=deadline)
    usage = _usage(outcome)
    emit(
        "model_finished",
        model=ref.alias,
        provider=ref.provider,
        role=call.role,
        status=outcome.status,
        latency_ms=round(outcome.latency_ms),
        tokens_in=usage.input_tokens,
        tokens_out=usage.output_tokens,
        attempts=outcome.attempts,
        error=None if isinstance(outcome, Success) else outcome.error,
    )
    return outcome


def _usage(outcome: Outcome) -> Usage:
    return outcome.completion.usage if isinstance(outcome, Success) else outcome.usage


async def _whole_answer(call: Call, *, deadline: Deadline) -> Outcome:
    """One call, and one re-ask with a larger budget when its answer was cut off at max_tokens."""
    outcome = await call_once(call, deadline=deadline)
    if not isinstance(outcome, Success) or (why := unusable(call, outcome.completion)) is None:
        return outcome
    larger = larger_budget(call, outcome.completion)
    # A re-ask decodes up to `larger` tokens: estimate its time from the cut-off call's pace.
    needed_s = outcome.latency_ms / 1000 * (larger or 0) / call.request.max_tokens
    if why.kind != "truncated" or larger is None or not deadline.fits(needed_s):
        no_time = why.kind == "truncated" and larger is not None
        note = "; no time left to re-ask with a larger budget" if no_time else ""
        return incomplete(call, outcome, [outcome], why.message + note)
    log.info("reasking_truncated", model=call.member.ref.alias, max_tokens=larger)
    bigger = dataclasses.replace(call, request=dataclasses.replace(call.request, max_tokens=larger))
    again = await call_once(bigger, deadline=deadline)
    if not isinstance(again, Success):
        return merged_failure(outcome, again, larger, why.message)
    if unusable(bigger, again.completion) is None:
        return merged_success(outcome, again)
    message = f"{why.message}; re-asked with max_tokens={larger} and cut off again"
    return incomplete(call, again, [outcome, again], message)
