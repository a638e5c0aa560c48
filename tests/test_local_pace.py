"""What the service knows of the local server's pace: recent answers count, stale ones do not."""

from __future__ import annotations

from app.local_pace import LocalPace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pace_is_the_median_of_fresh_answers_and_forgets_old_ones() -> None:
    clock = Clock()
    pace = LocalPace(slots=4, ttl_s=60, clock=clock)
    assert pace.tokens_per_s() is None and pace.fresh_for_s() == 0
    pace.observe_timings({"predicted_n": 300, "predicted_ms": 10_000.0})  # 30 tokens/s
    pace.observe_timings({"predicted_n": 25, "predicted_ms": 10_000.0})  # 2.5 tokens/s, busy
    clock.now += 30
    pace.observe(250, 100.0)  # 2.5 tokens/s
    assert pace.tokens_per_s() == 2.5 and pace.fresh_for_s() == 60
    clock.now += 45  # the first two are stale now
    pace.observe_timings(None)  # an answer without timings teaches nothing
    pace.observe(3, 0.1)  # nor does a handful of tokens
    assert pace.tokens_per_s() == 2.5 and pace.fresh_for_s() == 15
    clock.now += 16
    assert pace.tokens_per_s() is None  # a busy minute long past refuses nobody
