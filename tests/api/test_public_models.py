"""The public contract is its own: every OpenAPI component comes from a model of app/api/schemas.py,
app/api/service_schemas.py or app/api/openai_schemas.py (or is a phase's output schema, or FastAPI's
own), never from an internal dataclass."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from pydantic import BaseModel

from app.api import openai_schemas, schemas, service_schemas
from tests.support import fake_app

REF = "#/components/schemas/{model}"
FASTAPI_OWN = {"HTTPValidationError", "ValidationError"}
MODULES = (schemas, service_schemas, openai_schemas)
PUBLIC: dict[str, type[BaseModel]] = {
    name: value
    for module in MODULES
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
}


def without_defaults(node: Any) -> Any:
    """``node`` without ``default`` keys: FastAPI leaves some out of what it publishes."""
    if isinstance(node, dict):
        return {k: without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [without_defaults(v) for v in node]
    return node


def generated(model: type[BaseModel]) -> list[Any]:
    """``model``'s component as FastAPI would publish it, for a request and for a response."""
    found = []
    for mode in ("validation", "serialization"):
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        schema.pop("$defs", None)
        found.append(without_defaults(schema))
    return found


def phase_outputs(document: dict[str, Any]) -> set[str]:
    """The components that hold a phase's output schema (referenced by its own operation)."""
    names = set()
    for path, item in document["paths"].items():
        if path.startswith("/phases/") and path != "/phases/{name}/orchestrate" and "post" in item:
            answer = item["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            names.add(answer["allOf"][1]["properties"]["output"]["$ref"].rsplit("/", 1)[1])
    return names


def annotation_types(annotation: Any) -> typing.Iterator[Any]:
    """Every type named in ``annotation``, through unions, containers and Literal."""
    yield annotation
    if typing.get_origin(annotation) is not typing.Literal:
        for arg in typing.get_args(annotation):
            yield from annotation_types(arg)


async def test_every_component_is_generated_from_a_public_model() -> None:
    async with fake_app() as (client, _):
        document = (await client.get("/openapi.json")).json()
    components: dict[str, Any] = document["components"]["schemas"]
    outputs = phase_outputs(document)
    assert len(outputs) == 15  # the walk found every phase's output, so skipping them hides nothing
    for name, component in components.items():
        if name in FASTAPI_OWN or name in outputs:
            continue
        assert name in PUBLIC, f"component {name} is not a public model"
        assert without_defaults(component) in generated(PUBLIC[name]), name


def test_the_public_models_hold_no_dataclass() -> None:
    for module in MODULES:
        assert not [name for name, value in vars(module).items() if dataclasses.is_dataclass(value)]
    for model in PUBLIC.values():
        for name, field in model.model_fields.items():
            for kind in annotation_types(field.annotation):
                assert not dataclasses.is_dataclass(kind), f"{model.__name__}.{name}: {kind}"
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    assert kind in PUBLIC.values(), f"{model.__name__}.{name}: {kind}"
