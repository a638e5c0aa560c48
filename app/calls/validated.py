"""One model, validated: ask, and ask once more quoting the errors when its JSON is invalid.

The single-model mode, the last step of every fallback and each synthesizer go through here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from app.calls.call import call_model
from app.calls.guarded import Call
from app.calls.request import request_for
from app.deadline import Deadline
from app.domain import Outcome, Role, Success
from app.phases.catalog import Phase
from app.prompts import TaskPrompt
from app.roster import Member, Roster
from app.synthesis.judge import build_repair_prompt
from app.synthesis.validate import Parsed, annotate, parse_output


@dataclass(slots=True)
class Attempt:
    """What asking one model (plus at most one repair) produced."""

    parsed: Parsed | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    member: Member | None = None
    text: str = ""

    @property
    def valid(self) -> bool:
        return self.parsed is not None and self.parsed.valid

    def accepted(self) -> tuple[dict[str, Any], Member] | None:
        """The validated output and who wrote it, or ``None``."""
        if self.parsed is None or not self.parsed.valid or self.parsed.value is None or self.member is None:
            return None
        return self.parsed.value, self.member


@dataclass(frozen=True, slots=True)
class Sampling:
    """How a validated call samples: temperature, token limit and timeout."""

    temperature: float
    max_tokens: int
    timeout_s: float


async def ask_validated(
    member: Member,
    prompt: TaskPrompt,
    phase: Phase,
    *,
    role: Role,
    sampling: Sampling,
    deadline: Deadline,
    repair: bool = True,
) -> Attempt:
    """Ask ``member``; when its JSON is invalid and ``repair`` is on, ask once more with the errors."""
    attempt = Attempt(member=member)
    outcome = await _ask(member, prompt, phase, role, sampling, deadline)
    attempt.outcomes.append(outcome)
    if not isinstance(outcome, Success):
        return attempt
    attempt.text = outcome.completion.text
    attempt.parsed = parse_output(attempt.text, phase.output)
    attempt.outcomes[-1] = annotate(outcome, attempt.parsed)
    if attempt.valid or not repair or deadline.spent:
        return attempt
    fix = build_repair_prompt(prompt, answer=attempt.text, errors=attempt.parsed.errors)
    outcome = await _ask(member, fix, phase, "repair", sampling, deadline)
    attempt.outcomes.append(outcome)
    if isinstance(outcome, Success):
        repaired = parse_output(outcome.completion.text, phase.output)
        attempt.outcomes[-1] = annotate(outcome, repaired)
        if repaired.valid or len(repaired.errors) <= len(attempt.parsed.errors):
            attempt.parsed, attempt.text = repaired, outcome.completion.text
    return attempt


async def _ask(
    member: Member, prompt: TaskPrompt, phase: Phase, role: Role, sampling: Sampling, deadline: Deadline
) -> Outcome:
    request = request_for(
        member,
        prompt,
        temperature=sampling.temperature,
        max_tokens=sampling.max_tokens,
        timeout_s=sampling.timeout_s,
        schema=phase.output.wire_schema_for(bounded_output=member.spec.bounded_output),
    )
    return await call_model(Call(member, request, role, phase.name), deadline=deadline)


async def run_single(
    phase: Phase,
    prompt: TaskPrompt,
    roster: Roster,
    *,
    deadline: Deadline,
    role: Role,
    skip: Collection[str] = (),
) -> Attempt:
    """Try the phase's single models in order until one returns a valid output (``skip``: aliases
    already asked this request)."""
    config = phase.config
    sampling = Sampling(config.single_temperature, config.single_max_tokens, config.model_timeout_s)
    outcomes: list[Outcome] = []
    last = Attempt()
    for alias in config.single_model:
        member = roster.member(alias)
        if not member.usable or deadline.spent or alias in skip:
            continue
        last = await ask_validated(member, prompt, phase, role=role, sampling=sampling, deadline=deadline)
        outcomes.extend(last.outcomes)
        if last.valid:
            break
    last.outcomes = outcomes
    return last
