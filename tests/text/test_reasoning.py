"""The reasoning split follows shared/reference/json-extraction.md §3."""

from __future__ import annotations

import pytest

from app.text.reasoning import split_reasoning


@pytest.mark.parametrize(
    ("text", "answer", "reasoning", "unfinished"),
    [
        pytest.param('  {"a": 1}\n', '{"a": 1}', None, False, id="no-tags"),
        pytest.param('<think>weigh it</think>\n{"a": 1}', '{"a": 1}', "weigh it", False, id="block"),
        pytest.param(
            '<thinking>weigh it</thinking>\n{"a": 1}', '{"a": 1}', "weigh it", False, id="thinking-block"
        ),
        pytest.param(
            'Okay, the user wants JSON.\n</think>\n\n{"a": 1}',
            '{"a": 1}',
            "Okay, the user wants JSON.",
            False,
            id="opening-tag-missing",
        ),
        pytest.param(
            '{"verdict": "GO"} is a draft\n</think>\n\n{"a": 1}',
            '{"a": 1}',
            '{"verdict": "GO"} is a draft',
            False,
            id="draft-before-a-lone-closing-tag-is-reasoning",
        ),
        pytest.param(
            "<THINK>first</Think>middle <think>second</think> answer ",
            "middle  answer",
            "first\n\nsecond",
            False,
            id="case-insensitive-several-blocks",
        ),
        pytest.param("<think></think>answer", "answer", None, False, id="empty-block"),
        pytest.param("<think>ran out of tokens", "", "ran out of tokens", True, id="never-closed"),
        pytest.param(
            '<think>draft {"verdict": "GO"} and then',
            "",
            'draft {"verdict": "GO"} and then',
            True,
            id="never-closed-draft-is-not-an-answer",
        ),
        pytest.param("Sure.\n<thinking>ran out", "Sure.", "ran out", True, id="opened-mid-text"),
        pytest.param('\ufeff{"a": 1}', '{"a": 1}', None, False, id="byte-order-mark"),
    ],
)
def test_split_reasoning(text: str, answer: str, reasoning: str | None, unfinished: bool) -> None:
    assert split_reasoning(text) == (answer, reasoning, unfinished)
