"""``route``: a cheap classifier picks the 2-4 models that fit the request, then ``synthesize``."""

from __future__ import annotations

from app.calls.call import call_model
from app.calls.fanout import fan_out
from app.calls.guarded import Call
from app.calls.request import request_for
from app.domain import Outcome, Success
from app.fencing import Fence
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.prompts import TaskPrompt, caller_blocks, data_notice
from app.roster import Member, Roster
from app.strategies.base import (
    Members,
    PhaseRun,
    Plan,
    PlannedCall,
    Proposed,
    RouteDecision,
    Strategy,
    member_call,
    successes,
)
from app.synthesis.extract import extract

CATEGORIES = ("reasoning", "coding", "creative", "factual")
_TAG_FOR = {"reasoning": "reasoning", "coding": "coding", "creative": "general", "factual": "general"}
CLASSIFIER_TIMEOUT_S = 20.0
CLASSIFIER_MAX_TOKENS = 200
ROUTER_CLIP_CHARS = 4000
"""The router classifies from the opening of the idea and guidance; it needs no more."""


class Route(Strategy):
    """One classifier call picks the members; only they answer."""

    name = "route"

    def planned_proposals(self, plan: Plan, roster: Roster, members: Members) -> list[PlannedCall]:
        classifier = _classifier(plan.phase, roster)
        planned = [PlannedCall(classifier.ref.alias, "router", CLASSIFIER_MAX_TOKENS)] if classifier else []
        return [*planned, *super().planned_proposals(plan, roster, members)]

    async def propose(self, run: PhaseRun) -> Proposed:
        route, classified = await _route(run, run.members)
        chosen = [m for m in run.members if m.model in route.models]
        calls = [member_call(run, m) for m in chosen]
        answered = await fan_out(calls, deadline=run.proposals_end, quorum=run.quorum)
        # The classifier's reply is on the record, never among the answers the judge reads.
        outcomes = [classified, *answered] if classified is not None else answered
        return Proposed(outcomes, successes(answered), route)


def _classifier(phase: Phase, roster: Roster) -> Member | None:
    """The usable classifier: the phase's route model, else its wild-ideas model."""
    alias = phase.config.route_model or phase.config.wild_ideas_model
    member = roster.member(alias) if alias else None
    return member if member is not None and member.usable else None


async def _route(run: PhaseRun, members: list[ModelCall]) -> tuple[RouteDecision, Outcome | None]:
    roster = run.roster
    usable = [m for m in members if roster.member(m.model).usable] or members
    classifier = _classifier(run.phase, roster)
    outcome: Outcome | None = None
    category: str | None = None
    if classifier is not None:
        menu = "\n".join(
            f"- {m.model}: {', '.join(roster.member(m.model).spec.tags) or 'general'}" for m in usable
        )
        request = request_for(
            classifier,
            _route_prompt(run.phase, run.task, menu),
            temperature=0.3,
            max_tokens=CLASSIFIER_MAX_TOKENS,
            timeout_s=CLASSIFIER_TIMEOUT_S,
            schema=None,
        )
        outcome = await call_model(
            Call(classifier, request, "router", run.phase.name), deadline=run.proposals_end
        )
        if isinstance(outcome, Success):
            picked, category = _parse_route(outcome.completion.text, [m.model for m in usable])
            if picked:
                return RouteDecision(category, picked, "classifier"), outcome
    if category is None:
        return RouteDecision(None, [m.model for m in usable][:4], "all"), outcome
    tag = _TAG_FOR[category]
    fitting = [m.model for m in usable if tag in roster.member(m.model).spec.tags]
    rest = [m.model for m in usable if m.model not in fitting]
    return RouteDecision(category, (fitting + rest)[: max(2, min(4, len(fitting)))], "tags"), outcome


def _parse_route(text: str, allowed: list[str]) -> tuple[list[str], str | None]:
    """The classifier's picks (2-4 allowed aliases) and category; empty picks when unusable."""
    found = extract(text).value
    if not isinstance(found, dict):
        return [], None
    category = found.get("category")
    category = category if category in CATEGORIES else None
    models = found.get("models")
    picks = list(dict.fromkeys(m for m in models if m in allowed)) if isinstance(models, list) else []
    return (picks[:4] if len(picks) >= 2 else []), category


def _route_prompt(phase: Phase, task: TaskPrompt, menu: str) -> TaskPrompt:
    """The classifier's question: the opening of the idea and guidance (fenced), and the models."""
    fence = Fence()
    head = "\n\n".join(
        (
            data_notice(fence, task.caller, context=False),
            "## Request\n" + caller_blocks(task.caller, fence, clip=ROUTER_CLIP_CHARS),
        )
    )
    tail = (
        f"## Models and their strengths\n{menu}\n\n"
        f"Classify the request as one of {', '.join(CATEGORIES)} and pick the 2 to 4 models "
        'that fit it best. Reply {"category": "...", "models": ["...", "..."]}.'
    )
    system = "You route planning requests to the models that fit them. You reply with JSON only."
    return TaskPrompt(system, head, tail, fence, task.caller, context_cap=0)
