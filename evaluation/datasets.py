"""Labelled questions: the item type, the shipped sets and the loader for a user's JSONL file.

A JSONL line is one object: ``{"question": "...", "answer": "..."}`` plus, optionally, ``id``,
``kind`` (a label the report groups by), ``accept`` (other spellings of the same answer) and
``meta`` (anything; carried through to the report untouched). Unknown keys are rejected so a
typo such as ``"anwser"`` is an error on its line rather than an item scored against nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import DatasetError

DATA_DIR = Path(__file__).parent / "data"
FACTS_FILE = DATA_DIR / "facts.jsonl"
_KEYS = frozenset({"id", "question", "answer", "kind", "accept", "meta"})
_SHAPE = '{"question": "What is 6 x 7?", "answer": "42"}'


@dataclass(frozen=True, slots=True)
class Item:
    """One question with the answer it is checked against."""

    id: str
    question: str
    answer: str
    kind: str = "custom"
    accept: tuple[str, ...] = ()
    """Other answers scored as correct (``"Shakespeare"`` beside ``"William Shakespeare"``)."""
    meta: dict[str, Any] = field(default_factory=dict)


def load_jsonl(path: Path) -> list[Item]:
    """Every item in ``path``; a ``DatasetError`` names the first bad line and how to fix it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(
            f"cannot read dataset {path}: {exc.strerror or exc}",
            hint="pass arithmetic, logic, facts, or the path of a readable .jsonl file",
        ) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text: {exc.reason}", hint="save the file as UTF-8") from None
    items: list[Item] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # blank lines and comments make a hand-written file easier to keep
        item = _item(line, path, number)
        if item.id in seen:
            raise DatasetError(
                f"{path}:{number}: id {item.id!r} was already used on line {seen[item.id]}",
                hint="give every item its own id, or leave id out to number items by line",
            )
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(f"{path} holds no items", hint=f"write one JSON object per line, e.g. {_SHAPE}")
    return items


def facts() -> list[Item]:
    """The hand-written set shipped with the project: factual and short reasoning questions."""
    return load_jsonl(FACTS_FILE)


def _item(line: str, path: Path, number: int) -> Item:
    where = f"{path}:{number}"
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise DatasetError(
            f"{where}: not valid JSON ({exc})", hint=f"each line must be one JSON object, e.g. {_SHAPE}"
        ) from None
    if not isinstance(raw, dict):
        raise DatasetError(
            f"{where}: a JSON {type(raw).__name__}, not an object",
            hint=f"each line must be one JSON object, e.g. {_SHAPE}",
        )
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise DatasetError(
            f"{where}: unknown key(s) {unknown}",
            hint=f"allowed keys: {', '.join(sorted(_KEYS))}; put anything else under meta",
        )
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: question is missing or empty", hint=f"e.g. {_SHAPE}")
    answer = _text(raw.get("answer"), where, "answer")
    accept = raw.get("accept", [])
    if not isinstance(accept, list):
        raise DatasetError(f"{where}: accept must be a list", hint='e.g. "accept": ["Shakespeare"]')
    kind = raw.get("kind", "custom")
    if not isinstance(kind, str) or not kind:
        raise DatasetError(f"{where}: kind must be a non-empty string", hint='e.g. "kind": "geography"')
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        raise DatasetError(f"{where}: meta must be an object", hint='e.g. "meta": {"source": "..."}')
    item_id = raw.get("id", f"line-{number}")
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
        raise DatasetError(f"{where}: id must be a non-empty string or a number", hint='e.g. "id": "q17"')
    return Item(
        id=str(item_id),
        question=question.strip(),
        answer=answer,
        kind=kind,
        accept=tuple(_text(a, where, "accept") for a in accept),
        meta=meta,
    )


def _text(value: object, where: str, key: str) -> str:
    """An answer as text: strings as given, numbers written out (``42``, ``2.5``)."""
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
        raise DatasetError(
            f"{where}: {key} must be a string or a number, not {json.dumps(value)}",
            hint='write yes/no answers as "yes" / "no"; e.g. "answer": "42"',
        )
    text = value.strip() if isinstance(value, str) else str(value)
    if not text:
        raise DatasetError(f"{where}: {key} is empty", hint=f"e.g. {_SHAPE}")
    return text
