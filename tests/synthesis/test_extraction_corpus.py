"""Every corpus reply extracts to what the policy says it meant (tests/synthesis/extraction_corpus.py)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from app.synthesis.extract import extract
from tests.synthesis.extraction_corpus import CASES, Case


def canonical(value: Any) -> str:
    """Exact JSON identity: ``True`` is not ``1`` and key order does not matter."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_policy_decides(case: Case) -> None:
    found = extract(case.reply)
    assert canonical(found.value) == canonical(case.expected)
    assert found.failure == case.failure


def test_the_corpus_covers_the_policy() -> None:
    ids = Counter(case.id for case in CASES)
    assert [i for i, n in ids.items() if n > 1] == []
    categories = Counter(case.category for case in CASES)
    assert len(CASES) >= 150 and len(categories) >= 26
    assert all(n >= 2 for n in categories.values()), categories
    assert all((case.expected is None) == (case.failure is not None) for case in CASES)
