"""One documented operation per phase: the docs list every phase with its own example and output.

The service has one route, ``POST /phases/{name}/orchestrate``. Spelled out for each configured
phase, the same route becomes fifteen operations in the OpenAPI document: Swagger UI shows each
phase under its own name with a ready example, and a client generator gets each phase's ``output``
typed by that phase's published schema instead of a bare object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from typing import Any

from app.phases.catalog import Phase

_REF = "#/components/schemas/{name}"


def phase_operations(
    generic: Mapping[str, Any],
    phases: Iterable[Phase],
    examples: Mapping[str, Mapping[str, Any]],
    components: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """``/phases/<name>/orchestrate`` -> its path item, derived from the ``generic`` operation.

    Each phase's output schema is added to ``components`` as ``<Phase>Output``.
    """
    paths: dict[str, dict[str, Any]] = {}
    for phase in phases:
        operation = deepcopy(dict(generic))
        operation["operationId"] = "orchestrate_" + phase.name.replace("-", "_")
        operation["summary"] = f"Run {phase.name}"
        operation["description"] = f"{phase.config.summary}\n\n{generic.get('description', '')}".strip()
        operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("in") != "path"]
        operation["responses"].pop("404", None)  # the phase exists: only the generic path can miss
        body = operation["requestBody"]["content"]["application/json"]
        body.pop("examples", None)
        if phase.name in examples:
            body["example"] = deepcopy(examples[phase.name]["value"])
        output = _component_name(phase.name)
        components[output] = _public(phase.output.contract)
        answer = operation["responses"]["200"]["content"]["application/json"]
        answer["schema"] = {
            "allOf": [
                answer["schema"],
                {"type": "object", "properties": {"output": {"$ref": _REF.format(name=output)}}},
            ]
        }
        paths[f"/phases/{phase.name}/orchestrate"] = {"post": operation}
    return paths


def _component_name(phase: str) -> str:
    return "".join(part.capitalize() for part in phase.split("-")) + "Output"


def _public(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The phase's schema as a component: without the keys that only a standalone document has."""
    return {k: deepcopy(v) for k, v in schema.items() if k not in ("$schema", "$id")}
