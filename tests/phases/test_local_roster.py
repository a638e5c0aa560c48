"""The local roster: copies of one model made to differ, the phase's rules kept."""

from __future__ import annotations

import pytest

from app.phases.catalog import PhaseCatalog
from app.phases.local_roster import (
    JUDGE,
    PERSPECTIVES,
    local_models,
    localize,
    localize_catalog,
)
from app.providers.fake import FakeProvider
from app.providers.registry import PROVIDER_NAMES, ProviderRegistry
from app.roster import Roster, choose_roster
from app.settings import LocalModelSettings
from app.strategies.registry import plan_for
from tests.support import catalog_for

CATALOG = catalog_for(known_providers=PROVIDER_NAMES)


def local(**values: object) -> LocalModelSettings:
    return LocalModelSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("members", [1, 2, 3, 6])
def test_members_spread_over_the_parallel_temperature_range(members: int) -> None:
    config = localize(CATALOG.get("strategy"), local(members=members)).config
    temperatures = [call.temperature for call in config.parallel]
    assert len(temperatures) == members
    assert all(0.3 <= t <= 0.7 for t in temperatures)
    assert len(set(temperatures)) == members  # no two members sample alike
    assert config.min_successes <= members


def test_members_differ_in_seed_and_perspective_and_ask_for_the_schema() -> None:
    models = local_models(local(members=3))
    members = [models[f"local-{i}"] for i in (1, 2, 3)]
    assert len({m.seed for m in members}) == 3
    assert [m.perspective for m in members] == list(PERSPECTIVES[:3])
    assert all(m.provider == "local" and m.structured_output for m in models.values())


def test_phase_rules_survive_localisation() -> None:
    cloud = CATALOG.get("kill-test")
    config = localize(cloud, local()).config
    assert config.synthesis.models == (JUDGE,)
    assert config.synthesis.temperature == cloud.config.synthesis.temperature == 0.1
    assert config.synthesis.rules == cloud.config.synthesis.rules
    assert config.decision == cloud.config.decision
    assert config.always_emit == cloud.config.always_emit
    assert config.wild_ideas_model is None
    assert config.model_timeout_s <= config.deadline_s


def test_every_phase_localises_and_names_only_defined_models() -> None:
    catalog = localize_catalog(CATALOG, local())
    assert catalog.names() == CATALOG.names()
    for phase in catalog:
        assert phase.config.aliases() <= set(catalog.models)
        assert all(catalog.models[a].provider == "local" for a in phase.config.aliases())


def test_ballots_are_planned_after_the_writer_on_the_local_server_and_beside_it_elsewhere() -> None:
    # One CPU-bound server (``serial``): the ballots wait for the writer and run one at a time,
    # and the pace estimate adds them up. Cloud models decode on their own hardware: at once.
    def planned(catalog: PhaseCatalog) -> list[tuple[str, bool]]:
        phase = catalog.get("kill-test")
        providers = {name: FakeProvider(name, default_model="served-model") for name in PROVIDER_NAMES}
        roster = Roster(catalog.models, ProviderRegistry(providers))
        plan = plan_for(phase, "ballot", None, None)
        calls = plan.strategy.planned_calls(plan, roster, phase.config.parallel)
        return [(c.alias, c.in_turn) for c in calls]

    assert all(spec.serial for spec in local_models(local()).values())
    assert planned(localize_catalog(CATALOG, local())) == [
        ("local", False),
        ("local-1", True),
        ("local-2", True),
    ]
    cloud = planned(CATALOG)
    assert len(cloud) > 2 and not any(in_turn for _, in_turn in cloud)


def fakes(*available: str) -> dict[str, FakeProvider]:
    return {name: FakeProvider(name, available=name in available) for name in PROVIDER_NAMES}


def test_any_cloud_provider_means_the_cloud_roster() -> None:
    assert choose_roster(fakes("minimax", "local"), local()) == "cloud"
    assert choose_roster(fakes("openai_compat"), local()) == "cloud"


def test_no_cloud_provider_means_the_local_roster_unless_it_is_off() -> None:
    assert choose_roster(fakes("local"), local()) == "local"
    assert choose_roster(fakes(), local(enabled=False)) == "cloud"


@pytest.mark.parametrize(
    ("timeout_s", "deadline_s", "fanout_s"),
    [(100, 170, 100), (60, 300, 150), (100, 100, 50)],
    ids=["default", "long-deadline-capped-at-half", "deadline-equals-timeout"],
)
def test_members_keep_their_timeout_and_the_judge_the_rest(
    timeout_s: float, deadline_s: float, fanout_s: float
) -> None:
    config = localize(CATALOG.get("kill-test"), local(timeout_s=timeout_s, deadline_s=deadline_s)).config
    assert config.deadline_s - config.synthesis.reserve_for(config.deadline_s) == fanout_s
