"""A phase deadline: one monotonic instant that every step of a phase lives under."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Deadline:
    """Seconds left until a fixed monotonic instant."""

    total_s: float
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.started + self.total_s - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def elapsed_ms(self) -> float:
        """Milliseconds since the phase started."""
        return (time.monotonic() - self.started) * 1000.0
