"""The one notion of time: a deadline every wait and attempt reads, and a stopwatch that only records."""

from __future__ import annotations

import time

from app.deadline import Deadline
from app.timing import Stopwatch


def test_a_wait_or_attempt_is_cut_short_by_the_deadline_and_never_negative() -> None:
    deadline = Deadline(30.0)
    assert deadline.within(5.0) == 5.0
    assert 29.0 < deadline.within(120.0) <= 30.0
    gone = Deadline(1.0, started=time.monotonic() - 5.0)
    assert gone.within(5.0) == 0.0 and gone.expired and gone.spent


def test_a_step_fits_only_when_it_ends_before_the_deadline() -> None:
    deadline = Deadline(30.0)
    assert deadline.fits(10.0) and not deadline.fits(31.0)


def test_the_fan_outs_end_is_the_same_clock_ending_earlier() -> None:
    deadline = Deadline(30.0)
    fan_out = deadline.ending_before(10.0)
    assert fan_out.started == deadline.started and fan_out.total_s == 20.0
    assert "fan-out" in fan_out.name and 19.0 < fan_out.remaining() <= 20.0


def test_the_stopwatch_records_stages_and_knows_no_deadline() -> None:
    clock = Stopwatch()
    with clock.models("fanout"):
        pass
    with clock.models("fanout"):
        pass
    assert list(clock.stages_ms) == ["fanout"] and clock.stages_ms["fanout"] >= 0.0
    assert clock.total_ms() >= clock.stages_ms["fanout"] and clock.overhead_ms() >= 0.0
    assert not hasattr(clock, "deadline")
