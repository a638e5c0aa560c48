"""The OpenAPI document's part for /v1/chat/completions: its request body and examples."""

from __future__ import annotations

import json
from typing import Any

from app.api.openai_schemas import ChatRequest

CHAT_PATH = "/v1/chat/completions"
_REF = "#/components/schemas/{model}"


def chat_examples() -> dict[str, Any]:
    """Request examples: plain, with context and instructions, streamed, with a json_schema."""
    idea = "AI agent that audits freight invoices for small brokers"
    context = {"context": {"customer-intel": {"segment": "brokers with 5-50 trucks"}},
               "instructions": "be blunt about the risks"}  # fmt: skip
    return {
        "plain": {
            "summary": "The idea as the user message",
            "value": {"model": "phase/kill-test", "messages": [{"role": "user", "content": idea}]},
        },
        "context": {
            "summary": "Context and instructions in a JSON system message; a strategy in the model",
            "value": {
                "model": "phase/kill-test:vote",
                "messages": [
                    {"role": "system", "content": json.dumps(context)},
                    {"role": "user", "content": idea},
                ],
                "response_format": {"type": "json_object"},
            },
        },
        "stream": {
            "summary": "Streamed, with the usage chunk and an orchestration option",
            "value": {
                "model": "phase/kill-test",
                "messages": [{"role": "user", "content": idea}],
                "stream": True,
                "stream_options": {"include_usage": True},
                "orchestration": {"deadline_s": 120},
            },
        },
    }


def document_chat(schema: dict[str, Any]) -> None:
    """Point the chat operation's body at the ChatRequest component (the route parses it by hand)."""
    body_schema = ChatRequest.model_json_schema(ref_template=_REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(body_schema.pop("$defs", {}))
    components["ChatRequest"] = body_schema
    operation = schema["paths"][CHAT_PATH]["post"]
    operation["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": _REF.format(model="ChatRequest")
    }
