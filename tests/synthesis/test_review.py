"""The pipeline's review of a result: the agreement report, the overrule warnings, whether it degrades."""

from __future__ import annotations

from typing import Any

from app.synthesis.review import Review, review
from app.synthesis.votes import tally
from tests.synthesis.test_overrule import RULE, SCHEMA, votes


def test_a_unanimous_decision_overturned_by_the_judge_is_reported_and_degrades() -> None:
    answers = votes("PIVOT", "PIVOT", "PIVOT")
    found = review(SCHEMA, answers, tally(RULE, answers), {"verdict": "GO"}, mode="orchestrated")
    assert found.agreement is not None and found.agreement.overall == 0.0
    assert [f.path for f in found.agreement.fields] == ["verdict"]
    assert found.warnings == ("verdict: the judge chose GO against the majority PIVOT (3 of 3 answers)",)
    assert found.degrades


def test_a_fallback_answer_is_named_as_such_and_a_split_does_not_degrade() -> None:
    answers = votes("KILL", "KILL", "GO")
    found = review(SCHEMA, answers, tally(RULE, answers), {"verdict": "GO"}, mode="fallback")
    assert found.warnings == (
        "verdict: the fallback answer chose GO against the majority KILL (2 of 3 answers)",
    )
    assert not found.degrades


def test_without_parallel_answers_there_is_nothing_to_review() -> None:
    final: dict[str, Any] = {"verdict": "GO"}
    assert review(SCHEMA, {}, None, final, mode="single") == Review()
