"""Every strategy by name, and the plan of one request: its strategy after the request's overrides."""

from __future__ import annotations

from app.errors import InvalidOptions
from app.phases.catalog import Phase
from app.strategies.ballot import Ballot
from app.strategies.base import Plan, Strategy
from app.strategies.merge import Merge
from app.strategies.moa import Moa
from app.strategies.names import NAMES, StrategyName, unfit_reason
from app.strategies.rank import Rank
from app.strategies.route import Route
from app.strategies.self_consistency import SelfConsistency
from app.strategies.self_moa import SelfMoa
from app.strategies.synthesize import Synthesize
from app.strategies.vote import Vote

STRATEGIES: dict[StrategyName, Strategy] = {
    s.name: s
    for s in (Synthesize(), Vote(), SelfConsistency(), Rank(), Route(), SelfMoa(), Moa(), Merge(), Ballot())
}
if tuple(STRATEGIES) != NAMES:  # pragma: no cover - a strategy added to one list and not the other
    raise ImportError(f"strategy objects {list(STRATEGIES)} do not match the names {list(NAMES)}")


def plan_for(phase: Phase, name: StrategyName | None, samples: int | None, layers: int | None) -> Plan:
    """The request's strategy (else the phase's) and its sizes; 422 when the phase cannot run it."""
    config = phase.config
    chosen = name or config.strategy
    if (why := unfit_reason(chosen, has_decision=config.decision is not None)) is not None:
        raise InvalidOptions(
            f"{why}, and phase {phase.name!r} has none",
            hint="use it on a phase with a decision rule (kill-test), or choose another strategy",
            details={"field": "options.strategy", "allowed": list(NAMES)},
        )
    return Plan(phase, STRATEGIES[chosen], samples or config.samples, layers or config.moa_layers)
