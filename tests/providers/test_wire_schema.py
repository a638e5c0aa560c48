"""The schema providers are sent for structured output: standard JSON Schema keywords only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.phases.output import OutputSchema, wire_safe
from app.providers.registry import PROVIDER_NAMES
from tests.support import catalog_for, fixture

CATALOG = catalog_for(known_providers=PROVIDER_NAMES)


def keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in ``schema`` (property names and data values excluded)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key in ("properties", "patternProperties", "$defs") and isinstance(value, dict):
                found.update(k for v in value.values() for k in keywords(v))
            elif key not in ("enum", "const", "default", "examples", "required"):
                found.update(keywords(value))
    elif isinstance(schema, list):
        found.update(k for v in schema for k in keywords(v))
    return found


@pytest.mark.parametrize("name", CATALOG.names())
def test_every_phase_sends_standard_keywords_and_means_the_same(name: str) -> None:
    output = CATALOG.get(name).output
    sent = output.wire_schema

    assert not {k for k in keywords(sent) if k.startswith("x-") or k in ("$schema", "$id")}
    Draft202012Validator.check_schema(sent)
    example = fixture(name)
    assert Draft202012Validator(sent).is_valid(example) is output.is_valid(example)
    assert output.prompt_text == json.dumps(sent, separators=(",", ":"))  # models see what is sent


def test_annotations_go_but_names_and_data_stay() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "x-upstream-note": "bookkeeping",
        "properties": {
            "x-ray": {"type": "string", "x-note": "a property may be named like an annotation"},
            "plan": {"type": "object", "default": {"x-keep": 1}, "enum": [{"x-also": 2}]},
            "steps": {"type": "array", "items": {"type": "string", "x-upstream-any": True}},
        },
        "anyOf": [{"required": ["plan"], "x-why": "no"}],
        "vendorKeyword": True,
    }

    assert wire_safe(schema) == {
        "type": "object",
        "properties": {
            "x-ray": {"type": "string"},
            "plan": {"type": "object", "default": {"x-keep": 1}, "enum": [{"x-also": 2}]},
            "steps": {"type": "array", "items": {"type": "string"}},
        },
        "anyOf": [{"required": ["plan"]}],
    }
    assert OutputSchema("p", schema).schema["x-upstream-note"] == "bookkeeping"  # validation keeps it all
