"""Test isolation: no developer environment or .env file leaks into settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
