"""The agreement report a planner reads before trusting a synthesized GO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.synthesis.agreement import (
    AgreementReport,
    Disagreement,
    FieldAgreement,
    ModelAgreement,
    build_report,
    categorical_fields,
)

KILL_TEST = Path(__file__).resolve().parents[2] / "app/phases/schemas/kill-test.json"


def kill_test_schema() -> dict[str, Any]:
    with KILL_TEST.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


VERDICT_ONLY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["GO", "PIVOT", "KILL", None]},
        "reasoning": {"type": ["string", "null"]},
    },
}


def field(report: AgreementReport, path: str) -> FieldAgreement:
    [found] = [f for f in report.fields if f.path == path]
    return found


def model(report: AgreementReport, alias: str) -> ModelAgreement:
    [found] = [m for m in report.models if m.model == alias]
    return found


# --- categorical_fields -----------------------------------------------------------------------


def test_kill_test_fields_follow_objects_and_any_of_in_schema_order() -> None:
    assert categorical_fields(kill_test_schema()) == [
        "verdict",
        "bootstrapFeasibility.canOneSoloFounderBuild",
        "bootstrapFeasibility.canReachFirst100CustomersForFree",
        "bootstrapFeasibility.hasFreeDist",
        "bootstrapFeasibility.cloudflareFreeTierSufficient",
        "agenticAssessment.isAgentic",
        "agenticAssessment.agenticDepth",
    ]


def test_kill_test_fields_skip_free_text_and_array_items() -> None:
    paths = categorical_fields(kill_test_schema())
    assert "verdict" in paths
    assert "agenticAssessment.agenticDepth" in paths
    assert not [p for p in paths if p.startswith(("riskRegister", "fatalFlaws", "pivotSuggestions"))]
    assert "bootstrapFeasibility.timeToMVPWeeks" not in paths  # a number, not a choice
    assert "agenticAssessment.whatMakesItAgentic" not in paths


def test_hand_built_schema_covers_each_way_of_spelling_a_choice() -> None:
    schema = {
        "type": "object",
        "properties": {
            "plain": {"type": "boolean"},
            "onlyNull": {"enum": [None]},  # no real option, so nothing to agree on
            "text": {"type": "string"},
            "mixed": {"type": ["boolean", "string"]},  # free text allowed: not categorical
            "nullableUnion": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"flag": {"type": "boolean"}}},
            },
            "shape": {
                "oneOf": [
                    {"type": "object", "properties": {"mode": {"enum": ["a", "b"]}}},
                    {
                        "type": "object",
                        "properties": {"mode": {"enum": ["a", "b"]}, "on": {"type": "boolean"}},
                    },
                ]
            },
        },
    }
    assert categorical_fields(schema) == ["plain", "nullableUnion", "shape.mode", "shape.on"]


# --- build_report -----------------------------------------------------------------------------


def test_unanimous_go() -> None:
    answers = {"a": {"verdict": "GO"}, "b": {"verdict": "GO"}, "c": {"verdict": "GO"}}
    report = build_report(VERDICT_ONLY, answers, {"verdict": "GO"})

    assert report.fields == [
        FieldAgreement(path="verdict", distribution={"GO": 3}, final="GO", unanimous=True, resolved=False)
    ]
    assert report.disagreements == []
    assert report.models == [
        ModelAgreement(model=alias, compared=1, agreed=1, agreement=1.0, disagreements=[], usable=True)
        for alias in ("a", "b", "c")
    ]
    assert report.overall == 1.0


def test_majority_go_over_one_kill() -> None:
    answers = {
        "gpt": {"verdict": "GO", "reasoning": "x"},
        "claude": {"verdict": "GO", "reasoning": "y"},
        "gemini": {"verdict": "KILL", "reasoning": "z"},
        "llama": {"verdict": "GO", "reasoning": "w"},
    }
    report = build_report(VERDICT_ONLY, answers, {"verdict": "GO", "reasoning": "merged"})

    verdict = field(report, "verdict")
    assert verdict.distribution == {"GO": 3, "KILL": 1}
    assert list(verdict.distribution) == ["GO", "KILL"]  # most common first
    assert verdict.final == "GO"
    assert verdict.unanimous is False
    assert verdict.resolved is True

    assert report.disagreements == [
        Disagreement(
            path="verdict",
            values={"GO": ["gpt", "claude", "llama"], "KILL": ["gemini"]},
            final="GO",
            followed_majority=True,
        )
    ]
    assert model(report, "gemini") == ModelAgreement(
        model="gemini", compared=1, agreed=0, agreement=0.0, disagreements=["verdict"], usable=True
    )
    assert model(report, "gpt").agreement == 1.0
    assert model(report, "gpt").disagreements == []
    assert [m.model for m in report.models] == ["gpt", "claude", "gemini", "llama"]  # answers order
    assert report.overall == 0.75


def test_final_overriding_the_majority() -> None:
    answers = {"a": {"verdict": "GO"}, "b": {"verdict": "GO"}, "c": {"verdict": "KILL"}}
    report = build_report(VERDICT_ONLY, answers, {"verdict": "KILL"})

    [split] = report.disagreements
    assert split.path == "verdict"
    assert split.values == {"GO": ["a", "b"], "KILL": ["c"]}
    assert split.final == "KILL"
    assert split.followed_majority is False
    assert field(report, "verdict").resolved is True
    assert model(report, "a").disagreements == ["verdict"]
    assert model(report, "c").agreement == 1.0
    assert report.overall == 0.333


def test_a_final_value_nobody_chose_still_resolves_but_does_not_follow() -> None:
    answers = {"a": {"verdict": "GO"}, "b": {"verdict": "GO"}, "c": {"verdict": "KILL"}}
    report = build_report(VERDICT_ONLY, answers, {"verdict": "PIVOT"})

    assert field(report, "verdict").resolved is True
    assert report.disagreements[0].followed_majority is False
    assert report.overall == 0.0


def test_a_tie_has_no_majority_to_follow() -> None:
    answers = {
        "a": {"verdict": "KILL"},
        "b": {"verdict": "GO"},
        "c": {"verdict": "GO"},
        "d": {"verdict": "KILL"},
    }
    report = build_report(VERDICT_ONLY, answers, {"verdict": "GO"})

    assert field(report, "verdict").distribution == {"KILL": 2, "GO": 2}  # tie keeps answer order
    [split] = report.disagreements
    assert split.values == {"KILL": ["a", "d"], "GO": ["b", "c"]}
    assert split.followed_majority is None
    assert split.final == "GO"
    assert report.overall == 0.5


def test_nested_booleans_in_objects_and_inside_any_of() -> None:
    answers: dict[str, Any] = {
        "a": {
            "verdict": "GO",
            "bootstrapFeasibility": {"canOneSoloFounderBuild": True, "hasFreeDist": False},
            "agenticAssessment": {"isAgentic": True, "agenticDepth": "deep"},
        },
        "b": {
            "verdict": "GO",
            "bootstrapFeasibility": {"canOneSoloFounderBuild": False, "hasFreeDist": False},
            "agenticAssessment": {"isAgentic": True, "agenticDepth": "surface"},
        },
    }
    final = {
        "verdict": "GO",
        "bootstrapFeasibility": {"canOneSoloFounderBuild": True, "hasFreeDist": False},
        "agenticAssessment": {"isAgentic": True, "agenticDepth": "deep"},
    }
    report = build_report(kill_test_schema(), answers, final)

    assert [f.path for f in report.fields] == [
        "verdict",
        "bootstrapFeasibility.canOneSoloFounderBuild",
        "bootstrapFeasibility.hasFreeDist",
        "agenticAssessment.isAgentic",
        "agenticAssessment.agenticDepth",
    ]
    assert field(report, "bootstrapFeasibility.canOneSoloFounderBuild") == FieldAgreement(
        path="bootstrapFeasibility.canOneSoloFounderBuild",
        distribution={"true": 1, "false": 1},
        final="true",
        unanimous=False,
        resolved=True,
    )
    assert field(report, "bootstrapFeasibility.hasFreeDist") == FieldAgreement(
        path="bootstrapFeasibility.hasFreeDist",
        distribution={"false": 2},
        final="false",
        unanimous=True,
        resolved=False,
    )
    assert field(report, "agenticAssessment.isAgentic").distribution == {"true": 2}
    assert report.disagreements == [
        Disagreement(
            path="bootstrapFeasibility.canOneSoloFounderBuild",
            values={"true": ["a"], "false": ["b"]},
            final="true",
            followed_majority=None,
        ),
        Disagreement(
            path="agenticAssessment.agenticDepth",
            values={"deep": ["a"], "surface": ["b"]},
            final="deep",
            followed_majority=None,
        ),
    ]
    assert model(report, "a") == ModelAgreement(
        model="a", compared=5, agreed=5, agreement=1.0, disagreements=[], usable=True
    )
    assert model(report, "b") == ModelAgreement(
        model="b",
        compared=5,
        agreed=3,
        agreement=0.6,
        disagreements=["bootstrapFeasibility.canOneSoloFounderBuild", "agenticAssessment.agenticDepth"],
        usable=True,
    )
    assert report.overall == 0.8


def test_an_alternative_that_is_not_an_object_means_not_set() -> None:
    # bootstrapFeasibility may legitimately be a string; its nested booleans are then simply absent.
    answers: dict[str, Any] = {
        "a": {"verdict": "GO", "bootstrapFeasibility": "easy for one person"},
        "b": {"verdict": "GO", "bootstrapFeasibility": {"hasFreeDist": True}},
    }
    report = build_report(kill_test_schema(), answers, {"verdict": "GO", "bootstrapFeasibility": "yes"})

    assert field(report, "bootstrapFeasibility.hasFreeDist") == FieldAgreement(
        path="bootstrapFeasibility.hasFreeDist",
        distribution={"true": 1},
        final=None,
        unanimous=True,
        resolved=False,
    )
    # The final did not set it, so b is not marked down for it.
    assert model(report, "b") == ModelAgreement(
        model="b", compared=1, agreed=1, agreement=1.0, disagreements=[], usable=True
    )


def test_a_model_without_usable_json_is_counted_nowhere() -> None:
    answers = {"a": {"verdict": "GO"}, "broken": None, "b": {"verdict": "GO"}}
    report = build_report(VERDICT_ONLY, answers, {"verdict": "GO"})

    assert field(report, "verdict").distribution == {"GO": 2}
    assert field(report, "verdict").unanimous is True
    assert model(report, "broken") == ModelAgreement(
        model="broken", compared=0, agreed=0, agreement=None, disagreements=[], usable=False
    )
    assert [m.model for m in report.models] == ["a", "broken", "b"]
    assert report.overall == 1.0  # the unusable model does not drag the mean down


def test_null_values_are_not_votes() -> None:
    answers: dict[str, Any] = {"a": {"verdict": "GO"}, "b": {"verdict": None}, "c": {"verdict": "GO"}}
    report = build_report(VERDICT_ONLY, answers, {"verdict": "GO"})

    assert field(report, "verdict").distribution == {"GO": 2}
    assert report.disagreements == []
    assert model(report, "b") == ModelAgreement(
        model="b", compared=0, agreed=0, agreement=None, disagreements=[], usable=True
    )
    assert report.overall == 1.0


def test_a_null_final_is_not_set() -> None:
    answers = {"a": {"verdict": "GO"}, "b": {"verdict": "KILL"}, "c": {"verdict": "GO"}}
    report = build_report(VERDICT_ONLY, answers, {"verdict": None})

    assert field(report, "verdict") == FieldAgreement(
        path="verdict", distribution={"GO": 2, "KILL": 1}, final=None, unanimous=False, resolved=False
    )
    assert report.disagreements[0].final is None
    assert report.disagreements[0].followed_majority is False
    assert all(m.compared == 0 for m in report.models)
    assert report.overall is None


def test_fields_nobody_set_are_omitted() -> None:
    answers: dict[str, Any] = {"a": {"verdict": "GO", "agenticAssessment": None}, "b": {"verdict": "GO"}}
    report = build_report(kill_test_schema(), answers, {"verdict": "GO", "agenticAssessment": {}})

    assert [f.path for f in report.fields] == ["verdict"]


def test_a_field_only_the_final_set_is_listed_but_not_unanimous() -> None:
    # Nobody voted, so there is no agreement to claim; a planner checking "all unanimous" must not pass.
    answers = {"a": {"verdict": "GO"}}
    final = {"verdict": "GO", "agenticAssessment": {"isAgentic": False}}
    report = build_report(kill_test_schema(), answers, final)

    assert field(report, "agenticAssessment.isAgentic") == FieldAgreement(
        path="agenticAssessment.isAgentic", distribution={}, final="false", unanimous=False, resolved=False
    )
    assert report.disagreements == []
    assert model(report, "a").compared == 1


def test_values_are_rendered_as_json_would_spell_them() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tier": {"enum": [1, 2.5, None]},
            "flag": {"type": "boolean"},
            "mode": {"enum": ["x"]},
        },
    }
    answers: dict[str, Any] = {"a": {"tier": 1, "flag": True, "mode": "x"}, "b": {"tier": 2.5, "flag": False}}
    report = build_report(schema, answers, {"tier": 1, "flag": True, "mode": "x"})

    assert field(report, "tier").distribution == {"1": 1, "2.5": 1}
    assert field(report, "tier").final == "1"
    assert field(report, "flag").distribution == {"true": 1, "false": 1}
    assert field(report, "mode").distribution == {"x": 1}


def test_the_report_is_deterministic() -> None:
    answers: dict[str, dict[str, Any] | None] = {"a": {"verdict": "GO"}, "b": {"verdict": "KILL"}, "c": None}
    first = build_report(VERDICT_ONLY, answers, {"verdict": "GO"})
    assert build_report(VERDICT_ONLY, answers, {"verdict": "GO"}) == first
