"""The OpenAPI document, with the hand-parsed request body registered as a real component, the
orchestrate operation's headers and event stream declared (app.api.orchestrate_doc), and that
operation spelled out once per phase (app.api.phase_operations)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.examples import request_examples
from app.api.openai_doc import document_chat
from app.api.openai_errors import OPENAI_PREFIX
from app.api.orchestrate_doc import document_orchestrate
from app.api.phase_operations import phase_operations
from app.api.schemas import OrchestrateRequest
from app.phases.catalog import PhaseCatalog

_REF = "#/components/schemas/{model}"
ORCHESTRATE_PATH = "/phases/{name}/orchestrate"


def install_openapi(app: FastAPI, catalog: PhaseCatalog) -> None:
    """Build the schema once, on first request of /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        body_schema = OrchestrateRequest.model_json_schema(ref_template=_REF)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body_schema.pop("$defs", {}))
        components["OrchestrateRequest"] = body_schema
        for route, path in schema.get("paths", {}).items():
            if route.startswith(OPENAI_PREFIX):
                continue  # OpenAI's body, not the phase endpoint's (app.api.openai_doc)
            body = path.get("post", {}).get("requestBody", {})
            content = body.get("content", {}).get("application/json")
            if content is not None:
                content["schema"] = {"$ref": _REF.format(model="OrchestrateRequest")}
        document_chat(schema)
        generic = schema["paths"][ORCHESTRATE_PATH]["post"]
        document_orchestrate(generic)
        schema["paths"].update(phase_operations(generic, catalog, request_examples(), components))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
