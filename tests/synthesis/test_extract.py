"""Extraction mechanics the corpus does not show: failure messages, the strict limits of repair,
work bounds on adversarial input, and the lenient reader's truncated-versus-invalid call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.synthesis.extract import extract
from app.synthesis.lenient_json import Budget, Invalid, Truncated, read_lenient
from tests.support import fixture

KILL = fixture("kill-test")


def test_a_cut_off_answer_is_never_closed_up() -> None:
    found = extract(json.dumps(KILL)[:-40])
    assert found.value is None and found.failure == "truncated"
    assert found.message == "the answer was cut off inside its JSON (truncated): not repaired"


def test_no_json_says_how_the_answer_begins() -> None:
    found = extract("I'm sorry,   I cannot\nhelp with that.")
    assert found.failure == "no_json"
    assert found.message.endswith('(it begins: "I\'m sorry, I cannot help with that.")')


@pytest.mark.parametrize(
    ("reply", "failure", "words"),
    [
        ("<think>weighing it", "unfinished_reasoning", "never closed"),
        ("<think>weighed it</think>", "reasoning_only", "only reasoning"),
    ],
)
def test_reasoning_failures_are_named(reply: str, failure: str, words: str) -> None:
    found = extract(reply)
    assert found.failure == failure and words in found.message


def test_a_found_value_has_no_failure_message() -> None:
    found = extract('{"a": 1}')
    assert found.failure is None and found.message == ""


@pytest.mark.parametrize(
    "reply",
    [
        "{verdict: 'GO'}",  # unquoted keys
        '{"a": 1 "b": 2}',  # a missing comma
        "{“verdict”: “GO”}",  # curly-quote delimiters
        '{"a": 1, # a hash comment\n}',
        '{"a": undefined}',
        '{"a": 1,,}',
        "[,1]",
        "{'a': 0x1F}",  # a Python literal, but not one the policy names
    ],
)
def test_only_the_policys_repairs_are_made(reply: str) -> None:
    assert extract(reply).failure == "no_json"


def test_the_fast_path_and_the_scan_agree() -> None:
    text = json.dumps(KILL, indent=2)
    assert extract(text).value == extract("Answer:\n" + text).value == KILL


def test_many_junk_openers_before_the_answer_are_survived() -> None:
    reply = "Use {x} and [y] here. " * 200 + json.dumps(KILL)
    assert extract(reply).value == KILL


@pytest.mark.parametrize(
    "reply",
    [
        "[" * 50_000 + '{"a": 1}',
        "{" * 50_000,
        "[1," * 20_000 + "x",
        '"{' * 20_000,
        '["a' * 30_000,
        "[/*" * 20_000,
        "x" * 200_000,
        ("[" + '"' + "a" * 1000 + '", ') * 100 + "x",
    ],
)
def test_adversarial_input_ends_without_an_answer_or_a_crash(reply: str) -> None:
    # The work is bounded (a budget on lenient reading, a cap on failed openers); the outcome is a
    # failure either way, never a RecursionError or a made-up value.
    assert extract(reply).value is None


def test_many_candidates_still_pick_the_last_full_size_one() -> None:
    reply = " ".join(json.dumps({"n": i}) for i in range(5000))
    assert extract(reply).value == {"n": 4999}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2.5e3, -0.5, true, null]}', {"a": [1, 2500.0, -0.5, True, None]}),
        ("{'k': 'tab\\there', \"q\": 'x\\'y'}", {"k": "tab\there", "q": "x'y"}),
        ('{"quote": "it\\\'s"}', {"quote": "it's"}),  # an escape JSON lacks, read as Python would
        ('{"a": 1 /* c */, "b": [2,],}', {"a": 1, "b": [2]}),
    ],
)
def test_the_lenient_reader_values(text: str, expected: Any) -> None:
    value, end = read_lenient(text, 0, Budget(10_000))
    assert value == expected and end == len(text)


@pytest.mark.parametrize(
    "text",
    ['{"a": 1', '{"a": "text', '{"a"', '{"a": tru', '{"a": -', '{"a": 1.', '{"a": 1, /* open', "['a', 'b"],
)
def test_the_end_of_the_text_inside_a_value_is_truncation(text: str) -> None:
    with pytest.raises(Truncated):
        read_lenient(text, 0, Budget(10_000))


@pytest.mark.parametrize(
    "text", ['{"a": "\\q"}', '{"a": 1]', '{"a": trux}', "{1: 2}", '["a" "b"]', "{'a': 'b' 'c'}"]
)
def test_malformed_text_is_invalid_not_truncated(text: str) -> None:
    with pytest.raises(Invalid):
        read_lenient(text, 0, Budget(10_000))
