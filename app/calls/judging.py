"""The judge step's calls: the synthesizers asked in order (hedged when configured), wild ideas beside."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.calls.call import call_model
from app.calls.guarded import Call
from app.calls.hedge import hedged
from app.calls.request import request_for
from app.calls.validated import Attempt, Sampling, ask_validated
from app.deadline import Deadline
from app.domain import Failure, Outcome, Prompt, Success
from app.phases.catalog import Phase
from app.prompts import TaskPrompt
from app.roster import Member, Roster
from app.synthesis.answers import Answer, by_alias
from app.synthesis.judge import JudgePrompt, judge_prompt
from app.synthesis.validate import Parsed
from app.synthesis.votes import Tally
from app.synthesis.wild_ideas import WildIdea, parse_wild_ideas, wild_ideas_prompt

WILD_IDEAS_TIMEOUT_S = 30.0
WILD_IDEAS_MAX_TOKENS = 1024
WILD_IDEAS_GRACE_S = 5.0
"""How long a finished judge waits for the wild-ideas call before cancelling it."""

WildIdeas = asyncio.Task[tuple[list[WildIdea], Outcome]]


@dataclass(slots=True)
class Judged:
    """Everything the synthesis step produced, valid output or not."""

    attempt: Attempt
    labels: dict[str, str]
    answers: dict[str, Parsed]
    """Model alias -> its parsed answer (valid or with errors)."""
    tally: Tally | None = None
    wild_ideas: list[WildIdea] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


async def judge(
    phase: Phase,
    task: TaskPrompt,
    answers: Sequence[Answer],
    roster: Roster,
    *,
    deadline: Deadline,
    rng: random.Random,
    extra_rules: Sequence[str] = (),
) -> Judged:
    """Ask the first usable synthesizer (then its backups, if it fails) to reconcile ``answers``."""
    built, votes = judge_prompt(phase, task, answers, rng, extra_rules)
    result = Judged(Attempt(), built.labels, by_alias(answers), votes)
    wild = _start_wild_ideas(phase, built, roster, deadline)
    try:
        result.attempt, result.outcomes = await _synthesize(phase, built.prompt, roster, deadline)
    except BaseException:  # cancelled (deadline, client gone): take the side task down too
        if wild is not None:
            wild.cancel()
            await asyncio.gather(wild, return_exceptions=True)
        raise
    if wild is not None:
        ideas, outcome = await _wild_ideas_result(wild, phase, roster, deadline)
        result.wild_ideas = ideas
        result.outcomes.append(outcome)
    return result


async def _synthesize(
    phase: Phase, prompt: TaskPrompt, roster: Roster, deadline: Deadline
) -> tuple[Attempt, list[Outcome]]:
    """The synthesizers in order until one answers; each one's calls are recorded."""
    synth = phase.config.synthesis
    sampling = Sampling(synth.temperature, synth.max_tokens, synth.timeout_s)

    async def ask(member: Member) -> Attempt:
        return await ask_validated(
            member,
            prompt,
            phase,
            role="synthesizer",
            sampling=sampling,
            deadline=deadline,
            repair=synth.repair,
        )

    attempt, outcomes = Attempt(), list[Outcome]()
    judges = [roster.member(alias) for alias in synth.models if roster.member(alias).usable]
    while judges and not deadline.spent:
        member, judges = judges[0], judges[1:]
        if synth.hedge_after_s is not None and judges:
            backup, judges = judges[0], judges[1:]
            attempt, recorded = await _hedged(ask, member, backup, synth.hedge_after_s, deadline)
        else:
            attempt = await ask(member)
            recorded = attempt.outcomes
        outcomes.extend(recorded)
        if attempt.parsed is not None:
            break  # it answered: a still-invalid output goes to the fallback, not another judge
    return attempt, outcomes


async def _hedged(
    ask: Callable[[Member], Coroutine[Any, Any, Attempt]],
    primary: Member,
    backup: Member,
    after_s: float,
    deadline: Deadline,
) -> tuple[Attempt, list[Outcome]]:
    """The hedged race's winner, and every call of both racers (a cancelled one recorded as such)."""
    finished, cancelled = await hedged(
        ask, primary, backup, after_s=after_s, deadline=deadline, good=lambda a: a.valid
    )
    winner = next((a for a in finished if a.valid), None) or next(
        (a for a in finished if a.parsed is not None), finished[-1] if finished else Attempt()
    )
    outcomes = [o for a in finished for o in a.outcomes]
    who = winner.member.ref.alias if winner.member else "the other synthesizer"
    for loser in cancelled:
        outcomes.append(
            Failure(
                loser.ref,
                "synthesizer",
                "cancelled",
                f"hedged synthesis: {who} answered first",
                latency_ms=deadline.elapsed_ms(),
                error_kind="hedge_lost",
                attempts=1,
            )
        )
    return winner, outcomes


def _start_wild_ideas(
    phase: Phase, built: JudgePrompt, roster: Roster, deadline: Deadline
) -> WildIdeas | None:
    """Run wild-ideas extraction beside the judge when two or more answers exist."""
    alias = phase.config.wild_ideas_model
    if alias is None or len(built.labels) < 2:
        return None
    member = roster.member(alias)
    if not member.usable:
        return None
    prompt = wild_ideas_prompt(phase.name, built.texts)
    return asyncio.create_task(_wild_ideas(phase.name, member, prompt, built.labels, deadline))


async def _wild_ideas(
    phase: str, member: Member, prompt: Prompt, labels: dict[str, str], deadline: Deadline
) -> tuple[list[WildIdea], Outcome]:
    request = request_for(
        member,
        prompt,
        temperature=0.3,
        max_tokens=WILD_IDEAS_MAX_TOKENS,
        timeout_s=WILD_IDEAS_TIMEOUT_S,
        schema=None,
    )
    outcome = await call_model(Call(member, request, "wild_ideas", phase), deadline=deadline)
    if isinstance(outcome, Success):
        return parse_wild_ideas(outcome.completion.text, labels), outcome
    return [], outcome


async def _wild_ideas_result(
    wild: WildIdeas, phase: Phase, roster: Roster, deadline: Deadline
) -> tuple[list[WildIdea], Outcome]:
    """The wild ideas, or a ``late`` record: once the judge has answered they get a short grace,
    never the rest of the deadline (a hung cheap model must not hold a finished answer)."""
    done, _ = await asyncio.wait({wild}, timeout=deadline.within(WILD_IDEAS_GRACE_S))
    if done:
        return wild.result()
    wild.cancel()
    await asyncio.gather(wild, return_exceptions=True)
    member = roster.member(phase.config.wild_ideas_model or "")
    late = Failure(
        member.ref,
        "wild_ideas",
        "late",
        f"no wild ideas within {WILD_IDEAS_GRACE_S:g}s of the judge's answer; cancelled",
        latency_ms=deadline.elapsed_ms(),
        error_kind="late",
        attempts=1,
    )
    return [], late
