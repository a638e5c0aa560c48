"""Exact match after normalisation: numbers numerically, yes/no by first word, text loosely."""

from __future__ import annotations

import pytest

from evaluation.datasets import Item
from evaluation.scoring import is_correct, normalise


def item(answer: str, *accept: str) -> Item:
    return Item("x", "?", answer, accept=accept)


@pytest.mark.parametrize(
    ("answer", "expected", "correct"),
    [
        ("19", "19", True),
        ("19 muffins", "19", True),
        ("19.0", "19", True),
        ("$1,200", "1200", True),
        ("24 - 5 = 19", "19", True),  # the last number is the result
        ("-3", "-3", True),
        ("2.5", "2.5", True),
        ("18", "19", False),
        ("19 or 20", "19", False),
        ("nineteen", "19", False),
        ("", "19", False),
    ],
)
def test_numbers_compare_numerically(answer: str, expected: str, correct: bool) -> None:
    assert is_correct(answer, item(expected)) is correct


@pytest.mark.parametrize(
    ("answer", "expected", "correct"),
    [
        ("yes", "yes", True),
        ("Yes.", "yes", True),
        ("YES, it is", "yes", True),
        ("true", "yes", True),
        ("No", "no", True),
        ("no", "yes", False),
        ("maybe", "no", False),
        ("I think yes", "yes", False),  # the verdict must come first
        ("Yes or no", "yes", False),  # a hedge is not an answer
        ("No. Yes.", "no", False),
        ("Yes, it is heavy and not blue", "yes", True),
    ],
)
def test_yes_no_by_first_word(answer: str, expected: str, correct: bool) -> None:
    assert is_correct(answer, item(expected)) is correct


@pytest.mark.parametrize(
    ("answer", "correct"),
    [
        ("Paris", True),
        ("paris.", True),
        ("  PARIS ", True),
        ("Paris, France", False),
        ("Lyon", False),
    ],
)
def test_text_ignores_case_space_and_punctuation(answer: str, correct: bool) -> None:
    assert is_correct(answer, item("Paris")) is correct


def test_accepted_alternatives_and_articles() -> None:
    shakespeare = item("William Shakespeare", "Shakespeare")
    assert is_correct("Shakespeare", shakespeare)
    assert is_correct("william shakespeare!", shakespeare)
    assert not is_correct("Marlowe", shakespeare)
    assert is_correct("the Pacific Ocean", item("Pacific Ocean"))


def test_no_answer_is_wrong() -> None:
    assert not is_correct(None, item("4"))


def test_normalise_folds_accents_and_symbols() -> None:
    assert normalise("  Élodie's  Café! ") == "elodie s cafe"
