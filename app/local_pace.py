"""How fast the local model server decodes right now, learned from its own answers.

llama.cpp reports ``timings`` with every answer (``predicted_per_second``: this stream's decode
speed, measured while it shared the batch with the other busy slots) and streamed answers show
their pace token by token. The local provider feeds both in here; the admission estimate and the
retry decision read them. An observation counts for ``ttl_s`` only: a machine that was busy a
minute ago may be idle now, and a stale figure must not refuse requests forever.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RECENT = 8
"""Observations kept; the estimate is their median, so one odd answer does not swing it."""
MIN_TOKENS = 8
"""Fewer decoded tokens than this say more about the prompt's processing than the decode speed."""


@dataclass(frozen=True, slots=True)
class Observation:
    at: float
    tokens_per_s: float


class LocalPace:
    """Recent per-slot decode speeds of the local server, and how many slots it decodes at once."""

    def __init__(self, *, slots: int, ttl_s: float = 90.0, clock: Callable[[], float] = time.monotonic):
        self.slots = max(1, slots)
        self.ttl_s = ttl_s
        self._clock = clock
        self._seen: deque[Observation] = deque(maxlen=RECENT)

    def observe(self, tokens: int, seconds: float) -> None:
        """``tokens`` decoded by one stream in ``seconds``."""
        if tokens >= MIN_TOKENS and seconds > 0:
            self._seen.append(Observation(self._clock(), tokens / seconds))

    def observe_timings(self, timings: Any) -> None:
        """llama.cpp's ``timings`` object of one answer (ignored when absent or malformed)."""
        if not isinstance(timings, Mapping):
            return
        tokens, ms = timings.get("predicted_n"), timings.get("predicted_ms")
        if isinstance(tokens, int | float) and isinstance(ms, int | float):
            self.observe(int(tokens), float(ms) / 1000.0)

    def tokens_per_s(self) -> float | None:
        """The median recent per-slot speed; ``None`` when nothing fresh is known."""
        fresh = self._fresh()
        return statistics.median(o.tokens_per_s for o in fresh) if fresh else None

    def fresh_for_s(self) -> float:
        """Seconds until the newest observation goes stale (0 when none is fresh)."""
        fresh = self._fresh()
        return max(0.0, fresh[-1].at + self.ttl_s - self._clock()) if fresh else 0.0

    def _fresh(self) -> list[Observation]:
        cutoff = self._clock() - self.ttl_s
        return [o for o in self._seen if o.at >= cutoff]


class Paced:
    """Mixed into a provider whose server reports its pace (the local llama.cpp server)."""

    pace: LocalPace | None = None

    async def decoding(self) -> str | None:
        """Why the server is alive and working (for the record), or ``None`` when it is not known to be."""
        return None


def pace_of(provider: object) -> LocalPace | None:
    """The provider's pace, when its server reports one."""
    return provider.pace if isinstance(provider, Paced) else None
