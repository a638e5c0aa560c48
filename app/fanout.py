"""Calls several models at once, each under its own timeout, all under the phase deadline.

Returns one ``Outcome`` per call and never raises for a model's failure: a slow or broken model is
recorded, and its siblings carry on. Each call goes through its member's guard: the circuit
breaker first (an open circuit is a ``skipped`` record, no call), then retries with backoff, each
attempt holding one of the provider's concurrency slots and bounded by the wall clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from app.deadline import Deadline
from app.domain import CallInfo, Completion, CompletionRequest, Failure, Outcome, Role, Success, Usage
from app.progress import emit
from app.providers.errors import (
    AnswerTruncated,
    ContextOverflow,
    ProviderError,
    ProviderTimeout,
    UnfinishedReasoning,
)
from app.resilience.retry import with_retries
from app.roster import Member

log = structlog.get_logger("fanout")

# Statuses the caller caused, or that say nothing about the model's health: they neither open
# nor close a circuit.
_NEUTRAL_KINDS = frozenset({"bad_request", "content_rejected"})


@dataclass(frozen=True, slots=True)
class Call:
    """One planned model call."""

    member: Member
    request: CompletionRequest
    role: Role
    phase: str


@dataclass(frozen=True, slots=True)
class Quorum:
    """Proceed once ``needed`` calls succeeded, waiting at most ``grace_s`` more for the rest."""

    needed: int
    grace_s: float


def cost_usd(member: Member, usage: Usage) -> float:
    """What ``usage`` costs at the model's configured price."""
    price = member.spec.price
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000


async def call_model(call: Call, *, deadline: Deadline) -> Outcome:
    """Run one call to completion, its retries included; a failure comes back as a ``Failure``."""
    ref = call.member.ref
    info = CallInfo(call.phase, call.role, ref.alias)
    call = dataclasses.replace(call, request=dataclasses.replace(call.request, call=info))
    emit("model_started", model=ref.alias, provider=ref.provider, role=call.role)
    outcome = await _call_model(call, deadline=deadline)
    emit(
        "model_finished",
        model=ref.alias,
        provider=ref.provider,
        role=call.role,
        status=outcome.status,
        latency_ms=round(outcome.latency_ms),
        tokens_in=_usage(outcome).input_tokens,
        tokens_out=_usage(outcome).output_tokens,
        attempts=outcome.attempts,
        error=None if isinstance(outcome, Success) else outcome.error,
    )
    return outcome


def _usage(outcome: Outcome) -> Usage:
    return outcome.completion.usage if isinstance(outcome, Success) else outcome.usage


async def _call_model(call: Call, *, deadline: Deadline) -> Outcome:
    """One call, and one re-ask with a larger budget when its answer was cut off at max_tokens.

    An answer that stopped at its token limit, or a model that stopped while still reasoning, has
    not answered: it is never passed on as if complete (json-repair would happily close its
    brackets and the dropped fields would vanish without a trace). It becomes a ``Failure`` whose
    kind says so, with the tokens it cost, and the phase goes on as for any failed model.
    """
    outcome = await _call_once(call, deadline=deadline)
    if not isinstance(outcome, Success) or (unusable := _unusable(call, outcome.completion)) is None:
        return outcome
    larger = _larger_budget(call, outcome.completion)
    # A re-ask decodes up to `larger` tokens: estimate its time from the cut-off call's pace.
    needed_s = outcome.latency_ms / 1000 * (larger or 0) / call.request.max_tokens
    if unusable.kind != "truncated" or larger is None or needed_s >= deadline.remaining():
        no_time = unusable.kind == "truncated" and larger is not None
        note = "; no time left to re-ask with a larger budget" if no_time else ""
        return _incomplete(call, outcome, [outcome], unusable.message + note)
    log.info("reasking_truncated", model=call.member.ref.alias, max_tokens=larger)
    bigger = dataclasses.replace(call, request=dataclasses.replace(call.request, max_tokens=larger))
    again = await _call_once(bigger, deadline=deadline)
    if isinstance(again, Success) and _unusable(bigger, again.completion) is None:
        return _merged_success(outcome, again)
    if isinstance(again, Success):
        return _incomplete(
            call,
            again,
            [outcome, again],
            f"{unusable.message}; re-asked with max_tokens={larger} and cut off again",
        )
    return dataclasses.replace(
        again,
        usage=again.usage + outcome.completion.usage,
        cost_usd=again.cost_usd + outcome.cost_usd,
        attempts=again.attempts + outcome.attempts,
        latency_ms=outcome.latency_ms + again.latency_ms,
        error=f"{again.error} (re-asked with max_tokens={larger} after: {unusable.message})",
    )


