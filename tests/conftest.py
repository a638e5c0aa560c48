"""Test isolation: no developer environment or .env file leaks into settings; one phase catalog
per config for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import catalog_for

# The needs_* markers' skip-or-fail (tests/needs.py).
pytest_plugins = ("tests.needs",)

_PREFIXES = ("WORKERS_AI_", "ANTHROPIC_", "MINIMAX_", "OPENAI_COMPAT_")
_NAMES = ("ORCHESTRATION_ENABLED", "PHASES_CONFIG_FILE", "HOST", "PORT", "LOG_LEVEL", "LOG_FORMAT")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(_PREFIXES) or name in _NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # a stray .env in the checkout must not configure tests


@pytest.fixture(autouse=True, scope="session")
def _shared_catalog() -> Iterator[None]:
    """Every app the tests build gets its catalog from ``catalog_for``: built once per config."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.main.load_catalog", catalog_for)
        yield
