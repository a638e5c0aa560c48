"""Is an answer right? Exact match after normalisation, by the kind of answer expected.

- a number: the last number in the answer, compared numerically (``"19 muffins"``, ``"$1,200"``
  and ``"19.0"`` all match ``19``); number words (``"nineteen"``) do not count;
- yes / no: the answer's first word (``yes``, ``true`` / ``no``, ``false``), unless the other
  one appears too (``"Yes or no"`` hedges, and is wrong);
- anything else: the whole answer, ignoring case, accents, punctuation, spacing and a leading
  article, against the expected answer and each accepted alternative. ``"Paris."`` matches
  ``Paris``; ``"Paris, France"`` does not: the question asked for one thing.
"""

from __future__ import annotations

import re
import unicodedata

from evaluation.datasets import Item

_NUMBER = re.compile(r"[-−]?\d+(?:,\d{3})*(?:\.\d+)?")
_YES = frozenset({"yes", "true", "correct"})
_NO = frozenset({"no", "false", "incorrect"})
_ARTICLES = ("the ", "a ", "an ")
_TOLERANCE = 1e-9


def is_correct(answer: str | None, item: Item) -> bool:
    """Whether ``answer`` (``None``: no answer at all) matches ``item``'s answer."""
    if answer is None:
        return False
    expected = number(item.answer)
    if expected is not None:
        got = last_number(answer)
        return got is not None and abs(got - expected) <= _TOLERANCE * max(1.0, abs(expected))
    wanted = normalise(item.answer)
    if wanted in ("yes", "no"):
        return yes_no(answer) == wanted
    return normalise(answer) in {wanted, *(normalise(a) for a in item.accept)}


def normalise(text: str) -> str:
    """Lower case, accents folded, punctuation dropped, spaces collapsed, no leading article."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(
        " " if unicodedata.category(c).startswith(("P", "S")) else c
        for c in folded
        if not unicodedata.combining(c)
    )
    words = " ".join(kept.split())
    for article in _ARTICLES:
        if words.startswith(article):
            return words[len(article) :]
    return words


def number(text: str) -> float | None:
    """``text`` as a number when it is nothing else (``"42"``, ``"-3.5"``, ``"1,200"``)."""
    stripped = text.strip()
    match = _NUMBER.fullmatch(stripped)
    return _value(match.group()) if match else None


def last_number(text: str) -> float | None:
    """The last number written in ``text``: a model's final figure usually comes last."""
    found = _NUMBER.findall(text)
    return _value(found[-1]) if found else None


def yes_no(text: str) -> str | None:
    """``yes`` or ``no`` when the answer leads with one and never says the other; else ``None``."""
    words = normalise(text).split()
    if not words:
        return None
    for verdict, same, other in (("yes", _YES, _NO), ("no", _NO, _YES)):
        if words[0] in same:
            return None if other & set(words) else verdict
    return None


def _value(token: str) -> float:
    return float(token.replace(",", "").replace("−", "-"))
