"""Seeded word problems with computed answers: multi-step arithmetic and small logic puzzles.

The same ``(kind, size, seed)`` always gives the same items, so a run can be repeated and two
configurations compared on identical questions. Templates take turns (in an order shuffled by the
seed), so even a small set mixes every template. Each answer is computed from the numbers drawn,
never written by hand; ``tests/evaluation/test_generator.py`` re-derives every answer from the question
text alone, by a different method, across many seeds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

from evaluation.datasets import Item

Kind = Literal["arithmetic", "logic"]
Problem = tuple[str, str]
"""A question and its answer."""

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NAMES = ("Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena")
PROPERTIES = ("blue", "round", "heavy", "shiny", "wooden", "striped", "hollow", "cold")
COMPARISONS = (("taller", "tallest", "shortest"), ("older", "oldest", "youngest"))


def generate(kind: Kind, size: int, seed: int) -> list[Item]:
    """``size`` problems of ``kind``, the same ones for the same seed."""
    if size < 0:
        raise ValueError("size must not be negative")
    templates = ARITHMETIC if kind == "arithmetic" else LOGIC
    rng = random.Random(f"{kind}:{seed}")  # a str seed hashes stably across runs and platforms
    order = sorted(templates)
    rng.shuffle(order)
    items = []
    for index in range(size):
        name = order[index % len(order)]
        question, answer = templates[name](rng)
        items.append(
            Item(id=f"{kind}-{seed}-{index + 1:03d}-{name}", question=question, answer=answer, kind=kind)
        )
    return items


# ---- arithmetic: two to four operations, whole-number answers -------------------------------------


def _bakery(rng: random.Random) -> Problem:
    trays, per_tray = rng.randint(3, 9), rng.randint(6, 12)
    baked = trays * per_tray
    morning = rng.randint(1, baked // 2)
    afternoon = rng.randint(1, baked - morning - 1)
    question = (
        f"A bakery bakes {trays} trays of {per_tray} muffins. It sells {morning} muffins in the "
        f"morning and {afternoon} in the afternoon. How many muffins are left?"
    )
    return question, str(baked - morning - afternoon)


def _savings(rng: random.Random) -> Problem:
    start, daily, days = rng.randint(5, 60), rng.randint(3, 15), rng.randint(2, 9)
    spent = rng.randint(1, start + daily * days - 1)
    question = (
        f"Maya has {start} dollars. She earns {daily} dollars a day for {days} days, then spends "
        f"{spent} dollars on a bike. How many dollars does she have left?"
    )
    return question, str(start + daily * days - spent)


def _sharing(rng: random.Random) -> Problem:
    boxes, students, each_per_box = rng.randint(2, 6), rng.randint(2, 9), rng.randint(1, 5)
    per_box = students * each_per_box  # so the pencils always divide evenly
    question = (
        f"A teacher has {boxes} boxes with {per_box} pencils in each box. She shares all the pencils "
        f"equally among {students} students. How many pencils does each student get?"
    )
    return question, str(boxes * per_box // students)


def _orchard(rng: random.Random) -> Problem:
    rows, trees, apples, crate = rng.randint(2, 6), rng.randint(3, 8), rng.randint(4, 12), rng.randint(5, 12)
    question = (
        f"An orchard has {rows} rows of {trees} trees. Each tree gives {apples} apples, and the "
        f"apples are packed in crates of {crate}. How many crates can be filled completely?"
    )
    return question, str(rows * trees * apples // crate)


def _ages(rng: random.Random) -> Problem:
    age, gap, factor = rng.randint(3, 12), rng.randint(1, 6), rng.randint(2, 4)
    question = (
        f"Leo is {age} years old. His sister is {gap} years older than him, and their father is "
        f"{factor} times as old as his sister. How old is their father?"
    )
    return question, str((age + gap) * factor)


def _trip(rng: random.Random) -> Problem:
    fast, fast_h = rng.randint(60, 120), rng.randint(2, 5)
    slow, slow_h = rng.randint(30, 59), rng.randint(1, 4)
    question = (
        f"A train travels at {fast} km per hour for {fast_h} hours, then at {slow} km per hour for "
        f"{slow_h} hours. How many kilometres does it travel in total?"
    )
    return question, str(fast * fast_h + slow * slow_h)


ARITHMETIC: dict[str, Callable[[random.Random], Problem]] = {
    "bakery": _bakery,
    "savings": _savings,
    "sharing": _sharing,
    "orchard": _orchard,
    "ages": _ages,
    "trip": _trip,
}


# ---- logic: ordering, implication chains, parity, the calendar -------------------------------------


def _ordering(rng: random.Random) -> Problem:
    """Adjacent comparisons of a hidden order, shuffled; ask for one end of it."""
    count = rng.randint(3, 5)
    people = rng.sample(NAMES, count)  # people[0] has the most of the quality
    more, most, least = rng.choice(COMPARISONS)
    clues = [f"{people[i]} is {more} than {people[i + 1]}." for i in range(count - 1)]
    rng.shuffle(clues)
    ask_most = rng.random() < 0.5
    question = f"{' '.join(clues)} Who is the {most if ask_most else least}?"
    return question, people[0] if ask_most else people[-1]


def _implication(rng: random.Random) -> Problem:
    """A chain of "every A card is B" rules; forward it answers yes, backward (modus tollens) no."""
    length = rng.randint(2, 4)
    chain = rng.sample(PROPERTIES, length + 1)
    rules = [f"Every {chain[i]} card is {chain[i + 1]}." for i in range(length)]
    rng.shuffle(rules)
    card = rng.choice("XYZ")
    if rng.random() < 0.5:
        fact, ask, answer = f"Card {card} is {chain[0]}.", f"Is card {card} {chain[-1]}?", "yes"
    else:
        fact, ask, answer = f"Card {card} is not {chain[-1]}.", f"Is card {card} {chain[0]}?", "no"
    return f"{' '.join(rules)} {fact} {ask} Answer yes or no.", answer


def _switch(rng: random.Random) -> Problem:
    start = rng.choice(("on", "off"))
    first, second = rng.randint(1, 9), rng.randint(1, 9)
    a, b = rng.sample(NAMES, 2)
    flips = first + second
    on = (start == "on") != (flips % 2 == 1)
    question = (
        f"A lamp is {start}. {a} presses its switch {first} times, then {b} presses it {second} "
        "times. Each press turns the lamp on if it was off and off if it was on. Is the lamp on now? "
        "Answer yes or no."
    )
    return question, "yes" if on else "no"


def _weekday(rng: random.Random) -> Problem:
    today, later = rng.randrange(7), rng.randint(2, 40)
    question = f"Today is {WEEKDAYS[today]}. What day of the week will it be {later} days from today?"
    return question, WEEKDAYS[(today + later) % 7]


LOGIC: dict[str, Callable[[random.Random], Problem]] = {
    "ordering": _ordering,
    "implication": _implication,
    "switch": _switch,
    "weekday": _weekday,
}
