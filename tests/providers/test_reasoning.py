from __future__ import annotations

import pytest

from app.providers.reasoning import split_reasoning


@pytest.mark.parametrize(
    ("text", "answer", "reasoning"),
    [
        pytest.param('  {"a": 1}\n', '{"a": 1}', None, id="no-tags"),
        pytest.param('<think>weigh it</think>\n{"a": 1}', '{"a": 1}', "weigh it", id="block"),
        pytest.param(
            'Okay, the user wants JSON.\n</think>\n\n{"a": 1}',
            '{"a": 1}',
            "Okay, the user wants JSON.",
            id="opening-tag-missing",
        ),
        pytest.param(
            "<THINK>first</Think>middle<think>second</think> answer ",
            "answer",
            "first\n\nmiddle\n\nsecond",
            id="case-insensitive-several-blocks",
        ),
        pytest.param("<think></think>answer", "answer", None, id="empty-block"),
        pytest.param("<think>ran out of tokens", "", "ran out of tokens", id="never-closed"),
        pytest.param("use <think> tags like this", "use <think> tags like this", None, id="tag-mid-text"),
    ],
)
def test_split_reasoning(text: str, answer: str, reasoning: str | None) -> None:
    assert split_reasoning(text) == (answer, reasoning)
