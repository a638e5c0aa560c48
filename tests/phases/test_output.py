"""Output contracts: the published schema validates, tightens and prunes forbidden nulls."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from app.phases.output import OutputSchema
from tests.support import FIXTURES, catalog_for, fixture

CATALOG = catalog_for()
# A verbatim copy of shared/reference/phase-schemas.json: the schemas checked against the upstream
# planning machine's own validator. The shipped per-phase files must never drift from it.
REFERENCE = FIXTURES.parent / "reference" / "phase-schemas.json"


@pytest.mark.parametrize("phase", CATALOG.names())
def test_every_phase_example_output_validates(phase: str) -> None:
    assert CATALOG.get(phase).output.errors(fixture(phase)) == []


def test_shipped_schemas_equal_the_reference() -> None:
    reference = {p["name"]: p["output_schema"] for p in json.loads(REFERENCE.read_text())["phases"]}
    shipped = {
        p: json.loads((FIXTURES.parents[2] / "app" / "phases" / "schemas" / f"{p}.json").read_text())
        for p in CATALOG.names()
    }
    assert shipped == reference


def test_kill_test_must_carry_a_verdict() -> None:
    output = CATALOG.get("kill-test").output
    assert output.errors({"verdict": "GO"}) == []
    assert any("verdict" in e for e in output.errors({}))
    assert output.errors({"verdict": None}) != []
    assert output.errors({"verdict": "go"}) != []  # enums are case-sensitive upstream


@pytest.mark.parametrize(
    ("parked", "valid"),
    [
        (None, True),  # nothing parked: the save step inserts nothing
        ({"reason": "AI costs too high today", "revisitEstimateMonths": 12}, True),
        ({}, False),
        ({"revisitEstimateMonths": 12}, False),
        ({"reason": ""}, False),
        ({"reason": None}, False),
    ],
)
def test_a_kill_that_parks_the_idea_needs_a_reason(parked: dict[str, object] | None, valid: bool) -> None:
    output = CATALOG.get("kill-test").output
    kill = {**fixture("kill-test"), "verdict": "KILL"}
    instance = kill if parked is None else {**kill, "parkedForFuture": parked}
    assert output.is_valid(instance) is valid
    _, errors = output.check(instance)
    assert (errors == []) is valid
    if not valid:
        assert any(e.startswith("$.parkedForFuture") for e in errors)
    # Only a KILL is saved to the parked-ideas table; other verdicts keep upstream's leniency.
    assert output.is_valid({**instance, "verdict": "PIVOT"})


def test_the_rules_are_published_but_not_asked_of_structured_output() -> None:
    output = CATALOG.get("kill-test").output
    assert any("if" in rule for rule in output.contract["allOf"])
    # llama.cpp's llguidance refuses a schema with if/then ("Unimplemented keys"): the schema models
    # are sent stays free of them.
    assert '"if":' not in json.dumps(output.schema) and "allOf" not in output.schema


def test_grounded_phases_need_an_http_citation() -> None:
    output = CATALOG.get("market-research").output
    good = {**fixture("market-research")}
    assert output.is_valid(good)
    assert not output.is_valid({**good, "citations": []})
    bad_url = [{"claim": "x", "url": "ftp://example.com", "confidence": "high"}]
    assert not output.is_valid({**good, "citations": bad_url})


def test_forbidden_nulls_are_pruned_and_allowed_ones_kept() -> None:
    output = CATALOG.get("strategy").output
    value = {"positioning": "For brokers…", "brandArchitecture": None, "strategicNarrative": None}
    assert not output.is_valid(value)
    pruned = output.prune_nulls(value)
    assert "brandArchitecture" not in pruned  # .optional() upstream: null rejected, absence fine
    assert output.is_valid(pruned)
    assert value["brandArchitecture"] is None  # the input is not mutated


def test_errors_name_the_path() -> None:
    output = CATALOG.get("kill-test").output
    errors = output.errors({"verdict": "GO", "riskRegister": [{"risk": 5}]})
    assert errors == ["$.riskRegister[0].risk: 5 is not of type 'string', 'null'"]


def test_always_emit_must_name_a_schema_key() -> None:
    with pytest.raises(ValueError, match="nothing"):
        OutputSchema("x", {"type": "object", "properties": {"a": {}}}, ("nothing",))


def test_check_returns_a_valid_answer_untouched_and_prunes_an_invalid_one() -> None:
    output = CATALOG.get("kill-test").output
    valid = {"verdict": "GO"}
    value, errors = output.check(valid)
    assert value is valid and errors == []  # no copy on the usual path
    value, errors = output.check({"verdict": None})
    assert errors and any("verdict" in e for e in errors)
    strategy = CATALOG.get("strategy").output
    nulled = {"positioning": "For brokers…", "brandArchitecture": None}
    value, errors = strategy.check(nulled)
    assert errors == [] and value == {"positioning": "For brokers…"}
    assert nulled["brandArchitecture"] is None  # the input is not mutated


def test_the_bounded_schema_closes_objects_and_caps_lists_without_loosening_anything() -> None:
    from app.phases.output import BOUNDED_MAX_ITEMS, bounded

    schema = {
        "type": "object",
        "properties": {
            "risks": {"type": ["array", "null"], "items": {"type": "object", "properties": {"r": {}}}},
            "steps": {"type": "array", "minItems": 7},
            "open": {"type": "object", "properties": {"a": {}}, "additionalProperties": True},
            "either": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"b": {}}}]},
        },
    }
    tight = bounded(schema)
    assert tight["additionalProperties"] is False
    risks = tight["properties"]["risks"]
    assert risks["maxItems"] == BOUNDED_MAX_ITEMS and risks["items"]["additionalProperties"] is False
    assert tight["properties"]["steps"]["maxItems"] == 7  # never below minItems
    assert tight["properties"]["open"]["additionalProperties"] is True  # an explicit choice stays
    assert tight["properties"]["either"]["anyOf"][1]["additionalProperties"] is False
    assert schema["properties"]["risks"] == {  # the input is untouched
        "type": ["array", "null"],
        "items": {"type": "object", "properties": {"r": {}}},
    }


@pytest.mark.parametrize("phase", CATALOG.names())
def test_what_the_bounded_schema_accepts_the_published_one_accepts(phase: str) -> None:
    # Every phase's example output, cut down to what the bounded schema allows, satisfies both the
    # bounded schema and the phase's contract: bounding only removes choices.
    output = CATALOG.get(phase).output
    tight = jsonschema.Draft202012Validator(output.bounded_wire_schema)
    example = _within(fixture(phase), output.bounded_wire_schema)
    assert list(tight.iter_errors(example)) == [], phase
    assert output.errors(example) == [], phase


def _within(value: Any, schema: Any) -> Any:
    """``value`` with the keys the schema does not declare dropped and its lists capped."""
    if isinstance(value, dict) and isinstance(schema, dict):
        for branch in schema.get("anyOf", []):
            if isinstance(branch, dict) and "properties" in branch:
                schema = branch
        properties = schema.get("properties", {})
        return {k: _within(v, properties[k]) for k, v in value.items() if k in properties}
    if isinstance(value, list) and isinstance(schema, dict):
        items = schema.get("items", {})
        return [_within(v, items) for v in value[: schema.get("maxItems", len(value))]]
    return value
