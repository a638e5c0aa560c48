"""The needs_* markers (tests/needs.py): a missing extra skips with the reason and the fix, and
under REQUIRE_ALL=1 (make test, CI) fails the run instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKED = """
import sys

import pytest

sys.modules["matplotlib"] = None  # as on an install without the `eval` extra


@pytest.mark.needs_eval
def test_plots() -> None:
    pass
"""


def run_marked(directory: Path, *, require_all: str | None) -> subprocess.CompletedProcess[str]:
    (directory / "test_marked.py").write_text(MARKED)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    if require_all is not None:
        env["REQUIRE_ALL"] = require_all
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "-p", "tests.needs"]
    return subprocess.run(  # noqa: S603 (this interpreter running pytest)
        [*command, "-p", "no:cacheprovider", "-rs", str(directory / "test_marked.py")],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("require_all", [None, "0"])
def test_a_missing_extra_skips_with_the_reason_and_the_fix(tmp_path: Path, require_all: str | None) -> None:
    done = run_marked(tmp_path, require_all=require_all)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
    assert "needs_eval: matplotlib missing; pip install -e '.[eval]'" in done.stdout


def test_under_require_all_a_missing_extra_fails_the_run(tmp_path: Path) -> None:
    done = run_marked(tmp_path, require_all="1")
    assert done.returncode == 1, done.stdout
    assert "skipped" not in done.stdout
    assert "needs_eval: matplotlib missing; pip install -e '.[eval]' (REQUIRE_ALL=1" in done.stdout
