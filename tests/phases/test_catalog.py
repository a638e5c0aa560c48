"""The router: defaults load in order, operator files merge, and bad config stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError, PhaseNotFound
from app.phases.catalog import load_catalog
from tests.support import PROVIDERS, catalog_for

ORDER = [
    "opportunity", "customer-intel", "market-research", "competitive-intel", "kill-test",
    "revenue-expansion", "strategy", "business-model", "product-design", "gtm-marketing",
    "content-engine", "tech-arch", "analytics", "launch-execution", "synthesis",
]  # fmt: skip


def write(tmp_path: Path, text: str, name: str = "phases.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_fifteen_phases_load_in_workflow_order() -> None:
    catalog = load_catalog(known_providers=PROVIDERS)
    assert catalog.names() == ORDER
    for phase in catalog:
        assert phase.system_prompt, phase.name
        assert phase.config.summary, phase.name


def test_seed_phase_rules_are_configured() -> None:
    catalog = catalog_for()
    kill = catalog.get("kill-test").config
    assert kill.synthesis.temperature == 0.1 < catalog.get("strategy").config.synthesis.temperature
    assert kill.decision is not None and kill.decision.veto == "KILL"
    assert any("agenticScore" in rule for rule in catalog.get("opportunity").config.synthesis.rules)
    tech = [c.model for c in catalog.get("tech-arch").config.parallel]
    assert "qwen-coder" in tech
    light = catalog.get("synthesis").config
    assert len(light.parallel) < len(kill.parallel) and light.min_successes == 1


def test_temperatures_stay_in_their_ranges() -> None:
    for phase in catalog_for():
        assert all(0.3 <= c.temperature <= 0.7 for c in phase.config.parallel), phase.name
        assert 0.1 <= phase.config.synthesis.temperature <= 0.3, phase.name


def test_unknown_phase_lists_the_valid_ones() -> None:
    with pytest.raises(PhaseNotFound) as caught:
        catalog_for().get("kill-tset")
    assert caught.value.details["valid_phases"] == ORDER


def test_an_operator_file_overrides_and_extends(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[models.deepseek]
provider = "openai_compat"
model_id = "deepseek-v4-flash"
price = { input = 0.14, output = 0.28 }

[defaults]
model_timeout_s = 45

[phases.kill-test]
parallel = [{ model = "deepseek", temperature = 0.4 }, { model = "reasoner" }]
[phases.kill-test.synthesis]
temperature = 0.15
""",
    )
    catalog = load_catalog(path, known_providers=PROVIDERS)
    kill = catalog.get("kill-test").config
    assert [c.model for c in kill.parallel] == ["deepseek", "reasoner"]
    assert kill.synthesis.temperature == 0.15
    assert kill.synthesis.rules  # merged key by key: the default rules survive
    assert catalog.get("strategy").config.model_timeout_s == 45
    assert catalog.models["deepseek"].model_id == "deepseek-v4-flash"


def test_json_config_files_work_too(tmp_path: Path) -> None:
    path = write(tmp_path, '{"phases": {"synthesis": {"orchestration_enabled": false}}}', "p.json")
    assert (
        load_catalog(path, known_providers=PROVIDERS).get("synthesis").config.orchestration_enabled is False
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[phases.kill-test]\nparallel = [{ model = "gpt-17" }, { model = "reasoner" }]', "gpt-17"),
        ('[models.x]\nprovider = "openrouter"', "openrouter"),
        ("[phases.kill-test]\ntemprature = 0.2", "temprature"),
        ("[phases.kill-test.synthesis]\ntemperature = 0.9", "synthesis.temperature"),
        (
            '[phases.kill-test]\nparallel = [{ model = "reasoner", temperature = 0.95 }]',
            "parallel.0.temperature",
        ),
        ("[phases.kill-test]\nmin_successes = 9", "min_successes"),
        ("[phase.kill-test]\nmin_successes = 1", "phase"),
        ('[phases.kill-test]\nalways_emit = ["verdikt"]', "verdikt"),
        ("[phases.kill-test\n", "not valid"),
    ],
)
def test_bad_config_stops_start_up_naming_the_problem(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_catalog(write(tmp_path, text), known_providers=PROVIDERS)
    assert named in caught.value.message


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_catalog(tmp_path / "nope.toml", known_providers=PROVIDERS)
    assert "nope.toml" in caught.value.message
