"""One model, validated: the single-model mode and the last step of every fallback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.deadline import Deadline
from app.domain import CompletionRequest, Outcome, Prompt, Role, Success
from app.fanout import Call, call_model
from app.phases.catalog import Phase
from app.prompts import TaskPrompt, fit_prompt
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


def request_for(
    member: Member,
    prompt: Prompt | TaskPrompt,
    *,
    temperature: float,
    max_tokens: int,
    timeout_s: float,
    schema: dict[str, object] | None,
) -> CompletionRequest:
    """A request that honours the model's declared capabilities and fits its context window
    (``overflow`` set when even the trimmed prompt cannot fit: the fan-out then skips the call)."""
    perspective = f"\n\nYour perspective: {member.spec.perspective}" if member.spec.perspective else ""
    fitted = fit_prompt(
        prompt, window=member.spec.context_window, max_tokens=max_tokens, system_extra=perspective
    )
    return CompletionRequest(
        model=member.ref.model_id,
        prompt=fitted.prompt,
        overflow=fitted.overflow,
        seed=member.spec.seed,
        max_tokens=max_tokens,
        timeout_s=timeout_s,
        temperature=temperature if member.spec.accepts_temperature else None,
        json_schema=schema if member.spec.structured_output else None,
    )


async def ask_validated(
    member: Member,
    prompt: TaskPrompt,
    phase: Phase,
    *,
    role: Role,
    temperature: float,
    max_tokens: int,
    timeout_s: float,
    deadline: Deadline,
    repair: bool = True,
) -> Attempt:
    """Ask ``member``; when its JSON is invalid and ``repair`` is on, ask once more with the errors."""
    attempt = Attempt(member=member)
    schema = phase.output.wire_schema_for(bounded_output=member.spec.bounded_output)
    request = request_for(
        member,
        prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout_s=timeout_s,
        schema=schema,
    )
    outcome = await call_model(Call(member, request, role, phase.name), deadline=deadline)
    attempt.outcomes.append(outcome)
    if not isinstance(outcome, Success):
        return attempt
    attempt.text = outcome.completion.text
    attempt.parsed = parse_output(attempt.text, phase.output)
    attempt.outcomes[-1] = annotate(outcome, attempt.parsed)
    if attempt.valid or not repair or deadline.spent:
        return attempt
    fix = build_repair_prompt(prompt, answer=attempt.text, errors=attempt.parsed.errors)
    request = request_for(
        member,
        fix,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout_s=timeout_s,
        schema=schema,
    )
    outcome = await call_model(Call(member, request, "repair", phase.name), deadline=deadline)
    attempt.outcomes.append(outcome)
    if isinstance(outcome, Success):
        repaired = parse_output(outcome.completion.text, phase.output)
        attempt.outcomes[-1] = annotate(outcome, repaired)
        if repaired.valid or len(repaired.errors) <= len(attempt.parsed.errors):
            attempt.parsed, attempt.text = repaired, outcome.completion.text
    return attempt


async def run_single(
    phase: Phase,
    prompt: TaskPrompt,
    roster: Roster,
    *,
    deadline: Deadline,
    role: Role,
    aliases: Sequence[str] | None = None,
) -> Attempt:
    """Try the phase's single models in order until one returns a valid output."""
    config = phase.config
    outcomes: list[Outcome] = []
    last = Attempt()
    for alias in aliases or config.single_model:
        member = roster.member(alias)
        if not member.usable or deadline.spent:
            continue
        last = await ask_validated(
            member,
            prompt,
            phase,
            role=role,
            temperature=config.single_temperature,
            max_tokens=config.single_max_tokens,
            timeout_s=config.model_timeout_s,
            deadline=deadline,
        )
        outcomes.extend(last.outcomes)
        if last.valid:
            break
    last.outcomes = outcomes
    return last
