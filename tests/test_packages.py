"""The three packages stay apart: the service never imports the two programs beside it, and the
local model server imports nothing of the service (it runs on its own settings)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(package: str) -> set[str]:
    """The top-level names every module of ``package`` imports (at any depth, lazily too)."""
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("app", {"evaluation", "local_model"}), ("local_model", {"app", "evaluation"})],
)
def test_a_package_never_imports_the_others(package: str, forbidden: set[str]) -> None:
    assert imported_packages(package) & forbidden == set()


def test_the_evaluation_drives_the_service() -> None:
    assert "app" in imported_packages("evaluation")  # the walk sees imports at all
