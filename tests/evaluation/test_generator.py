"""The generator is deterministic per seed, and every answer survives an independent re-derivation.

The solvers below read only the question text and work the problem another way than the
generator does: by simulation (days, presses, pencils dealt out, crates packed) or by brute force
(every order of the people, every truth assignment of the card's properties).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from evaluation.generator import ARITHMETIC, LOGIC, generate
from evaluation.scoring import is_correct

SEEDS = range(150)


def ints(pattern: str, text: str) -> list[int]:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return [int(g) for g in match.groups()]


def bakery(q: str) -> str:
    trays, per_tray, morning, afternoon = ints(
        r"bakes (\d+) trays of (\d+) muffins\. It sells (\d+) .* and (\d+) in the afternoon", q
    )
    muffins = sum(per_tray for _ in range(trays))
    for _ in range(morning + afternoon):
        muffins -= 1
    return str(muffins)


def savings(q: str) -> str:
    start, daily, days, spent = ints(
        r"has (\d+) dollars\. She earns (\d+) dollars a day for (\d+) days, then spends (\d+)", q
    )
    money = start
    for _ in range(days):
        money += daily
    return str(money - spent)


def sharing(q: str) -> str:
    boxes, per_box, students = ints(r"has (\d+) boxes with (\d+) pencils .* among (\d+) students", q)
    dealt = [0] * students
    for pencil in range(boxes * per_box):  # deal them out one by one
        dealt[pencil % students] += 1
    assert len(set(dealt)) == 1, "the pencils must share out equally"
    return str(dealt[0])


def orchard(q: str) -> str:
    rows, trees, apples, crate = ints(
        r"has (\d+) rows of (\d+) trees\. Each tree gives (\d+) apples.* crates of (\d+)", q
    )
    left, crates = rows * trees * apples, 0
    while left >= crate:
        left, crates = left - crate, crates + 1
    return str(crates)


def ages(q: str) -> str:
    age, gap, factor = ints(
        r"Leo is (\d+) years old\. His sister is (\d+) years older .* (\d+) times as old", q
    )
    return str(sum([age + gap] * factor))


def trip(q: str) -> str:
    fast, fast_h, slow, slow_h = ints(
        r"at (\d+) km per hour for (\d+) hours, then at (\d+) km per hour for (\d+) hours", q
    )
    return str(sum([fast] * fast_h + [slow] * slow_h))


def ordering(q: str) -> str:
    clues = re.findall(r"(\w+) is (taller|older) than (\w+)\.", q)
    people = sorted({p for a, _, b in clues for p in (a, b)})
    asked = re.search(r"Who is the (\w+)\?", q)
    assert asked
    ends = set()
    for order in itertools.permutations(people):  # order[0] has the most of the quality
        if all(order.index(a) < order.index(b) for a, _, b in clues):
            ends.add(order[0] if asked.group(1) in ("tallest", "oldest") else order[-1])
    assert len(ends) == 1, f"the clues must fix the answer: {q}"
    return ends.pop()


def implication(q: str) -> str:
    rules = re.findall(r"Every (\w+) card is (\w+)\.", q)
    fact = re.search(r"Card (\w) is (not )?(\w+)\.", q)
    asked = re.search(r"Is card \w (\w+)\?", q)
    assert fact and asked
    props = sorted({p for rule in rules for p in rule})
    values = set()
    for bits in itertools.product((False, True), repeat=len(props)):
        world = dict(zip(props, bits, strict=True))
        if all(world[b] or not world[a] for a, b in rules) and world[fact.group(3)] == (
            fact.group(2) is None
        ):
            values.add(world[asked.group(1)])
    assert len(values) == 1, f"the premises must decide the question: {q}"
    return "yes" if values.pop() else "no"


def switch(q: str) -> str:
    start = re.search(r"A lamp is (on|off)\.", q)
    assert start
    on = start.group(1) == "on"
    for presses in ints(r"presses its switch (\d+) times, then \w+ presses it (\d+) times", q):
        for _ in range(presses):
            on = not on
    return "yes" if on else "no"


def weekday(q: str) -> str:
    match = re.search(r"Today is (\w+)\. .* be (\d+) days from today", q)
    assert match
    monday = date(2024, 1, 1)  # a Monday
    today = next(
        monday + timedelta(days=i)
        for i in range(7)
        if (monday + timedelta(days=i)).strftime("%A") == match.group(1)
    )
    return (today + timedelta(days=int(match.group(2)))).strftime("%A")


SOLVERS: dict[str, Callable[[str], str]] = {
    "bakery": bakery,
    "savings": savings,
    "sharing": sharing,
    "orchard": orchard,
    "ages": ages,
    "trip": trip,
    "ordering": ordering,
    "implication": implication,
    "switch": switch,
    "weekday": weekday,
}


def test_every_template_has_an_independent_solver() -> None:
    assert set(SOLVERS) == set(ARITHMETIC) | set(LOGIC)


@pytest.mark.parametrize("kind", ["arithmetic", "logic"])
def test_answers_survive_independent_solving(kind: str) -> None:
    checked = 0
    for seed in SEEDS:
        for item in generate(kind, 12, seed):  # type: ignore[arg-type]
            template = item.id.rsplit("-", 1)[1]
            solved = SOLVERS[template](item.question)
            assert solved == item.answer, (
                f"{item.id}: {item.question} -> {solved}, generator said {item.answer}"
            )
            assert is_correct(solved, item)
            checked += 1
    assert checked == 12 * len(SEEDS)


def test_arithmetic_answers_are_positive_whole_numbers() -> None:
    for seed in SEEDS:
        for item in generate("arithmetic", 12, seed):
            assert item.answer.isdigit() and int(item.answer) > 0, item


@pytest.mark.parametrize("kind", ["arithmetic", "logic"])
def test_the_same_seed_gives_the_same_items(kind: str) -> None:
    assert generate(kind, 30, 7) == generate(kind, 30, 7)  # type: ignore[arg-type]
    assert generate(kind, 30, 7) != generate(kind, 30, 8)  # type: ignore[arg-type]
    # A smaller set is the start of a larger one, so --size grows a run without reshuffling it.
    assert generate(kind, 5, 7) == generate(kind, 30, 7)[:5]  # type: ignore[arg-type]


def test_a_small_set_uses_every_template_and_ids_are_unique() -> None:
    arithmetic, logic = generate("arithmetic", len(ARITHMETIC), 3), generate("logic", len(LOGIC), 3)
    assert {i.id.rsplit("-", 1)[1] for i in arithmetic} == set(ARITHMETIC)
    assert {i.id.rsplit("-", 1)[1] for i in logic} == set(LOGIC)
    many = generate("logic", 100, 3)
    assert len({i.id for i in many}) == 100


def test_logic_answers_are_balanced_enough_to_catch_a_constant_guess() -> None:
    answers = [i.answer for seed in SEEDS for i in generate("logic", 12, seed) if i.answer in ("yes", "no")]
    assert 0.35 < answers.count("yes") / len(answers) < 0.65


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        generate("logic", -1, 0)
