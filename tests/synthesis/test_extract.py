"""JSON extraction against the failure cases the upstream extractor gets wrong (reference §6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.synthesis.extract import candidates, strip_reasoning


def objects(text: str) -> list[Any]:
    return [c.value for c in candidates(strip_reasoning(text)) if isinstance(c.value, dict)]


def first_object(text: str) -> Any:
    found = objects(text)
    return found[0] if found else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Here is the plan:\n```json\n{"a": 1}\n```\nHope it helps.', {"a": 1}),
        ('```json\n{"a": {"b": [1, 2]}}', {"a": {"b": [1, 2]}}),  # fence never closed
        (
            '{"text": "a } and { inside", "q": "say \\"hi\\" {"}',
            {"text": "a } and { inside", "q": 'say "hi" {'},
        ),
        ('She said "hello. {"verdict": "GO"}', {"verdict": "GO"}),  # odd quote in prose before
        ('<think>maybe {x} or {"draft": 0}</think> {"final": 1}', {"final": 1}),
        ('reasoning about {x}</think>{"final": 1}', {"final": 1}),  # R1 omits the opening tag
        ('Use {placeholder} then {"a": 1}', {"a": 1}),
        ('```json\n{"a": 1,, broken\n```\nCorrected: {"a": 2}', {"a": 2}),
        ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),  # trailing commas, repaired last
        ('```\n{"a": 1}\n```', {"a": 1}),  # bare fence
    ],
)
def test_finds_the_intended_object(text: str, expected: dict[str, Any]) -> None:
    assert first_object(text) == expected


def test_offers_every_object_in_order_so_validation_can_choose() -> None:
    text = 'First draft {"v": 1} and the final {"v": 2}'
    assert objects(text)[:2] == [{"v": 1}, {"v": 2}]


def test_a_fenced_array_is_an_array_not_its_first_element() -> None:
    found = list(candidates('```json\n[{"a": 1}, {"a": 2}]\n```'))
    assert found[0].value == [{"a": 1}, {"a": 2}] and found[0].source == "fence"
    assert all(c.value != {"a": 1} for c in found)


def test_the_fenced_object_is_not_offered_twice() -> None:
    found = list(candidates('```json\n{"a": 1}\n```'))
    assert [c.source for c in found if c.value == {"a": 1}] == ["fence"]


def test_a_truncated_object_is_repaired_not_replaced_by_its_inner_array() -> None:
    found = list(candidates('{"items": [1, 2], "name": "freight'))
    assert [c.value for c in found if c.source == "span"] == [[1, 2]]
    assert found[-1].source == "repaired" and found[-1].value["items"] == [1, 2]


def test_bare_values_and_nothing() -> None:
    assert [c.value for c in candidates(" 42 ")] == [42]
    assert list(candidates("no json here at all")) == []
    assert list(candidates("")) == []


def test_an_unfinished_thought_yields_no_answer() -> None:
    assert strip_reasoning('<think>I will answer {"a": 1} once I am sure') == ""


def test_positions_point_into_the_text() -> None:
    text = 'prose {"a": [1]} more'
    found = next(candidates(text))
    assert json.loads(text[found.start : found.end]) == {"a": [1]}


def test_many_unparseable_braces_stay_bounded() -> None:
    text = "{" * 50_000 + '{"a": 1}'
    # Bounded failed decodes: it gives up on the span scan rather than going quadratic,
    # and the repair pass still returns something to validate.
    found = list(candidates(text))
    assert found and found[-1].source == "repaired"
