"""parse_output with the real phase schemas: extraction picks once, validation judges that pick."""

from __future__ import annotations

import json

import pytest

from app.domain import Completion, ModelRef, Success, Usage
from app.synthesis.validate import annotate, parse_output
from tests.support import catalog_for, fixture

CATALOG = catalog_for()
KILL_TEST = CATALOG.get("kill-test").output
KILL = fixture("kill-test")
KILL_GO = {**KILL, "verdict": "GO", "pivotSuggestions": []}


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.65, 0.8])
def test_a_truncated_answer_fails_as_truncated_even_after_a_valid_draft(fraction: float) -> None:
    answer = json.dumps(KILL, indent=2)
    reply = "Draft: " + json.dumps(KILL_GO) + "\n\nFinal:\n" + answer[: int(len(answer) * fraction)]
    parsed = parse_output(reply, KILL_TEST)
    assert parsed.value is None and not parsed.valid
    assert parsed.failure == "truncated"
    assert parsed.errors == ["the answer was cut off inside its JSON (truncated): not repaired"]


def test_the_correction_is_the_answer_not_the_first_draft() -> None:
    reply = json.dumps(KILL_GO) + "\n\nWait, the TMS overlap is fatal to GO. Corrected:\n" + json.dumps(KILL)
    parsed = parse_output(reply, KILL_TEST)
    assert parsed.valid and parsed.failure is None
    assert parsed.value == KILL


def test_an_invalid_correction_is_reported_not_replaced_by_a_valid_draft() -> None:
    wrong = {**KILL, "verdict": "MAYBE"}
    parsed = parse_output(json.dumps(KILL_GO) + "\nCorrected:\n" + json.dumps(wrong), KILL_TEST)
    assert not parsed.valid and parsed.failure == "invalid"
    assert parsed.value is not None and parsed.value["verdict"] == "MAYBE"
    assert any(e.startswith("$.verdict") for e in parsed.errors)


def test_an_array_pick_is_a_mismatch_never_unwrapped() -> None:
    parsed = parse_output(json.dumps([KILL]), KILL_TEST)
    assert parsed.value is None and parsed.failure == "invalid"
    assert parsed.errors[0] == "the answer's JSON is an array, not an object"
    assert len(parsed.errors) > 1  # the schema's own words follow


def test_a_json_refusal_is_judged_by_the_schema() -> None:
    parsed = parse_output('{"error": "insufficient_information"}', KILL_TEST)
    assert not parsed.valid and parsed.failure == "invalid"


def test_forbidden_nulls_are_still_pruned() -> None:
    parsed = parse_output(json.dumps({**KILL, "agenticAssessment": {"agenticDepth": None}}), KILL_TEST)
    assert parsed.valid


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        ("<think>draft " + json.dumps(KILL), "unfinished_reasoning"),
        ("reasoning only\n</think>", "reasoning_only"),
        ("I can't help with that.", "no_json"),
    ],
)
def test_extraction_failures_carry_their_reason(reply: str, failure: str) -> None:
    parsed = parse_output(reply, KILL_TEST)
    assert parsed.value is None and parsed.failure == failure and len(parsed.errors) == 1


@pytest.mark.parametrize("phase", CATALOG.names())
def test_every_phase_example_parses_from_a_fenced_reply_with_reasoning(phase: str) -> None:
    reply = "<think>drafting</think>\nHere it is:\n```json\n" + json.dumps(fixture(phase), indent=2) + "\n```"
    parsed = parse_output(reply, CATALOG.get(phase).output)
    assert parsed.valid and parsed.value == fixture(phase)


def test_annotate_attaches_the_truncation_message() -> None:
    completion = Completion(text='{"verdict": "GO", "fat', usage=Usage(1, 1))
    outcome = Success(ModelRef("alias", "p", "m"), "parallel", completion, latency_ms=1.0)
    annotated = annotate(outcome, parse_output(completion.text, KILL_TEST))
    assert isinstance(annotated, Success)
    assert annotated.output_errors == ("the answer was cut off inside its JSON (truncated): not repaired",)
