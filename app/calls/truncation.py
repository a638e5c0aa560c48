"""Answers that arrived but are not whole: why, how large a re-ask may be, and their records."""

from __future__ import annotations

import dataclasses

from app.calls.guarded import Call
from app.domain import Completion, Failure, Success, Usage
from app.providers.errors import AnswerTruncated, ProviderError, UnfinishedReasoning


def unusable(call: Call, completion: Completion) -> ProviderError | None:
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


def larger_budget(call: Call, completion: Completion) -> int | None:
    """Twice the budget, within what the model's context window leaves; ``None`` if no larger fits."""
    larger = call.request.max_tokens * 2
    window = call.member.spec.context_window
    if window is not None:
        larger = min(larger, window - completion.usage.input_tokens)
    return larger if larger > call.request.max_tokens else None


def incomplete(call: Call, last: Success, spent: list[Success], message: str) -> Failure:
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


def merged_success(first: Success, again: Success) -> Success:
    """The re-ask's answer, billed for both calls."""
    completion = dataclasses.replace(again.completion, usage=first.completion.usage + again.completion.usage)
    return dataclasses.replace(
        again,
        completion=completion,
        cost_usd=first.cost_usd + again.cost_usd,
        attempts=first.attempts + again.attempts,
        latency_ms=first.latency_ms + again.latency_ms,
    )


def merged_failure(first: Success, again: Failure, larger: int, why: str) -> Failure:
    """The re-ask's failure, billed for both calls and saying what came before it."""
    return dataclasses.replace(
        again,
        usage=again.usage + first.completion.usage,
        cost_usd=again.cost_usd + first.cost_usd,
        attempts=again.attempts + first.attempts,
        latency_ms=first.latency_ms + again.latency_ms,
        error=f"{again.error} (re-asked with max_tokens={larger} after: {why})",
    )
