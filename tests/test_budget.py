"""The budget prices every strategy from the calls it plans: samples, rankers, classifier, layers, judge."""

from __future__ import annotations

import pytest

from app.budget import CHARS_PER_TOKEN, estimate, fit
from app.errors import InvalidOptions
from app.phases.config import Price
from app.prompts import phase_prompt
from app.providers.registry import ProviderRegistry
from app.roster import Roster
from app.strategies.names import StrategyName
from app.strategies.rank import RANKING_MAX_TOKENS
from app.strategies.registry import plan_for
from app.strategies.route import CLASSIFIER_MAX_TOKENS
from tests.support import PROVIDERS, catalog_for, fake_providers

CATALOG = catalog_for(known_providers=PROVIDERS)
PHASE = CATALOG.get("kill-test")
ROSTER = Roster(CATALOG.models, ProviderRegistry(fake_providers()))
PROMPT = phase_prompt(PHASE, idea="Freight invoice agent", context={}, instructions=None)
MEMBERS = list(PHASE.config.parallel)
FULL = PROMPT.full()
PROMPT_TOKENS = (len(FULL.system) + len(FULL.user)) // CHARS_PER_TOKEN + 1


def usd(alias: str, tokens_in: int, tokens_out: int) -> float:
    price: Price = CATALOG.models[alias].price
    return (tokens_in * price.input + tokens_out * price.output) / 1_000_000


def priced(name: StrategyName, *, samples: int | None = None, layers: int | None = None) -> float:
    plan = plan_for(PHASE, name, samples, layers)
    return estimate(ROSTER, PROMPT, plan.strategy.planned_calls(plan, ROSTER, MEMBERS))


def judge_usd(answer_tokens: int) -> float:
    synth = PHASE.config.synthesis
    return usd(synth.models[0], PROMPT_TOKENS + answer_tokens, synth.max_tokens)


def test_synthesize_prices_each_member_once_and_the_judge_reading_every_answer() -> None:
    members = sum(usd(m.model, PROMPT_TOKENS, m.max_tokens) for m in MEMBERS)
    answers = sum(m.max_tokens for m in MEMBERS)
    assert priced("synthesize") == pytest.approx(members + judge_usd(answers))


def test_merge_prices_the_members_only_no_judge() -> None:
    members = sum(usd(m.model, PROMPT_TOKENS, m.max_tokens) for m in MEMBERS)
    assert priced("merge") == pytest.approx(members)
    assert priced("merge") < priced("synthesize")


def test_self_moa_is_priced_as_its_samples_of_the_best_model_only() -> None:
    best = next(m for m in MEMBERS if m.model == "reasoner")  # the first usable member
    for samples in (1, 3, 5):
        expected = usd(best.model, PROMPT_TOKENS, best.max_tokens) * samples
        expected += judge_usd(best.max_tokens * samples)
        assert priced("self_moa", samples=samples) == pytest.approx(expected)


def test_rank_prices_a_ranking_call_per_member_reading_every_answer() -> None:
    answers = sum(m.max_tokens for m in MEMBERS)
    rankers = sum(usd(m.model, PROMPT_TOKENS + answers, RANKING_MAX_TOKENS) for m in MEMBERS)
    assert rankers > 0
    assert priced("rank") == pytest.approx(priced("synthesize") + rankers)


def test_route_prices_its_classifier() -> None:
    classifier = PHASE.config.route_model or PHASE.config.wild_ideas_model
    assert classifier is not None
    expected = usd(classifier, PROMPT_TOKENS, CLASSIFIER_MAX_TOKENS)
    assert expected > 0
    assert priced("route") == pytest.approx(priced("synthesize") + expected)


def test_self_consistency_and_moa_price_their_samples_and_layers() -> None:
    assert priced("self_consistency", samples=3) > priced("self_consistency", samples=1)
    assert priced("self_consistency", samples=1) == pytest.approx(priced("synthesize"))
    assert priced("moa", layers=3) > priced("moa", layers=2) > priced("moa", layers=1)
    assert priced("moa", layers=1) == pytest.approx(priced("synthesize"))


@pytest.mark.parametrize("name", ["self_consistency", "rank", "route", "moa"])
def test_a_budget_that_fits_synthesize_is_too_small_for_the_strategies_with_extra_calls(
    name: StrategyName,
) -> None:
    plan = plan_for(PHASE, name, 3, 3)
    tight = priced("synthesize") * 1.0001
    kept, check = fit(PHASE, ROSTER, PROMPT, plan_for(PHASE, "synthesize", None, None), MEMBERS, tight)
    assert kept == MEMBERS and check.dropped == []
    try:
        kept, check = fit(PHASE, ROSTER, PROMPT, plan, MEMBERS, tight)
    except InvalidOptions:
        return  # not even the minimum fits: refused before any call
    assert check.estimated_usd <= tight and (check.dropped or kept != MEMBERS)
