"""A circuit breaker per provider and model, so a broken model stops costing every phase a timeout.

closed -> (threshold consecutive failures) -> open -> (cooldown) -> half-open: one probe call is
let through; its success closes the circuit, its failure opens it for another cooldown. A provider
saying it does not serve the model at all (retired, unknown id) ``trip``s the circuit at once and
for the long ``unavailable_cooldown_s``: retrying cannot bring a retired model back, and each call
would only cost a 400. Written by hand rather than taken from a library: the async breakers on
PyPI are thin or unmaintained, and the state machine is twenty lines that the fault-injection
suite proves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int,
        cooldown_s: float,
        unavailable_cooldown_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.unavailable_cooldown_s = unavailable_cooldown_s
        """How long ``trip`` opens the circuit; ``None``: a trip counts as an ordinary failure."""
        self._clock = clock
        self.consecutive_failures = 0
        self._opened_at: float | None = None
        self._open_for_s = cooldown_s
        self._probing = False
        self.unavailable: str | None = None
        """The provider's own words when it said it does not serve this model; cleared by a success."""

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self._open_for_s else "open"

    def retry_in_s(self) -> float:
        """Seconds until a probe is allowed (0 unless open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._open_for_s - self._clock())

    def why_open(self) -> str:
        """Why calls are being skipped, for the skipped record."""
        if self.unavailable is not None:
            return f"because the provider does not serve it ({self.unavailable})"
        return f"after {self.consecutive_failures} consecutive failures"

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._probing:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        self.consecutive_failures = 0
        self._opened_at = None
        self._probing = False
        self.unavailable = None

    def failure(self) -> None:
        self.consecutive_failures += 1
        if self._probing or self.consecutive_failures >= self.threshold:
            self._opened_at = self._clock()
            self._open_for_s = self.cooldown_s
        self._probing = False

    def trip(self, reason: str) -> None:
        """The provider does not serve this model: open now, for the long cooldown."""
        if self.unavailable_cooldown_s is None:
            self.failure()
            return
        self.consecutive_failures += 1
        self.unavailable = reason
        self._opened_at = self._clock()
        self._open_for_s = self.unavailable_cooldown_s
        self._probing = False

    def release(self) -> None:
        """A call ended without saying anything about health (cancelled, or the caller's fault)."""
        self._probing = False
