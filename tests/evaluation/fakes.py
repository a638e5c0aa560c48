"""A small priced roster on the fake provider, with answers scripted per model and question."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from app.domain import Completion, CompletionRequest, Usage
from app.phases.catalog import Phase
from app.phases.config import ModelCall, ModelSpec, PhaseConfig, Price, SynthesisConfig
from app.phases.output import OutputSchema
from app.pipeline import Orchestrator
from app.providers.fake import FakeProvider, Reply
from app.providers.registry import ProviderRegistry
from app.resilience.guard import Resilience
from app.resilience.retry import RetryPolicy
from app.roster import Roster
from evaluation.datasets import Item
from evaluation.modes import Mode
from evaluation.task import eval_phase

PRICE = Price(input=2.0, output=10.0)
"""USD per million tokens: with USAGE below every call costs exactly $0.0003."""
USAGE = Usage(100, 10)
CALL_USD = (100 * 2.0 + 10 * 10.0) / 1_000_000
CALL_TOKENS = 110
MEMBERS = ("m1", "m2", "m3")

ITEMS = [
    Item("q1", "What is 2 + 2?", "4"),
    Item("q2", "Is 9 odd? Answer yes or no.", "yes"),
    Item("q3", "What is the capital of Italy?", "Rome"),
    Item("q4", "What is 10 - 3?", "7"),
]
WRONG = {"q1": "5", "q2": "no", "q3": "Milan", "q4": "8"}


def reference_phase() -> Phase:
    config = PhaseConfig(
        name="reference",
        order=1,
        summary="a planning phase the eval borrows its models from",
        parallel=tuple(ModelCall(model=m, temperature=0.5, max_tokens=512) for m in MEMBERS),
        synthesis=SynthesisConfig(models=("judge",)),
        single_model=("m1",),
        wild_ideas_model="m3",
        model_timeout_s=5,
        deadline_s=10,
    )
    return Phase(config, "planning instructions", OutputSchema("reference", {"type": "object"}))


def item_of(request: CompletionRequest) -> Item:
    """The item a prompt asks about (members and judges all quote the question)."""
    return next(item for item in ITEMS if item.question in request.prompt.user)


def answering(right: Mapping[str, set[str]]) -> Callable[[CompletionRequest], Reply]:
    """Model id -> ids of the items it answers correctly; it answers the rest wrongly."""

    def respond(request: CompletionRequest) -> Reply:
        item = item_of(request)
        answer = item.answer if item.id in right.get(request.model, set()) else WRONG[item.id]
        return Completion(json.dumps({"reasoning": "worked it out", "answer": answer}), USAGE)

    return respond


def setup(
    right: Mapping[str, set[str]],
    *,
    responder: Callable[[CompletionRequest], Reply] | None = None,
    breaker_threshold: int | None = None,
) -> tuple[Callable[[Mode], Orchestrator], Roster, Phase, FakeProvider]:
    """The eval task on m1..m3 + judge, every model priced at PRICE, answers per ``right``.

    Returns a fresh-orchestrator factory (as the CLI builds one per mode), a roster to list the
    modes with, the task and the fake provider every orchestrator shares."""
    fake = FakeProvider("fake", responder=responder or answering(right))
    models = {alias: ModelSpec(provider="fake", model_id=alias, price=PRICE) for alias in (*MEMBERS, "judge")}
    registry = ProviderRegistry({"fake": fake})

    def resilience() -> Resilience:
        if breaker_threshold is None:
            return Resilience.off()
        return Resilience(
            policy=RetryPolicy.never(), breaker_threshold=breaker_threshold, breaker_cooldown_s=60
        )

    def fresh(mode: Mode) -> Orchestrator:
        return Orchestrator(Roster(models, registry, resilience()), orchestration_enabled=True)

    task = eval_phase(reference_phase(), max_tokens=128)
    return fresh, Roster(models, registry), task, fake
