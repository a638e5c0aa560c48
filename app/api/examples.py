"""Realistic example requests, one per phase, for the OpenAPI docs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

EXAMPLES_FILE = Path(__file__).parent.parent / "phases" / "examples.json"


@cache
def request_examples() -> dict[str, dict[str, Any]]:
    """OpenAPI ``examples``: phase name -> {summary, value}."""
    examples: dict[str, Any] = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))
    return {
        name: {"summary": f"{name}: POST /phases/{name}/orchestrate", "value": body}
        for name, body in examples.items()
    }
