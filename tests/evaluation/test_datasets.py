"""The shipped set loads and scores itself; a bad JSONL line is an error naming the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import DatasetError
from evaluation.datasets import Item, facts, load_jsonl
from evaluation.scoring import is_correct


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_shipped_facts_load_and_every_answer_scores_as_correct() -> None:
    items = facts()
    assert 20 <= len(items) <= 40
    assert len({i.id for i in items}) == len(items)
    assert {i.kind for i in items} == {"fact", "reasoning"}
    for item in items:
        assert is_correct(item.answer, item), item
        assert all(is_correct(a, item) for a in item.accept), item


def test_a_file_with_every_optional_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# comments and blank lines are skipped",
        "",
        '{"question": "6 x 7?", "answer": 42}',
        '{"id": 7, "question": " Who wrote Hamlet? ", "answer": "William Shakespeare", "kind": "lit",'
        ' "accept": ["Shakespeare"], "meta": {"source": "me"}}',
    )
    assert load_jsonl(path) == [
        Item("line-3", "6 x 7?", "42"),
        Item("7", "Who wrote Hamlet?", "William Shakespeare", "lit", ("Shakespeare",), {"source": "me"}),
    ]


@pytest.mark.parametrize(
    ("line", "message", "hint"),
    [
        ("{not json", r"set\.jsonl:2: not valid JSON", "one JSON object"),
        ('["a list"]', r":2: a JSON list, not an object", "one JSON object"),
        ('{"question": "q", "anwser": "a"}', r":2: unknown key\(s\) \['anwser'\]", "allowed keys"),
        ('{"answer": "a"}', r":2: question is missing or empty", "question"),
        ('{"question": "  ", "answer": "a"}', r":2: question is missing or empty", "question"),
        ('{"question": "q"}', r":2: answer must be a string or a number, not null", "answer"),
        ('{"question": "q", "answer": true}', r":2: answer must be a string or a number, not true", "yes"),
        ('{"question": "q", "answer": " "}', r":2: answer is empty", "answer"),
        ('{"question": "q", "answer": "a", "accept": "b"}', r":2: accept must be a list", "accept"),
        ('{"question": "q", "answer": "a", "meta": 3}', r":2: meta must be an object", "meta"),
        (
            '{"question": "q", "answer": "a", "id": "line-1"}',
            r":2: id 'line-1' was already used on line 1",
            "own id",
        ),
    ],
)
def test_a_bad_line_names_itself_and_the_fix(tmp_path: Path, line: str, message: str, hint: str) -> None:
    path = write(tmp_path, '{"question": "first", "answer": "1"}', line)
    with pytest.raises(DatasetError, match=message) as caught:
        load_jsonl(path)
    assert caught.value.hint is not None and hint in caught.value.hint


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="holds no items"):
        load_jsonl(write(tmp_path, "# only a comment"))
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_jsonl(tmp_path / "absent.jsonl")
