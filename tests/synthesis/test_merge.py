"""The consensus merge: majority, median, union and the most central answer, always schema-valid."""

from __future__ import annotations

from typing import Any

from app.phases.output import OutputSchema
from app.synthesis.merge import merge_answers, rank_by_centrality
from tests.synthesis.test_agreement import kill_test_schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["GO", "PIVOT", "KILL", None]},
        "agentic": {"type": ["boolean", "null"]},
        "weeks": {"type": "integer", "minimum": 1, "maximum": 52},
        "score": {"type": "number"},
        "risks": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "summary": {"type": "string"},
        "plan": {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"solo": {"type": "boolean"}, "cost": {"type": "number"}}},
            ]
        },
    },
    "required": ["verdict"],
}
OUTPUT = OutputSchema("t", SCHEMA)


def answer(**fields: Any) -> dict[str, Any]:
    return {"verdict": "GO", **fields}


def test_majority_decides_enums_and_booleans() -> None:
    merged = merge_answers(
        OUTPUT,
        {
            "a": answer(verdict="KILL", agentic=True),
            "b": answer(verdict="PIVOT", agentic=False),
            "c": answer(verdict="PIVOT", agentic=False),
        },
    )
    assert merged is not None
    assert merged.output["verdict"] == "PIVOT" and merged.output["agentic"] is False
    assert merged.fields["verdict"] == "majority 2/3" and merged.fields["agentic"] == "majority 2/3"


def test_a_tie_goes_to_the_most_central_answer() -> None:
    # b agrees with both others on `agentic`, so the others agree with it most.
    answers = {
        "a": answer(verdict="GO", agentic=True),
        "b": answer(verdict="KILL", agentic=True),
        "c": answer(verdict="PIVOT", agentic=True),
        "d": answer(verdict="KILL", agentic=False),
    }
    order = rank_by_centrality(SCHEMA, answers)
    assert order[0] == "b"
    merged = merge_answers(OUTPUT, answers)
    assert merged is not None and merged.central == "b" and merged.output["verdict"] == "KILL"
    # The same answers in another order decide the same way.
    again = merge_answers(OUTPUT, dict(reversed(list(answers.items()))))
    assert again is not None and again.output == merged.output


def test_numbers_take_the_median_within_type_and_bounds() -> None:
    merged = merge_answers(
        OUTPUT,
        {
            "a": answer(weeks=2, score=0.5),
            "b": answer(weeks=8, score=0.9),
            "c": answer(weeks=7, score=0.1),
            "d": answer(weeks=3, score=0.2),
        },
    )
    assert merged is not None
    assert merged.output["weeks"] == 3 and isinstance(merged.output["weeks"], int)  # an answer's value
    assert merged.output["score"] == 0.35
    assert merged.fields["weeks"] == "median of 4"


def test_lists_are_a_deduplicated_union_by_support_capped_at_max_items() -> None:
    merged = merge_answers(
        OUTPUT,
        {
            "a": answer(risks=["Churn", "no moat"]),
            "b": answer(risks=["No moat.", "pricing"]),
            "c": answer(risks=["no  MOAT", "regulation"]),
        },
    )
    assert merged is not None
    risks = merged.output["risks"]
    assert risks[0].casefold().startswith("no") and len(risks) == 3  # the supported one first, capped
    assert sum("moat" in r.casefold() for r in risks) == 1
    assert merged.fields["risks"] == "union 3 of 6"


def test_free_text_and_mixed_kinds_come_from_the_most_central_answer() -> None:
    answers = {
        "a": answer(verdict="KILL", summary="the market is small", plan="a plan"),
        "b": answer(verdict="GO", summary="the market is large", plan={"solo": True, "cost": 10}),
        "c": answer(verdict="GO", summary="one founder can build it", plan={"solo": False, "cost": 30}),
    }
    merged = merge_answers(OUTPUT, answers)
    # b and c agree on the verdict; b's words are closer to the others'.
    assert merged is not None and merged.central == "b"
    assert merged.output["summary"] == "the market is large"
    assert merged.fields.get("summary") is None  # not combined: the central answer's
    # Text in one answer, objects in two: the objects (the central answer's kind) are merged.
    # solo: a tie, to the central b; cost: the lower median of two integers, an answer's own value.
    assert merged.output["plan"] == {"solo": True, "cost": 10}
    assert merged.fields["plan.solo"] == "tie 1/2, the most central's"
    assert merged.fields["plan.cost"] == "median of 2"


