"""``ballot``: the phase's single model writes the answer, every member votes on its decision fields."""

from __future__ import annotations

from collections.abc import Sequence

from app.calls.fanout import fan_out
from app.calls.guarded import Call
from app.calls.judging import Judged
from app.calls.validated import Attempt
from app.domain import Failure, Outcome, Success
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.roster import Roster
from app.strategies.base import (
    Decided,
    PhaseRun,
    Plan,
    PlannedCall,
    Proposed,
    Strategy,
    member_call,
    successes,
)
from app.synthesis.answers import Answer, by_alias
from app.synthesis.ballot import BallotForm, ballot_form, ballot_instruction
from app.synthesis.merge import settle_by_ballots
from app.synthesis.validate import parse_output
from app.synthesis.votes import tally


class Ballot(Strategy):
    """One whole answer and short ballots (app/synthesis/ballot.py): an ensemble's vote on the
    decision for little more than one answer's decode.

    The writer is the phase's single model, asked exactly as ``options.single_model`` asks it (its
    temperature and budget, no perspective), so the ballots are all the orchestration adds; with
    no single model usable, the first member writes. A phase with nothing to vote on gets the
    writer's answer alone, and a note that says so. Ballots for a ``serial`` model on the writer's
    own server wait for the writer and go one at a time; the others run beside it."""

    name = "ballot"
    judged = False
    needs_quorum = False  # the writer's answer is enough; ballots only settle its decision fields

    def planned_calls(self, plan: Plan, roster: Roster, members: Sequence[ModelCall]) -> list[PlannedCall]:
        return self.planned_proposals(plan, roster, members)

    def planned_proposals(
        self, plan: Plan, roster: Roster, members: Sequence[ModelCall]
    ) -> list[PlannedCall]:
        writer, voters = _roles(plan.phase, roster, members)
        if writer is None:
            return []
        form = _form(plan.phase)
        ballots = (
            [
                PlannedCall(m.model, "parallel", form.max_tokens, in_turn=_in_turn(roster, writer, m))
                for m in voters
            ]
            if form.fields
            else []
        )
        return [PlannedCall(writer.model, "parallel", writer.max_tokens), *ballots]

    async def propose(self, run: PhaseRun) -> Proposed:
        writer, voters = _roles(run.phase, run.roster, run.members)
        if writer is None:
            return Proposed([], [])
        form = _form(run.phase)
        first: list[Call] = [member_call(run, writer)]
        then: list[Call] = []
        if form.fields:
            task = run.task.extended(ballot_instruction(form.fields))
            budget = {"max_tokens": form.max_tokens}
            for voter in voters:
                ballot = member_call(run, voter.model_copy(update=budget), task=task, schema=form.wire_schema)
                (then if _in_turn(run.roster, writer, voter) else first).append(ballot)
        outcomes = await fan_out(first, deadline=run.proposals_end)  # every ballot counts: no quorum
        if then and not _usable(run.phase, outcomes[0]):
            outcomes += [_not_asked(ballot) for ballot in then]
        elif then:
            # On one CPU-bound server, ballots at the writer's side only slow it down; after it, in
            # turn, each reads the prompt the one before left in the server's cache (everything but
            # the ballot's instruction and perspective) and decodes a dozen tokens alone.
            for ballot in then:
                outcomes += await fan_out([ballot], deadline=run.proposals_end)
        return Proposed(outcomes, successes(outcomes))

    async def decide(self, run: PhaseRun, answers: list[Answer]) -> Decided:
        phase = run.phase
        chosen, _ = _roles(phase, run.roster, run.members)
        writer = chosen.model if chosen is not None else None
        form = _form(phase)
        parsed = by_alias(answers)
        written = parsed.get(writer) if writer else None
        # Ballots are read as ballots: against the phase's schema they would all fail.
        ballots = {a.alias: form.read(a.text) for a in answers if a.alias != writer}
        parsed.update(ballots)
        votes = None
        if phase.config.decision is not None:
            cast = {alias: p.value if p.valid else None for alias, p in parsed.items()}
            votes = tally(phase.config.decision, cast)
        if writer is None or written is None or not written.valid or written.value is None:
            # No answer to vote on: the fallback's turn. The ballots stay out of its reach: a
            # ballot can satisfy a lenient schema (kill-test requires only its verdict).
            whole = {alias: p for alias, p in parsed.items() if alias not in ballots}
            # The writer was the single model's own call: the fallback asks the next one, not it
            # again (the same prompt and seed would loop or hang the same way).
            return Decided(Judged(Attempt(), {}, whole, votes), asked_single=(writer,) if writer else ())
        merged = settle_by_ballots(
            phase.output,
            writer,
            written.value,
            {alias: p.value if p.valid else None for alias, p in ballots.items()},
            form.fields,
            settled=votes.settled() if votes else None,
        )
        notes = [merged.note()] if merged.fell_back else []
        if not form.fields:
            notes.append(
                f"ballot: phase {phase.name!r} has no decision field to vote on (an enum, boolean or "
                f"number at the top level), so {writer} wrote the answer alone; "
                "options.strategy: merge has every member write one"
            )
        return Decided(Judged(Attempt(), {}, parsed, votes), notes=notes, merged=merged)


def _roles(
    phase: Phase, roster: Roster, members: Sequence[ModelCall]
) -> tuple[ModelCall | None, list[ModelCall]]:
    """The writer and the voters: the phase's first usable single model and every other member;
    without one, the first member and the rest."""
    config = phase.config
    single = roster.first_usable(config.single_model)
    if single is not None:
        alias = single.ref.alias
        writer = ModelCall(
            model=alias, temperature=config.single_temperature, max_tokens=config.single_max_tokens
        )
        return writer, [m for m in members if m.model != alias]
    if not members:
        return None, []
    return members[0], list(members[1:])


def _in_turn(roster: Roster, writer: ModelCall, voter: ModelCall) -> bool:
    """Whether ``voter``'s ballot waits for the writer: both run on the same ``serial`` server."""
    ours, theirs = roster.member(writer.model), roster.member(voter.model)
    return (
        ours.spec.serial
        and theirs.spec.serial
        and (ours.ref.provider, ours.ref.model_id) == (theirs.ref.provider, theirs.ref.model_id)
    )


def _usable(phase: Phase, outcome: Outcome) -> bool:
    """Whether the writer's outcome is an answer to vote on (else the fallback's turn: no ballots)."""
    return isinstance(outcome, Success) and parse_output(outcome.completion.text, phase.output).valid


def _not_asked(ballot: Call) -> Failure:
    """The record of a ballot that waited for the writer and had nothing to vote on."""
    why = "not asked: it waits for the writer's answer, and the writer gave no valid one to vote on"
    return Failure(ballot.member.ref, ballot.role, "skipped", why, error_kind="not_asked")


def _form(phase: Phase) -> BallotForm:
    return ballot_form(phase.output, phase.config.decision)
