"""The warnings a phase result carries: what went wrong on the way, in words a planner reads."""

from __future__ import annotations

from app.calls.judging import Judged
from app.domain import SKIPS_THAT_DEGRADE, Outcome, Success
from app.phases.catalog import Phase


def call_warnings(outcomes: list[Outcome]) -> list[str]:
    """Failures worth a caller's attention: not unconfigured providers, not a lost hedge race; and
    answers that arrived but whose JSON the phase schema rejected (a silent loss otherwise)."""
    warnings = []
    for o in outcomes:
        if isinstance(o, Success):
            if o.output_errors:
                why = o.output_errors[0]
                warnings.append(f"{o.model.alias} ({o.role}) answered, but its JSON did not validate: {why}")
        elif o.status != "cancelled" and (o.status != "skipped" or o.error_kind in SKIPS_THAT_DEGRADE):
            warnings.append(f"{o.model.alias} ({o.role}) {o.status}: {o.error}")
    return warnings


def no_synthesis(phase: Phase, judged: Judged, answered: int, asked: int) -> str:
    """Why the phase has no synthesized output: too few answers, or no valid synthesis."""
    needed = phase.config.min_successes
    if answered < needed:
        return f"only {answered} of {asked} parallel models answered; min_successes is {needed}"
    attempt = judged.attempt
    if attempt.member is None:
        return "synthesis: no synthesizer was usable or every synthesizer failed"
    errors = attempt.parsed.errors[:3] if attempt.parsed else []
    return f"synthesis by {attempt.member.ref.alias} did not validate: {'; '.join(errors)}"
