"""Calls several models at once, each under its own timeout, all under the phase deadline.

Returns one ``Outcome`` per call and never raises for a model's failure: a slow or broken model is
recorded, and its siblings carry on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from app.deadline import Deadline
from app.domain import CompletionRequest, Failure, Outcome, Role, Success, Usage
from app.providers.errors import ProviderError
from app.roster import Member

log = structlog.get_logger("fanout")


@dataclass(frozen=True, slots=True)
class Call:
    """One planned model call."""

    member: Member
    request: CompletionRequest
    role: Role


def cost_usd(member: Member, usage: Usage) -> float:
    """What ``usage`` costs at the model's configured price."""
    price = member.spec.price
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000


async def call_model(call: Call, *, deadline: Deadline) -> Outcome:
    """Run one call to completion or to its timeout; a failure comes back as a ``Failure``."""
    member, ref = call.member, call.member.ref
    if not member.usable:
        missing = ", ".join(member.provider.missing_settings)
        return Failure(
            ref,
            call.role,
            "skipped",
            f"{ref.provider} is not configured (set {missing})",
            error_kind="unavailable",
        )
    budget = min(call.request.timeout_s, deadline.remaining())
    if budget <= 0:
        return Failure(ref, call.role, "skipped", "phase deadline already reached", error_kind="deadline")
    started = time.monotonic()
    bound = log.bind(model=ref.alias, provider=ref.provider, role=call.role, attempt=1)
    try:
        # Wall-clock bound as well as httpx's read timeout: keep-alive bytes (DeepSeek under load)
        # reset read timers, so only this guarantees the model's timeout.
        async with asyncio.timeout(budget):
            completion = await member.provider.complete(call.request)
    except TimeoutError:
        latency = _ms_since(started)
        reason = "phase deadline" if budget < call.request.timeout_s else "model timeout"
        bound.warning("model_timeout", latency_ms=round(latency), limit_s=round(budget, 3))
        return Failure(
            ref,
            call.role,
            "timeout",
            f"no answer within {budget:.1f}s ({reason})",
            latency_ms=latency,
            error_kind="timeout",
        )
    except ProviderError as exc:
        latency = _ms_since(started)
        status: Literal["timeout", "error"] = "timeout" if exc.kind == "timeout" else "error"
        bound.warning("model_failed", latency_ms=round(latency), kind=exc.kind, error=str(exc))
        return Failure(ref, call.role, status, str(exc), latency_ms=latency, error_kind=exc.kind)
    except Exception as exc:  # an adapter bug must not take the siblings down with it
        latency = _ms_since(started)
        bound.exception("model_crashed", latency_ms=round(latency))
        return Failure(
            ref,
            call.role,
            "error",
            f"{ref.provider}: internal error: {type(exc).__name__}",
            latency_ms=latency,
            error_kind="internal",
        )
    latency = _ms_since(started)
    cost = cost_usd(member, completion.usage)
    bound.info(
        "model_finished",
        latency_ms=round(latency),
        tokens_in=completion.usage.input_tokens,
        tokens_out=completion.usage.output_tokens,
        finish=completion.finish_reason,
    )
    return Success(ref, call.role, completion, latency, cost)


async def fan_out(calls: Sequence[Call], *, deadline: Deadline) -> list[Outcome]:
    """Run every call concurrently; the outcomes come back in the order of ``calls``."""
    if not calls:
        return []
    return list(await asyncio.gather(*(call_model(c, deadline=deadline) for c in calls)))


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