def _unusable(call: Call, completion: Completion) -> ProviderError | None:
    """Why a completion that arrived is not an answer, or ``None`` when it is one."""
    provider = call.member.ref.provider
    if completion.truncated:
        where = "while still reasoning" if completion.reasoning_unfinished else "in its answer"
        return AnswerTruncated(
            f"cut off at its max_tokens={call.request.max_tokens} limit {where}", provider=provider
        )
    if completion.reasoning_unfinished and not completion.text:
        return UnfinishedReasoning(
            "stopped while still reasoning: its reasoning never closed and no answer followed",
            provider=provider,
        )
    return None


def _larger_budget(call: Call, completion: Completion) -> int | None:
    """Twice the budget, within what the model's context window leaves; ``None`` if no larger fits."""
    larger = call.request.max_tokens * 2
    window = call.member.spec.context_window
    if window is not None:
        larger = min(larger, window - completion.usage.input_tokens)
    return larger if larger > call.request.max_tokens else None


def _incomplete(call: Call, last: Success, spent: list[Success], message: str) -> Failure:
    """The failure record of an answer that never came whole, carrying every token it cost."""
    kind = "truncated" if last.completion.truncated else "unfinished_reasoning"
    usage = sum((s.completion.usage for s in spent), Usage())
    error = AnswerTruncated if kind == "truncated" else UnfinishedReasoning
    return Failure(
        last.model,
        call.role,
        "error",
        str(error(message, provider=last.model.provider)),
        latency_ms=sum(s.latency_ms for s in spent),
        error_kind=kind,
        usage=usage,
        cost_usd=sum(s.cost_usd for s in spent),
        attempts=sum(s.attempts for s in spent),
    )


def _merged_success(first: Success, again: Success) -> Success:
    """The re-ask's answer, billed for both calls."""
    completion = dataclasses.replace(again.completion, usage=first.completion.usage + again.completion.usage)
    return dataclasses.replace(
        again,
        completion=completion,
        cost_usd=first.cost_usd + again.cost_usd,
        attempts=first.attempts + again.attempts,
        latency_ms=first.latency_ms + again.latency_ms,
    )


