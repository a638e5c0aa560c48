"""The Wilson interval and the nearest-rank percentile against values worked out by hand."""

from __future__ import annotations

import pytest

from evaluation.stats import Z_95, mean, percentile, wilson


def test_wilson_matches_the_worked_example() -> None:
    # 8 of 10: centre (0.8 + z²/20) / (1 + z²/10), half-width z/(1 + z²/10)·sqrt(0.016 + z²/400).
    interval = wilson(8, 10)
    assert interval.low == pytest.approx(0.4902, abs=1e-4)
    assert interval.high == pytest.approx(0.9433, abs=1e-4)


@pytest.mark.parametrize("n", [1, 4, 10, 50])
def test_wilson_at_the_edges_has_its_closed_form(n: int) -> None:
    # With no successes the upper bound is z²/(n + z²); all successes mirror it.
    edge = Z_95**2 / (n + Z_95**2)
    assert wilson(0, n).low == 0.0
    assert wilson(0, n).high == pytest.approx(edge)
    assert wilson(n, n).low == pytest.approx(1 - edge)
    assert wilson(n, n).high == pytest.approx(1.0)


def test_wilson_without_items_claims_nothing() -> None:
    interval = wilson(0, 0)
    assert (interval.low, interval.high) == (0.0, 1.0)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="outside"):
        wilson(5, 4)


def test_percentile_is_an_observed_value_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 95) == 19.0  # ceil(0.95 * 20) = 19th smallest
    assert percentile(values, 50) == 10.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0, 1.0, 2.0], 95) == 3.0
    assert percentile([], 95) == 0.0


def test_mean() -> None:
    assert mean([1.0, 2.0, 6.0]) == 3.0
    assert mean([]) == 0.0
