"""A request's options checked against its phase before any call: models, quorum, usable providers."""

from __future__ import annotations

from app.calls.fanout import Quorum
from app.errors import InvalidOptions, NoUsableProvider
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.roster import Roster


def members_for(phase: Phase, chosen: tuple[str, ...] | None) -> list[ModelCall]:
    """The parallel calls to make: all configured, or the caller's subset of them."""
    configured = [c.model for c in phase.config.parallel]
    unknown = [m for m in chosen or () if m not in configured]
    if unknown:
        raise InvalidOptions(
            f"options.models names {unknown}, not configured for phase {phase.name!r}",
            hint=f"choose among: {', '.join(configured)}",
            details={"field": "options.models", "allowed": configured},
        )
    return [c for c in phase.config.parallel if chosen is None or c.model in chosen]


def quorum_for(phase: Phase, needed: int | None, grace_s: float | None, members: int) -> Quorum | None:
    """The request's quorum, else the phase's; ``None`` waits for every member."""
    config = phase.config
    needed = needed or config.quorum
    if needed is None:
        return None
    if not config.min_successes <= needed <= members:
        raise InvalidOptions(
            f"options.quorum={needed} is outside {config.min_successes}..{members} for phase {phase.name!r}",
            hint=f"use at least min_successes ({config.min_successes}) and at most the number of "
            f"parallel models asked ({members})",
            details={"field": "options.quorum", "min": config.min_successes, "max": members},
        )
    return Quorum(needed, grace_s if grace_s is not None else config.quorum_grace_s)


def ensure_usable(phase: Phase, roster: Roster, members: list[ModelCall]) -> None:
    """503 before any work when neither the parallel models nor a single model can be called."""
    if any(roster.member(c.model).usable for c in members):
        return
    if roster.first_usable(phase.config.single_model) is not None:
        return
    aliases = [c.model for c in members] + list(phase.config.single_model)
    raise NoUsableProvider(
        f"no provider is configured for phase {phase.name!r}",
        hint="set the credentials of at least one provider: " + ", ".join(roster.missing_settings(aliases)),
    )
