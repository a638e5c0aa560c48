"""The ways of answering that an eval compares: each configured model alone, and each strategy.

``single:<alias>`` asks one parallel member through the service's single-model path;
``strategy:<name>`` runs the full orchestration with that strategy. Both go through
``Orchestrator.orchestrate``, so each mode pays for exactly the calls the service would make.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from app.errors import ConfigError
from app.phases.catalog import Phase
from app.results import PhaseRequest
from app.roster import Roster
from app.strategies.names import NAMES as STRATEGIES
from app.strategies.names import StrategyName, unfit_reason
from app.synthesis.ballot import ballot_form
from evaluation.datasets import Item
from evaluation.task import alone


@dataclass(frozen=True, slots=True)
class Mode:
    """One way of answering: the phase it runs and how each question is asked."""

    name: str
    phase: Phase
    strategy: StrategyName | None = None
    """``None``: a single model."""

    def request(self, item: Item) -> PhaseRequest:
        if self.strategy is None:
            return PhaseRequest(idea=item.question, single_model=True)
        return PhaseRequest(idea=item.question, strategy=self.strategy)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A mode that exists in principle but cannot run here, and why."""

    name: str
    reason: str


def every_mode(task: Phase, roster: Roster) -> tuple[list[Mode], list[Unavailable]]:
    """Every mode this roster can run on ``task``, singles first, and those it cannot."""
    modes: list[Mode] = []
    missing: list[Unavailable] = []
    for call in task.config.parallel:
        member = roster.member(call.model)
        name = f"single:{call.model}"
        if member.usable:
            modes.append(Mode(name, alone(task, call.model)))
        else:
            needs = ", ".join(member.provider.missing_settings) or "its provider's settings"
            missing.append(Unavailable(name, f"provider {member.ref.provider!r} is not configured ({needs})"))
    for strategy in STRATEGIES:
        name = f"strategy:{strategy}"
        # The service's own rule (a vote needs a categorical decision field): quiz answers are free
        # text with no fixed options, so there is nothing to vote on.
        if (why := unfit_reason(strategy, has_decision=task.config.decision is not None)) is not None:
            missing.append(Unavailable(name, f"{why}; quiz answers are free text"))
        elif strategy == "ballot" and not ballot_form(task.output, task.config.decision).fields:
            # Measured, it would be the first member alone: single:<first> already is that.
            missing.append(
                Unavailable(name, "strategy 'ballot' votes on decision fields; quiz answers have none")
            )
        else:
            modes.append(Mode(name, task, strategy))
    return modes, missing


def choose(modes: list[Mode], missing: list[Unavailable], patterns: list[str] | None) -> list[Mode]:
    """The modes named by ``patterns`` (``single:*``, ``strategy:moa``, ...), in their usual order.

    Naming a mode that cannot run here, or one that matches nothing, is an error that lists what
    can run: a silently shorter comparison would read as a complete one."""
    if not patterns:
        return modes
    names = [m.name for m in modes]
    chosen: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)
        if not hits:
            why = next((u.reason for u in missing if fnmatch.fnmatchcase(u.name, pattern)), None)
            raise ConfigError(
                f"--modes {pattern!r} " + (f"cannot run here: {why}" if why else "matches no mode"),
                hint=f"choose among: {', '.join(names)} (wildcards work: single:*, strategy:*)",
            )
        chosen.update(hits)
    return [m for m in modes if m.name in chosen]
