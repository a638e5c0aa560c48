"""Per-mode aggregates: accuracy with its interval, latency, tokens and cost per item."""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.runner import Run
from evaluation.stats import Interval, mean, percentile, wilson


@dataclass(frozen=True, slots=True)
class ModeSummary:
    """One row of the report. Per-item figures are over the items the mode answered or failed."""

    mode: str
    items: int
    """Items asked (answered or failed); items the spending cap kept back are in ``not_run``."""
    correct: int
    accuracy: float
    interval: Interval
    """95% Wilson score interval of the accuracy."""
    mean_latency_s: float
    p95_latency_s: float
    tokens_in_per_item: float
    tokens_out_per_item: float
    cost_per_item_usd: float
    cost_usd: float
    failed: int
    """Items where the pipeline raised (every model failed, deadline): scored wrong."""
    fallbacks: int
    """Items the pipeline answered in fallback mode (synthesis did not produce a valid answer)."""
    not_run: int

    @property
    def tokens_per_item(self) -> float:
        return self.tokens_in_per_item + self.tokens_out_per_item


def summarise(run: Run, modes: list[str]) -> list[ModeSummary]:
    """One summary per mode, in ``modes`` order."""
    rows = []
    for mode in modes:
        answers = run.by_mode(mode)
        n = len(answers)
        correct = sum(a.correct for a in answers)
        latencies = [a.latency_ms / 1000.0 for a in answers]
        cost = sum(a.cost_usd for a in answers)
        rows.append(
            ModeSummary(
                mode=mode,
                items=n,
                correct=correct,
                accuracy=correct / n if n else 0.0,
                interval=wilson(correct, n),
                mean_latency_s=mean(latencies),
                p95_latency_s=percentile(latencies, 95),
                tokens_in_per_item=mean([float(a.tokens_in) for a in answers]),
                tokens_out_per_item=mean([float(a.tokens_out) for a in answers]),
                cost_per_item_usd=cost / n if n else 0.0,
                cost_usd=cost,
                failed=sum(a.error is not None for a in answers),
                fallbacks=sum(a.result_mode == "fallback" for a in answers),
                not_run=len(run.not_run.get(mode, [])),
            )
        )
    return rows
