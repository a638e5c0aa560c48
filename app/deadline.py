"""A phase deadline: one monotonic instant that every step of a phase lives under.

The one notion of time of a request: the pipeline creates its ``Deadline`` once (and once derives
the fan-out's end from it, keeping the judge's reserve); every wait and every call reads it
through ``within`` (a call's attempt gets ``within(timeout)``), and the retry loop starts no
attempt that cannot finish before it. The pipeline's ``asyncio.timeout`` is the single safety net
behind it. ``app.timing.Stopwatch`` only records where the time went.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MIN_USEFUL_S = 0.25
"""Less time than this left is no time for another step: no retry, repair, fallback model or next
judge is started in it, and a phase without a valid answer by then has passed its deadline (504),
not failed for another reason."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """Seconds left until a fixed monotonic instant."""

    total_s: float
    started: float = field(default_factory=time.monotonic)
    name: str = "phase deadline"
    """What this instant is, for messages: a call cut short by it says so."""

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.started + self.total_s - time.monotonic())

    def within(self, seconds: float) -> float:
        """``seconds``, cut short by this deadline: how long one wait or one attempt may take."""
        return min(seconds, self.remaining())

    def fits(self, seconds: float) -> bool:
        """Whether a step of ``seconds`` (a retry with its backoff, a re-ask) ends before this deadline."""
        return seconds < self.remaining()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    @property
    def spent(self) -> bool:
        """Too little time left to start another step, a fallback model or judge (``MIN_USEFUL_S``);
        a call already planned, like a fan-out member, still gets whatever time is left."""
        return self.remaining() < MIN_USEFUL_S

    def elapsed_ms(self) -> float:
        """Milliseconds since the phase started."""
        return (time.monotonic() - self.started) * 1000.0

    def ending_before(self, reserve_s: float) -> Deadline:
        """The same clock, ending ``reserve_s`` earlier: a stage that must leave time for the next."""
        return Deadline(
            max(0.0, self.total_s - reserve_s),
            self.started,
            f"fan-out's end ({reserve_s:g}s of the {self.total_s:g}s deadline kept for synthesis)",
        )
