"""The phase endpoint's JSON rendered the OpenAI way: a chat.completion, its chunks, its errors."""

from __future__ import annotations

import json
import time
from typing import Any

from app.api.schemas import OrchestrateResponse

ERROR_TYPES = {429: "rate_limit_error"}
"""OpenAI's error ``type`` by status; any other 4xx is invalid_request_error, a 5xx server_error."""
AS_BAD_REQUEST = frozenset({413, 422})
"""OpenAI answers an over-long or invalid request with 400; its clients raise BadRequestError."""
NOT_RETRIED = frozenset({"idempotency_key_conflict"})
"""409s that a retry cannot fix; OpenAI's SDKs retry every other 409 (they read it as a lock)."""
AUTH_CODES = {"unauthorized": "invalid_api_key"}


def completion_id(answer: OrchestrateResponse) -> str:
    """The run's request id, so a replayed answer keeps the id it was first given."""
    return f"chatcmpl-{answer.request_id}"


def usage(answer: OrchestrateResponse) -> dict[str, int]:
    """Every model call's tokens, summed (the phase endpoint's usage)."""
    tokens_in, tokens_out = answer.usage.tokens_in, answer.usage.tokens_out
    return {
        "prompt_tokens": tokens_in,
        "completion_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
    }


def content(answer: OrchestrateResponse) -> str:
    """The assistant message: the phase's validated output as JSON text."""
    return json.dumps(answer.output, ensure_ascii=False)


def completion(answer: OrchestrateResponse, raw: dict[str, Any], model: str) -> dict[str, Any]:
    """The chat.completion body; ``raw`` is the phase endpoint's body, kept whole."""
    return {
        "id": completion_id(answer),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content(answer), "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(answer),
        "orchestration": raw,
    }


def chunk(chunk_id: str, model: str, choices: list[dict[str, Any]], **extra: Any) -> str:
    """One chat.completion.chunk as SSE data."""
    body = {"id": chunk_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    return json.dumps({**body, "choices": choices, **extra}, ensure_ascii=False)


def delta(**fields: Any) -> list[dict[str, Any]]:
    """The one choice of a chunk carrying ``fields`` as its delta."""
    finish = fields.pop("finish_reason", None)
    return [{"index": 0, "delta": fields, "finish_reason": finish, "logprobs": None}]


def openai_error(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The service's error body as OpenAI's: the status clients expect, the body, extra headers."""
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = str(error.get("code") or "error")
    details = error.get("details") or {}
    param = details.get("field")
    problems = details.get("problems") or []
    if param is None and problems:  # a validation error: its first field, as OpenAI names params
        param = str(problems[0].get("field", "")).removeprefix("body.") or None
    status = 400 if status in AS_BAD_REQUEST else status
    out = {
        "message": str(error.get("message", "")),
        "type": ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
        "param": param,
        "code": AUTH_CODES.get(code, code),
        "hint": error.get("hint"),
        "request_id": error.get("request_id"),
        "details": details,
        "models": error.get("models") or [],
    }
    headers = {"x-should-retry": "false"} if code in NOT_RETRIED else {}
    return status, {"error": out}, headers
