"""Which contradictions of the answers' majority the response names, and which degrade it."""

from __future__ import annotations

from typing import Any

from app.phases.config import DecisionRule
from app.synthesis.agreement import build_report
from app.synthesis.overrule import Overrule, overrules
from app.synthesis.votes import tally

RULE = DecisionRule(field="verdict", options=("GO", "PIVOT", "KILL"), veto="KILL", veto_weight=2.0)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["GO", "PIVOT", "KILL", None]},
        "agentic": {"type": "object", "properties": {"depth": {"enum": ["deep", "surface", "none"]}}},
    },
}


def found(answers: dict[str, dict[str, Any] | None], final: dict[str, Any]) -> list[Overrule]:
    return overrules(build_report(SCHEMA, answers, final), tally(RULE, answers), final)


def votes(*verdicts: str) -> dict[str, dict[str, Any] | None]:
    return {f"m{i}": {"verdict": v} for i, v in enumerate(verdicts)}


def test_the_decision_follows_the_weighted_rule_not_the_head_count() -> None:
    [overrule] = found(votes("KILL", "GO", "GO"), {"verdict": "GO"})  # KILL 2 vs GO 2: a tie, so KILL
    assert (overrule.majority, overrule.backers, overrule.voters) == ("KILL", 1, 3)
    assert overrule.warning("the judge") == (
        "verdict: the judge chose GO against the majority KILL (1 of 3 answers, 2 of 4 weighted votes)"
    )
    assert not overrule.degrades


def test_a_tie_without_the_veto_has_no_majority_to_contradict() -> None:
    assert found(votes("GO", "PIVOT"), {"verdict": "KILL"}) == []


def test_following_the_majority_is_not_an_overrule() -> None:
    assert found(votes("KILL", "KILL", "GO"), {"verdict": "KILL"}) == []


def test_only_a_unanimous_decision_of_two_or_more_degrades() -> None:
    [unanimous] = found(votes("PIVOT", "PIVOT", "PIVOT"), {"verdict": "GO"})
    assert unanimous.unanimous and unanimous.degrades
    assert unanimous.warning("the judge").endswith("(3 of 3 answers)")
    [alone] = found({"m0": {"verdict": "PIVOT"}, "m1": None}, {"verdict": "GO"})
    assert not alone.unanimous and not alone.degrades


def test_other_enums_are_named_by_plurality_but_never_degrade() -> None:
    answers: dict[str, dict[str, Any] | None] = {
        f"m{i}": {"verdict": "GO", "agentic": {"depth": d}} for i, d in enumerate(["deep", "deep", "none"])
    }
    [overrule] = found(answers, {"verdict": "GO", "agentic": {"depth": "surface"}})
    assert overrule.field == "agentic.depth" and not overrule.decision and not overrule.degrades
    assert overrule.warning("the fallback answer") == (
        "agentic.depth: the fallback answer chose surface against the majority deep (2 of 3 answers)"
    )


def test_a_field_the_output_leaves_out_is_not_contradicted() -> None:
    answers: dict[str, dict[str, Any] | None] = {
        f"m{i}": {"verdict": "GO", "agentic": {"depth": "deep"}} for i in range(3)
    }
    assert found(answers, {"verdict": "GO"}) == []


def test_without_answers_nothing_is_compared() -> None:
    assert overrules(None, None, {"verdict": "GO"}) == []
