"""Reads one JSON value at a position, with exactly the repairs the extraction policy allows.

docs/json-extraction.md §4 allows these and nothing else: ``//`` and ``/* */`` comments
outside strings, trailing commas, Python literal syntax (single-quoted strings, ``True``/``False``/
``None``), ``NaN``/``Infinity``/``-Infinity`` as ``null``, raw newlines and tabs inside strings.
Strict JSON takes the standard library's C scanner (``read_strict``); only text it rejects comes to
the slower ``read_lenient``, which also tells a value cut off by the end of the text (``Truncated``:
never closed up, §5) from text that is not JSON at all (``Invalid``).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from typing import Any

_STRICT = json.JSONDecoder(strict=False, parse_constant=lambda _name: None)
_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_DOUBLE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_SINGLE = re.compile(r"'[^'\\]*(?:\\.[^'\\]*)*'", re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_NUMBER_TAIL = re.compile(r"[\d.eE+\-]*")
_WORD = re.compile(r"-?[A-Za-z]+")
_WORDS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
    "NaN": None,
    "Infinity": None,
    "-Infinity": None,
}
MAX_DEPTH = 200
"""Deeper than any answer a model writes; beyond it the text is treated as not JSON."""


class Truncated(Exception):
    """The text ended inside the value (cut off by max_tokens)."""


class Invalid(Exception):
    """Not a JSON value, even with the allowed repairs."""


class Exhausted(Exception):
    """The work budget ran out (adversarial or huge input)."""


class Budget:
    """Bounds the total lenient work for one reply, so brace-heavy text cannot go quadratic."""

    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise Exhausted


def read_strict(text: str, pos: int) -> tuple[Any, int] | None:
    """The strict JSON value at ``pos`` and where it ends, or ``None`` (C speed, the usual case)."""
    try:
        return _STRICT.raw_decode(text, pos)
    except (ValueError, RecursionError):
        return None


def read_lenient(text: str, pos: int, budget: Budget) -> tuple[Any, int]:
    """The value at ``pos`` read with the allowed repairs; raises Truncated, Invalid or Exhausted."""
    return _Reader(text, budget).value(pos, 0)


def read_string(text: str, pos: int, budget: Budget) -> tuple[str, int]:
    """The (double- or single-quoted) string literal at ``pos``; raises Truncated or Invalid."""
    return _Reader(text, budget).string(pos)


class _Reader:
    __slots__ = ("budget", "end", "text")

    def __init__(self, text: str, budget: Budget) -> None:
        self.text = text
        self.end = len(text)
        self.budget = budget

    def skip(self, pos: int) -> int:
        """Past whitespace and comments; an unclosed ``/*`` runs to the end of the text."""
        if pos < self.end and (self.text[pos].isspace() or self.text[pos] == "/"):
            pos = _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]  # matches empty
            if self.text.startswith("/*", pos):
                raise Truncated
        if pos >= self.end:
            raise Truncated
        return pos

    def value(self, pos: int, depth: int) -> tuple[Any, int]:
        self.budget.spend(1)
        pos = self.skip(pos)
        char = self.text[pos]
        if char in "{[":
            if depth >= MAX_DEPTH:
                raise Invalid
            return self.object(pos, depth + 1) if char == "{" else self.array(pos, depth + 1)
        if char in "\"'":
            return self.string(pos)
        return self.scalar(pos)

    def object(self, pos: int, depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        pos = self.skip(pos + 1)
        closed = self.text[pos] == "}"
        while not closed:
            if self.text[pos] not in "\"'":
                raise Invalid
            key, pos = self.string(pos)
            pos = self.skip(pos)
            if self.text[pos] != ":":
                raise Invalid
            result[key], pos = self.value(pos + 1, depth)
            closed, pos = self.next_member(pos, "}")
        return result, pos + 1

    def array(self, pos: int, depth: int) -> tuple[list[Any], int]:
        result: list[Any] = []
        pos = self.skip(pos + 1)
        closed = self.text[pos] == "]"
        while not closed:
            item, pos = self.value(pos, depth)
            result.append(item)
            closed, pos = self.next_member(pos, "]")
        return result, pos + 1

    def next_member(self, pos: int, closer: str) -> tuple[bool, int]:
        """After a member: ``(True, at the closer)`` or ``(False, at the next member)``."""
        pos = self.skip(pos)
        if self.text[pos] == closer:
            return True, pos
        if self.text[pos] != ",":
            raise Invalid
        pos = self.skip(pos + 1)
        return self.text[pos] == closer, pos  # a closer right after the comma: a trailing comma

    def string(self, pos: int) -> tuple[str, int]:
        quote = self.text[pos]
        match = (_DOUBLE if quote == '"' else _SINGLE).match(self.text, pos)
        if match is None:  # no closing quote before the end
            raise Truncated
        self.budget.spend(1 + (match.end() - pos) // 64)
        if quote == '"':
            read = read_strict(self.text, pos)  # a JSON string, in C
            if read is not None:
                return read  # it started at a quote: a str
            # else an escape JSON lacks (``\'``, ``\x41``): read it as Python would
        return _python_string(match.group()), match.end()

    def scalar(self, pos: int) -> tuple[Any, int]:
        number = _NUMBER.match(self.text, pos)
        if number is not None:
            tail = _NUMBER_TAIL.match(self.text, number.end())
            if tail is not None and tail.end() == self.end and tail.end() > number.end():
                raise Truncated  # "1." or "2e" at the very end
            is_float = number.group(1) or number.group(2)
            return (float if is_float else int)(number.group()), number.end()
        word = _WORD.match(self.text, pos)
        if word is None:
            if self.text[pos] == "-" and pos + 1 == self.end:
                raise Truncated
            raise Invalid
        name = word.group()
        if name in _WORDS:
            return _WORDS[name], word.end()
        if word.end() == self.end and any(known.startswith(name) for known in _WORDS):
            raise Truncated
        raise Invalid


def _python_string(token: str) -> str:
    """A quoted token read as a Python string literal; raw newlines are kept as they are."""
    source = token.replace("\r", "\\r").replace("\n", "\\n")
    try:
        with warnings.catch_warnings():
            # An escape Python does not know either (``\q``) warns and is kept; here it is not JSON.
            warnings.simplefilter("error")
            value = ast.literal_eval(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError, Warning):
        raise Invalid from None
    if not isinstance(value, str):
        raise Invalid
    return value
