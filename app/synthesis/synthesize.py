"""The ``synthesize`` strategy's second half: judge the parallel answers, with wild ideas alongside."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.deadline import Deadline
from app.domain import Failure, Outcome, Prompt, Success
from app.fanout import Call, call_model
from app.phases.catalog import Phase
from app.prompts import TaskPrompt
from app.roster import Member, Roster
from app.synthesis.judge import AnswerForJudge, answer_text, build_judge_prompt, label_answers
from app.synthesis.single import Attempt, ask_validated, request_for
from app.synthesis.validate import Parsed, parse_output
from app.synthesis.votes import Tally, tally
from app.synthesis.wild_ideas import WildIdea, parse_wild_ideas, wild_ideas_prompt

WILD_IDEAS_TIMEOUT_S = 30.0
WILD_IDEAS_MAX_TOKENS = 1024
WILD_IDEAS_GRACE_S = 5.0
"""How long a finished judge waits for the wild-ideas call before cancelling it."""


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


def parse_answers(phase: Phase, successes: Sequence[Success]) -> dict[str, Parsed]:
    """Each parallel answer parsed against the phase schema, by model alias."""
    return {s.model.alias: parse_output(s.completion.text, phase.output) for s in successes}


async def judge(
    phase: Phase,
    task: TaskPrompt,
    successes: Sequence[Success],
    roster: Roster,
    *,
    deadline: Deadline,
    rng: random.Random,
    extra_rules: Sequence[str] = (),
) -> Judged:
    """Ask the first usable synthesizer (then its backups, if it fails) to reconcile ``successes``."""
    config = phase.config
    answers = parse_answers(phase, successes)
    for_judge = [
        AnswerForJudge(s.model.alias, answer_text(answers[s.model.alias].value, s.completion.text))
        for s in successes
    ]
    votes = tally(config.decision, {a: p.value for a, p in answers.items()}) if config.decision else None
    labelled = label_answers(for_judge, rng)
    summary = None
    if votes is not None and config.decision is not None:
        summary = votes.describe(config.decision, {k: v.alias for k, v in labelled.items()})
    built = build_judge_prompt(
        phase, task=task, labelled=labelled, vote_summary=summary, extra_rules=extra_rules
    )
    result = Judged(Attempt(), built.labels, answers, votes)

    wild = _start_wild_ideas(phase, for_judge, built.labels, roster, deadline)
    synth = config.synthesis

    async def ask(member: Member) -> Attempt:
        return await ask_validated(
            member,
            built.prompt,
            phase,
            role="synthesizer",
            temperature=synth.temperature,
            max_tokens=synth.max_tokens,
            timeout_s=synth.timeout_s,
            deadline=deadline,
            repair=synth.repair,
        )

    try:
        judges = [roster.member(alias) for alias in synth.models if roster.member(alias).usable]
        while judges and not deadline.spent:
            member, judges = judges[0], judges[1:]
            if synth.hedge_after_s is not None and judges:
                attempt, outcomes = await _hedged(ask, member, judges[0], synth.hedge_after_s, deadline)
                judges = judges[1:]
            else:
                attempt = await ask(member)
                outcomes = attempt.outcomes
            result.outcomes.extend(outcomes)
            result.attempt = attempt
            if attempt.parsed is not None:
                break  # it answered: a still-invalid output goes to the fallback, not another judge
    except BaseException:  # cancelled (deadline, client gone): take the side task down too
        if wild is not None:
            wild.cancel()
            await asyncio.gather(wild, return_exceptions=True)
        raise
    if wild is not None:
        # Wild ideas are a side dish: once the judge has answered they get a short grace, never
        # the rest of the deadline (a hung cheap model must not hold a finished answer).
        done, _ = await asyncio.wait({wild}, timeout=min(WILD_IDEAS_GRACE_S, deadline.remaining()))
        if done:
            ideas, outcome = wild.result()
            result.wild_ideas = ideas
            result.outcomes.append(outcome)
        else:
            wild.cancel()
            await asyncio.gather(wild, return_exceptions=True)
            member = roster.member(config.wild_ideas_model or "")
            result.outcomes.append(
                Failure(
                    member.ref,
                    "wild_ideas",
                    "late",
                    f"no wild ideas within {WILD_IDEAS_GRACE_S:g}s of the judge's answer; cancelled",
                    latency_ms=deadline.elapsed_ms(),
                    error_kind="late",
                    attempts=1,
                )
            )
    return result


def _start_wild_ideas(
    phase: Phase,
    answers: Sequence[AnswerForJudge],
    labels: dict[str, str],
    roster: Roster,
    deadline: Deadline,
) -> asyncio.Task[tuple[list[WildIdea], Outcome]] | None:
    """Run wild-ideas extraction beside the judge when two or more answers exist."""
    alias = phase.config.wild_ideas_model
    if alias is None or len(answers) < 2:
        return None
    member = roster.member(alias)
    if not member.usable:
        return None
    by_alias = {a.alias: a.text for a in answers}
    prompt = wild_ideas_prompt(phase.name, {label: by_alias[a] for label, a in labels.items()})
    return asyncio.create_task(_wild_ideas(phase.name, member, prompt, labels, deadline))


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


def best_parallel_answer(judged: Judged) -> tuple[str, dict[str, object]] | None:
    """The fallback when synthesis fails: a schema-valid parallel answer, the majority's if voted."""
    valid = {alias: p.value for alias, p in judged.answers.items() if p.valid and p.value}
    if not valid:
        return None
    leader = judged.tally.leader if judged.tally else None

    def rank(item: tuple[str, dict[str, object]]) -> tuple[bool, int]:
        alias, value = item
        agrees = leader is not None and judged.tally is not None and judged.tally.choices.get(alias) == leader
        return agrees, len(json.dumps(value))  # richer answers carry more for later phases

    return max(valid.items(), key=rank)


async def _hedged(
    ask: Callable[[Member], Coroutine[Any, Any, Attempt]],
    primary: Member,
    backup: Member,
    after_s: float,
    deadline: Deadline,
) -> tuple[Attempt, list[Outcome]]:
    """Ask ``primary``; if it has not answered within ``after_s``, ask ``backup`` too and keep the
    first valid result. The loser is cancelled and recorded as such, so no call outlives the race."""
    first = asyncio.create_task(ask(primary))
    done, _ = await asyncio.wait({first}, timeout=min(after_s, deadline.remaining()))
    if done:
        attempt = first.result()
        return attempt, attempt.outcomes
    racers = {first: primary, asyncio.create_task(ask(backup)): backup}
    pending = set(racers)
    finished: list[Attempt] = []
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finished.extend(task.result() for task in done)
            if any(a.valid for a in finished):
                break
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    winner = next((a for a in finished if a.valid), None) or next(
        (a for a in finished if a.parsed is not None), finished[-1] if finished else Attempt()
    )
    outcomes = [o for a in finished for o in a.outcomes]
    for task in pending:
        loser = racers[task].ref
        who = winner.member.ref.alias if winner.member else "the other synthesizer"
        outcomes.append(
            Failure(
                loser,
                "synthesizer",
                "cancelled",
                f"hedged synthesis: {who} answered first",
                latency_ms=deadline.elapsed_ms(),
                error_kind="hedge_lost",
                attempts=1,
            )
        )
    return winner, outcomes
