"""One guarded call: skipped when it cannot run, else the circuit breaker, retries and the wall clock.

Each attempt holds one of the provider's concurrency slots and is bounded by the model's timeout
cut short by the deadline (``Deadline.within``), measured on the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from app.deadline import Deadline
from app.domain import Completion, CompletionRequest, Failure, Outcome, Role, Success, Usage
from app.local_pace import Paced
from app.providers.errors import ContextOverflow, ProviderError, ProviderTimeout
from app.resilience.retry import with_retries
from app.roster import Member

log = structlog.get_logger("fanout")

# Statuses the caller caused, or that say nothing about the model's health: they neither open
# nor close a circuit.
_NEUTRAL_KINDS = frozenset({"bad_request", "content_rejected", "call_budget_exhausted"})


@dataclass(frozen=True, slots=True)
class Call:
    """One planned model call."""

    member: Member
    request: CompletionRequest
    role: Role
    phase: str


def cost_usd(member: Member, usage: Usage) -> float:
    """What ``usage`` costs at the model's configured price."""
    price = member.spec.price
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000


async def call_once(call: Call, *, deadline: Deadline) -> Outcome:
    """Run ``call`` with its retries; a failure, or a reason not to call at all, is a ``Failure``."""
    if (skipped := _skipped(call, deadline)) is not None:
        return skipped
    member, ref = call.member, call.member.ref
    started = time.monotonic()
    bound = log.bind(model=ref.alias, provider=ref.provider, role=call.role)

    def before_retry(number: int, error: ProviderError, sleep_s: float) -> None:
        bound.info("retrying", attempt=number + 1, after_s=round(sleep_s, 3), kind=error.kind)

    try:
        completion, attempts = await with_retries(
            _attempt(call, deadline, bound),
            policy=member.guard.policy,
            deadline=deadline,
            before_retry=before_retry,
        )
    except ProviderError as exc:
        return _failed(call, exc, _ms_since(started), bound)
    except Exception as exc:  # an adapter bug must not take the siblings down with it
        member.guard.breaker.release()
        latency = _ms_since(started)
        bound.exception("model_crashed", latency_ms=round(latency))
        error = f"{ref.provider}: internal error: {type(exc).__name__}"
        return Failure(ref, call.role, "error", error, latency_ms=latency, error_kind="internal", attempts=1)
    except BaseException:  # cancelled (quorum, hedging, deadline, client gone): no verdict on health
        member.guard.breaker.release()
        raise
    latency = _ms_since(started)
    bound.info(
        "model_finished",
        latency_ms=round(latency),
        attempts=attempts,
        tokens_in=completion.usage.input_tokens,
        tokens_out=completion.usage.output_tokens,
        finish=completion.finish_reason,
    )
    return Success(ref, call.role, completion, latency, cost_usd(member, completion.usage), attempts=attempts)


def _skipped(call: Call, deadline: Deadline) -> Failure | None:
    """The record of a call that is not made: unconfigured, too long, out of time or circuit open."""
    member, ref, breaker = call.member, call.member.ref, call.member.guard.breaker
    if not member.usable:
        missing = ", ".join(member.provider.missing_settings)
        reason, kind = f"{ref.provider} is not configured (set {missing})", "unavailable"
    elif call.request.overflow is not None:  # request_for found no prompt that fits the window
        overflow = ContextOverflow(call.request.overflow, provider=ref.provider)
        reason, kind = str(overflow), overflow.kind
    elif deadline.expired:
        reason, kind = "phase deadline already reached", "deadline"
    elif not breaker.allow():
        reason = (
            f"circuit open for {ref.provider}/{ref.model_id} {breaker.why_open()}; "
            f"next probe in {breaker.retry_in_s():.0f}s"
        )
        kind = "circuit_open"
    else:
        return None
    return Failure(ref, call.role, "skipped", reason, error_kind=kind)


def _attempt(call: Call, deadline: Deadline, bound: Any) -> Callable[[int], Coroutine[Any, Any, Completion]]:
    """One attempt of ``call``, as the retry loop runs it."""
    member, guard = call.member, call.member.guard

    async def attempt(number: int) -> Completion:
        budget = deadline.within(call.request.timeout_s)
        began = time.monotonic()
        try:
            # Wall-clock bound as well as the transport's read timeout: keep-alive bytes (DeepSeek
            # under load) reset read timers, so only this guarantees the model's timeout. Waiting
            # for a concurrency slot counts against it too.
            async with asyncio.timeout(budget):
                async with guard.limiter.within(budget):
                    completion = await member.provider.complete(call.request)
        except TimeoutError:
            reason = deadline.name if budget < call.request.timeout_s else "model timeout"
            error = ProviderTimeout(
                f"no answer within {budget:.1f}s ({reason})", provider=member.ref.provider
            )
            await _unless_still_decoding(member, error)
            _record_failure(member, error)
            raise error from None
        except ProviderError as exc:
            if exc.kind == "timeout":
                await _unless_still_decoding(member, exc)
            _record_failure(member, exc)
            bound.warning(
                "attempt_failed", attempt=number, kind=exc.kind, error=str(exc), latency_ms=_ms_since(began)
            )
            raise
        guard.breaker.success()
        guard.health.record(ok=True)
        bound.info("attempt_ok", attempt=number, latency_ms=round(_ms_since(began)))
        return completion

    return attempt


async def _unless_still_decoding(member: Member, error: ProviderError) -> None:
    """A local server that timed out while alive and decoding is slow, not broken: another attempt
    would queue behind the work it is still doing and double its queue. Such a timeout is not
    retried, and its record says why."""
    provider = member.provider
    if not (error.retryable and isinstance(provider, Paced)):
        return
    why = await provider.decoding()
    if why is not None:
        error.retryable = False
        error.message = f"{error.message}; not retried: {why}, so it is slow, not down"
        log.info("timeout_not_retried", model=member.ref.alias, why=why)


def _failed(call: Call, exc: ProviderError, latency: float, bound: Any) -> Failure:
    status: Literal["timeout", "error"] = "timeout" if exc.kind == "timeout" else "error"
    retried = f" (after {exc.attempts} attempts)" if exc.attempts > 1 else ""
    bound.warning("model_failed", latency_ms=round(latency), kind=exc.kind, attempts=exc.attempts)
    return Failure(
        call.member.ref,
        call.role,
        status,
        f"{exc}{retried}",
        latency_ms=latency,
        error_kind=exc.kind,
        attempts=exc.attempts,
    )


def _record_failure(member: Member, error: ProviderError) -> None:
    guard = member.guard
    guard.health.record(ok=False, kind=error.kind, error=str(error))
    if error.kind in _NEUTRAL_KINDS:
        guard.breaker.release()
    elif error.kind == "model_unavailable":  # retired or unknown: no retry can bring it back
        guard.breaker.trip(str(error))
    else:
        guard.breaker.failure()


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
