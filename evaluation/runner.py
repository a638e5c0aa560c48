"""Runs every item through every mode: a concurrency limit, a spending cap, a record per answer.

Modes run one after another and a mode's items run concurrently (at most ``concurrency`` at a
time), so a mode's latency is measured under the same load for every item and never inflated by
another mode's calls. Each mode gets a fresh orchestrator (fresh circuit breakers and provider
limits): otherwise one mode's timeouts would open a circuit and the next mode's calls would be
skipped, scoring that mode for the previous one's trouble.

The spending cap is checked before each item starts: once the cost spent reaches it, no further
item starts (items already running finish, so the total can pass the cap by at most
``concurrency`` items' cost), and every item not asked is recorded as such.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain import Outcome, Success
from app.errors import OrchestrationError
from app.pipeline import Orchestrator
from evaluation.datasets import Item
from evaluation.modes import Mode
from evaluation.scoring import is_correct


@dataclass(slots=True)
class Answer:
    """One item answered (or not) in one mode, with every model call it took."""

    mode: str
    item: Item
    answer: str | None
    correct: bool
    latency_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    result_mode: str | None
    """The pipeline's own mode: orchestrated, single or fallback; ``None`` when it failed."""
    output: dict[str, Any] | None
    error: str | None
    warnings: list[str]
    outcomes: list[dict[str, Any]]


@dataclass(slots=True)
class Ledger:
    """Cost spent so far against the cap (``None``: no cap)."""

    cap_usd: float | None
    spent_usd: float = 0.0

    @property
    def exhausted(self) -> bool:
        return self.cap_usd is not None and self.spent_usd >= self.cap_usd


@dataclass(slots=True)
class Run:
    """Everything one eval produced."""

    answers: list[Answer] = field(default_factory=list)
    not_run: dict[str, list[str]] = field(default_factory=dict)
    """Mode -> ids of the items the spending cap kept from starting."""
    ledger: Ledger = field(default_factory=lambda: Ledger(None))

    def by_mode(self, mode: str) -> list[Answer]:
        return [a for a in self.answers if a.mode == mode]


async def run_eval(
    orchestrator_for: Callable[[Mode], Orchestrator],
    modes: Sequence[Mode],
    items: Sequence[Item],
    *,
    concurrency: int = 4,
    max_cost_usd: float | None = None,
    on_answer: Callable[[Answer | None], None] | None = None,
) -> Run:
    """Ask every item in every mode; ``on_answer`` hears of each item as it ends (``None``: skipped).

    ``orchestrator_for`` is called once per mode, before its first item."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    run = Run(ledger=Ledger(max_cost_usd))
    for mode in modes:
        slots = asyncio.Semaphore(concurrency)
        orchestrator = orchestrator_for(mode)

        async def one(
            item: Item,
            mode: Mode = mode,
            slots: asyncio.Semaphore = slots,
            orchestrator: Orchestrator = orchestrator,
        ) -> Answer | None:
            async with slots:
                # Checked once a slot is free, so an item waiting its turn sees what its
                # predecessors spent.
                answer = None if run.ledger.exhausted else await ask(orchestrator, mode, item)
                if answer is not None:
                    run.ledger.spent_usd += answer.cost_usd
            if on_answer is not None:
                on_answer(answer)
            return answer

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
        done = [t.result() for t in tasks]
        run.answers.extend(a for a in done if a is not None)
        skipped = [item.id for item, a in zip(items, done, strict=True) if a is None]
        if skipped:
            run.not_run[mode.name] = skipped
    return run


async def ask(orchestrator: Orchestrator, mode: Mode, item: Item) -> Answer:
    """One item through the service's pipeline, scored; a failed phase is a wrong answer."""
    began = time.monotonic()
    try:
        result = await orchestrator.orchestrate(mode.phase, mode.request(item))
    except OrchestrationError as exc:
        latency = (time.monotonic() - began) * 1000.0
        return _answer(mode, item, None, latency, exc.outcomes, None, None, f"{exc.code}: {exc.message}", [])
    latency = (time.monotonic() - began) * 1000.0
    value = result.output.get("answer")
    text = value if isinstance(value, str) else None
    return _answer(
        mode, item, text, latency, result.outcomes, result.mode, result.output, None, result.warnings
    )


def _answer(
    mode: Mode,
    item: Item,
    text: str | None,
    latency_ms: float,
    outcomes: list[Outcome],
    result_mode: str | None,
    output: dict[str, Any] | None,
    error: str | None,
    warnings: list[str],
) -> Answer:
    usage = [o.completion.usage if isinstance(o, Success) else o.usage for o in outcomes]
    return Answer(
        mode=mode.name,
        item=item,
        answer=text,
        correct=is_correct(text, item),
        latency_ms=latency_ms,
        tokens_in=sum(u.input_tokens for u in usage),
        tokens_out=sum(u.output_tokens for u in usage),
        cost_usd=sum(o.cost_usd for o in outcomes),
        result_mode=result_mode,
        output=output,
        error=error,
        warnings=list(warnings),
        outcomes=[outcome_record(o) for o in outcomes],
    )


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """What one model call did, raw answer text included, as plain JSON."""
    record: dict[str, Any] = {
        "model": outcome.model.alias,
        "provider": outcome.model.provider,
        "model_id": outcome.model.model_id,
        "role": outcome.role,
        "status": outcome.status,
        "latency_ms": round(outcome.latency_ms, 1),
        "attempts": outcome.attempts,
        "cost_usd": outcome.cost_usd,
    }
    if isinstance(outcome, Success):
        usage = outcome.completion.usage
        record.update(
            tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens,
            text=outcome.completion.text,
            output_errors=list(outcome.output_errors),
        )
    else:
        record.update(
            tokens_in=outcome.usage.input_tokens,
            tokens_out=outcome.usage.output_tokens,
            error=outcome.error,
            error_kind=outcome.error_kind,
        )
    return record
