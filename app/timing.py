"""Where a phase's time went: waiting on models per stage, and the service's own overhead."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class Stopwatch:
    """Wall time per stage that waits on models; it records, it never limits (the deadline does)."""

    started: float = field(default_factory=time.monotonic)
    stages_ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def models(self, stage: str) -> Iterator[None]:
        """Time a stage whose duration is dominated by model calls."""
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = (time.monotonic() - started) * 1000.0
            self.stages_ms[stage] = self.stages_ms.get(stage, 0.0) + elapsed

    def total_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000.0

    def overhead_ms(self) -> float:
        """Time spent outside the model-bound stages: prompt building, validation, bookkeeping."""
        return max(0.0, self.total_ms() - sum(self.stages_ms.values()))
