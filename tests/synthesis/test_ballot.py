"""Ballots: which fields a phase votes on, what a ballot must be, and how ballots settle an answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.phases.config import DecisionRule
from app.phases.output import OutputSchema
from app.synthesis.ballot import ballot_fields, ballot_form, ballot_max_tokens, ballot_schema
from app.synthesis.merge import settle_by_ballots
from tests.support import catalog_for, fixture

CATALOG = catalog_for()
KILL_TEST = CATALOG.get("kill-test")
RULE = KILL_TEST.config.decision


@pytest.mark.parametrize(
    ("phase", "fields"),
    [
        ("kill-test", ("verdict",)),
        ("opportunity", ("recommendedIndex",)),
        ("product-design", ("isAgenticSoftware",)),
        ("customer-intel", ()),  # lists and text only: nothing to vote on
        ("synthesis", ()),  # a figure inside an object is not a top-level decision
    ],
)
def test_each_phase_votes_on_its_top_level_choices_and_figures(phase: str, fields: tuple[str, ...]) -> None:
    found = CATALOG.get(phase)
    assert ballot_fields(found.output.wire_schema, found.config.decision) == fields


def test_the_decision_rule_comes_first_and_nullable_choices_count() -> None:
    schema = {
        "properties": {
            "ready": {"type": ["boolean", "null"]},
            "notes": {"type": "string"},
            "weeks": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "detail": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
            "mood": {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "verdict": {"enum": ["GO", "KILL"]},
        }
    }
    rule = DecisionRule(field="verdict", options=("GO", "KILL"))
    assert ballot_fields(schema, rule) == ("verdict", "ready", "weeks")
    assert ballot_fields(schema, None) == ("ready", "weeks", "verdict")
    assert ballot_fields({"type": "object"}, rule) == ()


def test_a_ballot_schema_is_closed_and_requires_every_field() -> None:
    cut = ballot_schema(KILL_TEST.output.wire_schema, ("verdict",))
    assert cut == {
        "type": "object",
        "properties": {"verdict": KILL_TEST.output.wire_schema["properties"]["verdict"]},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    assert "additionalProperties" not in ballot_schema(
        KILL_TEST.output.wire_schema, ("verdict",), closed=False
    )
    assert ballot_max_tokens(("verdict",)) == 40 < ballot_max_tokens(("verdict", "a", "b"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"verdict": "KILL"}', {"verdict": "KILL"}),
        ('Here is my ballot:\n```json\n{"verdict": "PIVOT"}\n```', {"verdict": "PIVOT"}),
        (json.dumps({**fixture("kill-test"), "verdict": "GO"}), {"verdict": "GO"}),  # a whole answer votes
    ],
)
def test_a_ballot_is_read_from_what_the_model_wrote(text: str, value: dict[str, Any]) -> None:
    parsed = ballot_form(KILL_TEST.output, RULE).read(text)
    assert parsed.valid and parsed.value == value


@pytest.mark.parametrize("text", ['{"verdict": "MAYBE"}', '{"fatalFlaws": []}', "GO", '{"verdict": "GO"'])
def test_what_is_not_a_ballot_is_rejected_with_its_reason(text: str) -> None:
    parsed = ballot_form(KILL_TEST.output, RULE).read(text)
    assert not parsed.valid and parsed.errors


def test_the_form_is_built_once_per_phase() -> None:
    assert ballot_form(KILL_TEST.output, RULE) is ballot_form(KILL_TEST.output, RULE)


def test_ballots_outvote_the_writer_and_the_rest_is_the_writers() -> None:
    answer = {**fixture("kill-test"), "verdict": "GO"}
    ballots = {"b": {"verdict": "PIVOT"}, "c": {"verdict": "PIVOT"}, "d": None}
    merged = settle_by_ballots(KILL_TEST.output, "a", answer, ballots, ("verdict",))
    assert merged.output == {**answer, "verdict": "PIVOT"}
    assert merged.fields == {"verdict": "majority 2/3"} and merged.answers == 3  # the invalid one left out
    assert merged.central == "a" and "the writer" in merged.note()


def test_a_tie_keeps_the_writers_choice_and_a_settled_field_is_taken_as_given() -> None:
    answer = {**fixture("kill-test"), "verdict": "GO"}
    tie = settle_by_ballots(KILL_TEST.output, "a", answer, {"b": {"verdict": "PIVOT"}}, ("verdict",))
    assert tie.output["verdict"] == "GO" and tie.fields == {"verdict": "tie 1/2, the most central's"}
    vetoed = settle_by_ballots(
        KILL_TEST.output, "a", answer, {"b": {"verdict": "KILL"}}, ("verdict",), settled={"verdict": "KILL"}
    )
    assert vetoed.output["verdict"] == "KILL"
    assert vetoed.fields == {"verdict": "the decision rule's weighted vote"}


def test_figures_take_the_median_and_choices_the_majority() -> None:
    schema = OutputSchema(
        "t",
        {
            "type": "object",
            "properties": {
                "weeks": {"type": "integer", "minimum": 1},
                "ready": {"type": "boolean"},
                "why": {"type": "string"},
            },
            "required": ["weeks"],
        },
    )
    answer = {"weeks": 4, "ready": True, "why": "the writer's words"}
    ballots = {"b": {"weeks": 12, "ready": False}, "c": {"weeks": 8, "ready": False}}
    merged = settle_by_ballots(schema, "a", answer, ballots, ("weeks", "ready"))
    assert merged.output == {"weeks": 8, "ready": False, "why": "the writer's words"}


def test_a_vote_the_schema_forbids_reverts_to_the_writers_value() -> None:
    # A rule: ready may be true only when weeks is at most 4 (as kill-test's rules tie fields).
    schema = OutputSchema(
        "t",
        {
            "type": "object",
            "properties": {"weeks": {"type": "integer"}, "ready": {"type": "boolean"}},
            "required": ["weeks", "ready"],
        },
        rules=(
            {
                "if": {"properties": {"ready": {"const": True}}},
                "then": {"properties": {"weeks": {"maximum": 4}}},
            },
        ),
    )
    answer = {"weeks": 3, "ready": False}
    ballots = {"b": {"weeks": 10, "ready": True}, "c": {"weeks": 12, "ready": True}}
    merged = settle_by_ballots(schema, "a", answer, ballots, ("weeks", "ready"))
    assert schema.is_valid(merged.output) and merged.output != {"weeks": 10, "ready": True}
    assert merged.output in ({"weeks": 3, "ready": True}, {"weeks": 10, "ready": False})
