"""/v1/chat/completions and /v1/models: the phases behind OpenAI's wire format, run exactly as
POST /phases/{name}/orchestrate runs them (app.api.phase_answer): same gate, key, cache, metrics."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.api.body import parse_body
from app.api.deps import RequestIdDep, ServicesDep
from app.api.disconnect import unless_disconnected
from app.api.openai_doc import chat_examples
from app.api.openai_intake import (
    check_output,
    model_names,
    orchestrate_request,
    resolve_model,
    schema_check,
)
from app.api.openai_present import completion
from app.api.openai_schemas import ChatCompletion, ChatRequest, ModelList, ModelObject, OpenAIError
from app.api.openai_stream import stream_chat
from app.api.phase_answer import phase_answer, within_limits
from app.api.remember import idempotency_key
from app.api.schemas import OrchestrateResponse
from app.errors import ModelNotFound
from app.phases.catalog import PhaseCatalog

router = APIRouter(prefix="/v1", tags=["openai"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OpenAIError, "description": "Invalid request (also over a MAX_* limit); names the param."},
    401: {
        "model": OpenAIError,
        "description": "API_KEYS is set and no valid key was sent (invalid_api_key).",
    },
    404: {"model": OpenAIError, "description": "Unknown model; the message names the valid ones."},
    409: {"model": OpenAIError, "description": "An Idempotency-Key reused with another body."},
    502: {"model": OpenAIError, "description": "Every model failed; error.models lists each one."},
    503: {"model": OpenAIError, "description": "No usable provider; names the variables to set."},
    504: {"model": OpenAIError, "description": "The phase deadline passed."},
    429: {"model": OpenAIError, "description": "Over RATE_LIMIT; see Retry-After."},
}


@router.get(
    "/models",
    summary="Every model name: phase/<name> and phase/<name>:<strategy>",
    responses={401: _ERRORS[401], 429: _ERRORS[429]},
)
async def list_models(services: ServicesDep) -> ModelList:
    return ModelList(data=_models(services.catalog))


@router.get(
    "/models/{model:path}",
    summary="One model name",
    responses={401: _ERRORS[401], 404: _ERRORS[404], 429: _ERRORS[429]},
)
async def get_model(model: str, services: ServicesDep) -> ModelObject:
    for found in _models(services.catalog):
        if found.id == model:
            return found
    raise ModelNotFound(
        f"the model {model!r} does not exist",
        hint="GET /v1/models lists every valid model name",
        details={"field": "model"},
    )


@router.post(
    "/chat/completions",
    summary="Run a phase as an OpenAI chat completion (stream: true for chunks)",
    response_model=ChatCompletion,
    responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {}, "examples": chat_examples()}},
        }
    },
)
async def chat_completions(request: Request, services: ServicesDep, request_id: RequestIdDep) -> Response:
    chat = await parse_body(request, ChatRequest)
    target = resolve_model(chat.model, services.catalog)
    body = orchestrate_request(chat, target)
    within_limits(body, services.settings)
    validator = schema_check(chat.response_format)
    phase = target.phase.name
    answer = phase_answer(request, services, request_id, target.phase, body)
    if chat.stream:
        usage_chunk = chat.stream_options is not None and chat.stream_options.include_usage
        return await stream_chat(
            request, answer, model=chat.model, phase=phase, validator=validator, usage_chunk=usage_chunk
        )
    keyed = idempotency_key(request) is not None  # a bad key is a 422 before anything runs
    finished, headers = await unless_disconnected(request, answer(), keyed=keyed)
    if finished.status != 200:  # the service's error body; app.api.openai_errors words it OpenAI's way
        return Response(finished.body, finished.status, headers=headers, media_type="application/json")
    raw = json.loads(finished.body)  # kept whole as the ``orchestration`` extension
    result = OrchestrateResponse.model_validate(raw)
    check_output(validator, result.output, phase)
    return JSONResponse(completion(result, raw, chat.model), headers=headers)


def _models(catalog: PhaseCatalog) -> list[ModelObject]:
    return [
        ModelObject(id=name, phase=phase.name, strategy=strategy)
        for name, phase, strategy in model_names(catalog)
    ]