async def _call_once(call: Call, *, deadline: Deadline) -> Outcome:
    member, ref, guard = call.member, call.member.ref, call.member.guard
    if not member.usable:
        missing = ", ".join(member.provider.missing_settings)
        return Failure(
            ref,
            call.role,
            "skipped",
            f"{ref.provider} is not configured (set {missing})",
            error_kind="unavailable",
        )
    if call.request.overflow is not None:  # request_for found no prompt that fits the model's window
        overflow = ContextOverflow(call.request.overflow, provider=ref.provider)
        return Failure(ref, call.role, "skipped", str(overflow), error_kind=overflow.kind)
    if deadline.expired:
        return Failure(ref, call.role, "skipped", "phase deadline already reached", error_kind="deadline")
    if not guard.breaker.allow():
        return Failure(
            ref,
            call.role,
            "skipped",
            f"circuit open for {ref.provider}/{ref.model_id} {guard.breaker.why_open()}; "
            f"next probe in {guard.breaker.retry_in_s():.0f}s",
            error_kind="circuit_open",
        )
    started = time.monotonic()
    bound = log.bind(model=ref.alias, provider=ref.provider, role=call.role)

    async def attempt(number: int) -> Completion:
        budget = min(call.request.timeout_s, deadline.remaining())
        began = time.monotonic()
        try:
            # Wall-clock bound as well as httpx's read timeout: keep-alive bytes (DeepSeek under
            # load) reset read timers, so only this guarantees the model's timeout. Waiting for a
            # concurrency slot counts against it too.
            async with asyncio.timeout(budget):
                async with guard.limiter:
                    completion = await member.provider.complete(call.request)
        except TimeoutError:
            reason = deadline.name if budget < call.request.timeout_s else "model timeout"
            error: ProviderError = ProviderTimeout(
                f"no answer within {budget:.1f}s ({reason})", provider=ref.provider
            )
            _record_failure(member, error)
            raise error from None
        except ProviderError as exc:
            _record_failure(member, exc)
            bound.warning(
                "attempt_failed", attempt=number, kind=exc.kind, error=str(exc), latency_ms=_ms_since(began)
            )
            raise
        guard.breaker.success()
        guard.health.record(ok=True)
        bound.info("attempt_ok", attempt=number, latency_ms=round(_ms_since(began)))
        return completion

    def before_retry(number: int, error: ProviderError, sleep_s: float) -> None:
        bound.info("retrying", attempt=number + 1, after_s=round(sleep_s, 3), kind=error.kind)

    try:
        completion, attempts = await with_retries(
            attempt, policy=guard.policy, deadline=deadline, before_retry=before_retry
        )
    except ProviderError as exc:
        latency = _ms_since(started)
        status: Literal["timeout", "error"] = "timeout" if exc.kind == "timeout" else "error"
        retried = f" (after {exc.attempts} attempts)" if exc.attempts > 1 else ""
        bound.warning("model_failed", latency_ms=round(latency), kind=exc.kind, attempts=exc.attempts)
        return Failure(
            ref,
            call.role,
            status,
            f"{exc}{retried}",
            latency_ms=latency,
            error_kind=exc.kind,
            attempts=exc.attempts,
        )
    except Exception as exc:  # an adapter bug must not take the siblings down with it
        guard.breaker.release()
        latency = _ms_since(started)
        bound.exception("model_crashed", latency_ms=round(latency))
        return Failure(
            ref,
            call.role,
            "error",
            f"{ref.provider}: internal error: {type(exc).__name__}",
            latency_ms=latency,
            error_kind="internal",
            attempts=1,
        )
    except BaseException:  # cancelled (quorum, hedging, deadline, client gone): no verdict on health
        guard.breaker.release()
        raise
    latency = _ms_since(started)
    cost = cost_usd(member, completion.usage)
    bound.info(
        "model_finished",
        latency_ms=round(latency),
        attempts=attempts,
        tokens_in=completion.usage.input_tokens,
        tokens_out=completion.usage.output_tokens,
        finish=completion.finish_reason,
    )
    return Success(ref, call.role, completion, latency, cost, attempts=attempts)


def _record_failure(member: Member, error: ProviderError) -> None:
    guard = member.guard
    guard.health.record(ok=False, kind=error.kind, error=str(error))
    if error.kind in _NEUTRAL_KINDS:
        guard.breaker.release()
    elif error.kind == "model_unavailable":  # retired or unknown: no retry can bring it back
        guard.breaker.trip(str(error))
    else:
        guard.breaker.failure()


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
            # they close their connections (httpx would abandon the socket half-closed).
            await asyncio.shield(asyncio.gather(*unfinished, return_exceptions=True))
    return [_result(task, call, quorum, started=deadline) for task, call in zip(tasks, calls, strict=True)]


async def _until_quorum(tasks: list[asyncio.Task[Outcome]], quorum: Quorum, deadline: Deadline) -> None:
    pending = set(tasks)
    successes = 0
    while pending and successes < quorum.needed:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        successes += sum(isinstance(t.result(), Success) for t in done)
    if pending:
        await asyncio.wait(pending, timeout=min(quorum.grace_s, deadline.remaining()))


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


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
