"""The import layering of pyproject.toml's import-linter contracts holds (``make test`` runs this)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    # --no-cache: a cached graph could hide an import added since; the check takes about a second.
    done = subprocess.run(  # noqa: S603 -- a fixed argv: the lint-imports beside this interpreter
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
