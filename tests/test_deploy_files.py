"""docker-compose.yml and .env.example stay true: every variable they set is one the service (or the
bundled model server) reads, and every ``python -m`` command they run exists.

No Docker engine runs here, so these files are kept correct by reading; this reads them for us.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

import app.settings
import local_model.settings

ROOT = Path(__file__).resolve().parent.parent


def _env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {(prefix + name).upper() for name in cls.model_fields}


def _settings_classes() -> list[type[BaseSettings]]:
    classes = []
    for module in (app.settings, local_model.settings):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings:
                classes.append(value)
    return classes


KNOWN = set().union(*(_env_names(cls) for cls in _settings_classes()))
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_settings_list_is_read_from_the_code() -> None:
    # A guard on the guard: names from three different settings classes are found.
    assert {"REDIS_URL", "LOCAL_MODEL_URL", "RUN_WORKERS_IN_PROCESS"} <= KNOWN


@pytest.mark.parametrize("service", sorted(COMPOSE["services"]))
def test_compose_sets_only_real_settings(service: str) -> None:
    environment = COMPOSE["services"][service].get("environment", {})
    unknown = sorted(set(environment) - KNOWN)
    assert not unknown, f"{service} sets {unknown}, which no settings class reads"


@pytest.mark.parametrize("service", sorted(COMPOSE["services"]))
def test_compose_commands_name_real_modules(service: str) -> None:
    spec = COMPOSE["services"][service]
    for probe in (spec.get("command"), spec.get("healthcheck", {}).get("test")):
        if isinstance(probe, list) and "-m" in probe:
            module = probe[probe.index("-m") + 1]
            assert importlib.util.find_spec(module) is not None, f"{service}: no module {module}"


def test_env_example_names_only_real_settings() -> None:
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    unknown = sorted(named - KNOWN)
    assert not unknown, f".env.example names {unknown}, which no settings class reads"
