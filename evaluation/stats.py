"""The few statistics the report needs: a binomial confidence interval, a mean and a percentile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, n: int, z: float = Z_95) -> Interval:
    """The Wilson score interval for a proportion.

    Chosen over the textbook ``p ± z·sqrt(p(1-p)/n)`` because eval sets are small and accuracies
    often sit near 0 or 1, where that interval collapses to zero width or leaves [0, 1]; Wilson's
    stays inside [0, 1] and keeps close to its nominal coverage at small n."""
    if n == 0:
        return Interval(0.0, 1.0)  # no evidence: every accuracy is possible
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} is outside 0..{n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``q``% of values at or below it.

    Always one of the observed values, which is what "p95 latency" should mean for 20 items."""
    if not values:
        return 0.0
    if not 0 < q <= 100:
        raise ValueError(f"q={q} is outside (0, 100]")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
