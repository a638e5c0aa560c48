"""Tallies a phase's decision field (kill-test's verdict) across the parallel answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.phases.config import DecisionRule


@dataclass(frozen=True, slots=True)
class Tally:
    """Who chose what, the weighted totals, and the option the rule favours."""

    field: str
    choices: dict[str, str] = dataclasses.field(default_factory=dict)
    """Model alias -> the option its answer chose (answers without a valid option are absent)."""
    weighted: dict[str, float] = dataclasses.field(default_factory=dict)
    leader: str | None = None
    """The weighted majority; a tie involving the veto option goes to the veto; else ``None``."""

    def settled(self) -> dict[str, str]:
        """The field the vote settles and its leader, for a merge; empty without a leader."""
        return {self.field: self.leader} if self.leader is not None else {}

    def describe(self, rule: DecisionRule, labels: Mapping[str, str]) -> str:
        """A few lines for the judge: the raw votes by answer label and the weighted result."""
        by_label = {label: self.choices[a] for label, a in labels.items() if a in self.choices}
        votes = ", ".join(f"Answer {label}: {opt}" for label, opt in sorted(by_label.items()))
        weights = ", ".join(f"{opt} {w:g}" for opt, w in self.weighted.items())
        veto = (
            f" Each {rule.veto} counts {rule.veto_weight:g} votes."
            if rule.veto and rule.veto_weight > 1
            else ""
        )
        result = f"weighted majority: {self.leader}" if self.leader else "no majority (tie)"
        return f"Votes on `{self.field}`: {votes or 'none'}.{veto} Weighted: {weights}; {result}."


def tally(rule: DecisionRule, answers: Mapping[str, Any]) -> Tally:
    """Count ``rule.field`` over ``answers`` (alias -> parsed JSON object, or ``None``)."""
    choices = {
        alias: value[rule.field]
        for alias, value in answers.items()
        if isinstance(value, dict) and value.get(rule.field) in rule.options
    }
    weighted = {option: 0.0 for option in rule.options}
    for option in choices.values():
        weighted[option] += rule.veto_weight if option == rule.veto else 1.0
    best = max(weighted.values()) if choices else 0.0
    top = [option for option, w in weighted.items() if w == best and best > 0]
    leader = top[0] if len(top) == 1 else (rule.veto if rule.veto in top else None)
    return Tally(rule.field, choices, weighted, leader)