def test_objects_merge_field_by_field() -> None:
    answers = {
        "a": answer(plan={"solo": True, "cost": 10}),
        "b": answer(plan={"solo": True, "cost": 30}),
        "c": answer(plan={"solo": False, "cost": 20}),
    }
    merged = merge_answers(OUTPUT, answers)
    assert merged is not None and merged.output["plan"] == {"solo": True, "cost": 20}
    assert merged.fields["plan.cost"] == "median of 3" and merged.fields["plan.solo"] == "majority 2/3"


def test_invalid_answers_are_left_out_and_none_valid_is_none() -> None:
    assert merge_answers(OUTPUT, {"a": None, "b": {"verdict": "MAYBE"}}) is None
    merged = merge_answers(OUTPUT, {"a": answer(verdict="KILL"), "b": {"verdict": "MAYBE"}, "c": None})
    assert merged is not None and merged.output == {"verdict": "KILL"} and merged.answers == 1


def test_a_settled_field_is_set_and_said() -> None:
    answers = {"a": answer(verdict="GO"), "b": answer(verdict="GO"), "c": answer(verdict="KILL")}
    merged = merge_answers(OUTPUT, answers, settled={"verdict": "KILL"})
    assert merged is not None and merged.output["verdict"] == "KILL"
    assert merged.fields["verdict"] == "the decision rule's weighted vote"


def test_a_merge_the_rules_forbid_falls_back_field_by_field_then_whole() -> None:
    # A rule across fields: GO needs weeks <= 4. Majority GO with the median 6 breaks it.
    ruled = OutputSchema(
        "t",
        SCHEMA,
        rules=(
            {
                "if": {"properties": {"verdict": {"const": "GO"}}},
                "then": {"properties": {"weeks": {"maximum": 4}}},
            },
        ),
    )
    answers = {
        "a": answer(verdict="GO", weeks=2),
        "b": answer(verdict="GO", weeks=3),
        "c": answer(verdict="KILL", weeks=9),
        "d": answer(verdict="KILL", weeks=10),
        "e": answer(verdict="GO", weeks=4),
    }
    merged = merge_answers(ruled, answers)
    assert merged is not None and ruled.is_valid(merged.output)
    assert merged.output["verdict"] == "GO" and merged.output["weeks"] <= 4


def test_the_kill_test_schema_merges_to_a_valid_output() -> None:
    schema = OutputSchema("kill-test", kill_test_schema(), always_emit=("verdict",))
    base: dict[str, Any] = {
        "verdict": "PIVOT",
        "bootstrapFeasibility": {"canOneSoloFounderBuild": True, "timeToMVPWeeks": 6},
        "agenticAssessment": {"isAgentic": True, "agenticDepth": "surface"},
        "fatalFlaws": ["crowded market"],
    }
    answers = {
        "a": base,
        "b": {**base, "verdict": "KILL", "fatalFlaws": "one long string", "bootstrapFeasibility": "text"},
        "c": {**base, "bootstrapFeasibility": {"canOneSoloFounderBuild": False, "timeToMVPWeeks": 12}},
    }
    merged = merge_answers(schema, answers)
    assert merged is not None and schema.is_valid(merged.output) and not merged.fell_back
    assert merged.output["verdict"] == "PIVOT"
    assert (
        merged.output["fatalFlaws"] == ["crowded market"] or merged.output["fatalFlaws"] == "one long string"
    )


def test_without_categorical_fields_the_answer_sharing_most_words_is_central() -> None:
    quiz = OutputSchema(
        "quiz", {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    )
    answers = {
        "a": {"answer": "Lyon, the second city of France and a long answer"},
        "b": {"answer": "Paris"},
        "c": {"answer": "paris."},
    }
    merged = merge_answers(quiz, answers)
    # b and c say the same; the tie goes to the longer spelling, never to the long odd one out.
    assert merged is not None and merged.central == "c" and merged.output == {"answer": "paris."}
