"""One list of strategy names: the objects, the phase config's validation and the API enum all read it."""

from __future__ import annotations

import pytest

from app.api.schemas import OrchestrateOptions
from app.strategies.names import NAMES, unfit_reason
from app.strategies.registry import STRATEGIES
from tests.support import PROVIDERS, catalog_for

CATALOG = catalog_for(known_providers=PROVIDERS)


def test_every_name_has_one_strategy_object_and_the_api_offers_exactly_those() -> None:
    assert tuple(STRATEGIES) == NAMES and all(STRATEGIES[n].name == n for n in NAMES)
    offered = OrchestrateOptions.model_json_schema()["properties"]["strategy"]["anyOf"][0]["enum"]
    assert tuple(offered) == NAMES


def test_a_phase_config_naming_vote_without_a_decision_field_stops_start_up() -> None:
    assert unfit_reason("vote", has_decision=False) is not None
    assert unfit_reason("vote", has_decision=True) is None
    strategy = CATALOG.get("strategy").config  # a phase without a decision rule
    with pytest.raises(ValueError, match="needs a decision field"):
        type(strategy).model_validate({**strategy.model_dump(), "strategy": "vote"})
