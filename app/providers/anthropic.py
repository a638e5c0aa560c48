"""Anthropic's Messages API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from app.domain import Completion, CompletionRequest, FinishReason, Usage
from app.providers.base import error_body, estimate_usage, secret_values, status_error
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    ContextOverflow,
    ModelUnavailable,
    Overloaded,
    ProviderStatusError,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
    error_class_for_status,
)
from app.providers.http import HttpAdapter
from app.providers.listing import ListedModel, data_ids
from app.providers.wording import ANTHROPIC_CONTEXT_OVERFLOW, says
from app.settings import AnthropicSettings
from app.text.reasoning import split_reasoning
from app.transport import Answer, Transport

# ``error.type`` refines the status; ``invalid_request_error`` is sent for many 4xx statuses,
# so it (and any type not listed) leaves the status-based class.
_TYPE_CLASSES: dict[str, type[ProviderStatusError]] = {
    "rate_limit_error": RateLimited,
    "overloaded_error": Overloaded,
    "api_error": UpstreamServerError,
    "timeout_error": UpstreamServerError,
    "billing_error": QuotaExceeded,
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "not_found_error": ModelUnavailable,  # on /v1/messages: an unknown or retired model id
    "request_too_large": BadRequest,
}

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class AnthropicProvider(HttpAdapter):
    """``POST /v1/messages`` with a top-level system prompt; thinking blocks become reasoning."""

    name = "anthropic"

    def __init__(
        self, settings: AnthropicSettings, transport: Transport, *, connect_timeout_s: float = 5.0
    ) -> None:
        secrets = secret_values(settings.api_key, settings.gateway_token)
        super().__init__(transport, connect_timeout_s=connect_timeout_s, secrets=secrets)
        self._settings = settings
        self._base_url = settings.base_url.rstrip("/")

    @property
    def missing_settings(self) -> tuple[str, ...]:
        # A gateway token alone is enough when the gateway holds the Anthropic key (BYOK).
        configured = _secret(self._settings.api_key) or _secret(self._settings.gateway_token)
        return () if configured else ("ANTHROPIC_API_KEY",)

    async def complete(self, request: CompletionRequest) -> Completion:
        self._require_configured()
        answer, body = await self._post(f"{self._base_url}/v1/messages", self._body(request), request)
        return self._completion(answer, body, request)

    def _refused(self, body: Any) -> bool:
        # An error can arrive with HTTP 200 (as in streams).
        return isinstance(body, Mapping) and body.get("type") == "error"

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self._settings.version}  # the transport sets the content type
        if key := _secret(self._settings.api_key):
            headers["x-api-key"] = key
        if gateway := _secret(self._settings.gateway_token):
            headers["cf-aig-authorization"] = f"Bearer {gateway}"
        return headers

    @staticmethod
    def _body(request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": "user", "content": request.prompt.user}],
        }
        if request.prompt.system:
            body["system"] = request.prompt.system
        # Never top_p: several models reject temperature and top_p together, and the newest
        # reject any sampling parameter, which the caller signals with temperature=None.
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.json_schema is not None:
            body["output_config"] = {"format": {"type": "json_schema", "schema": request.json_schema}}
        return body

    def _completion(self, answer: Answer, body: Any, request: CompletionRequest) -> Completion:
        blocks = body.get("content") if isinstance(body, Mapping) else None
        if not isinstance(blocks, list):
            raise self._malformed(answer, "the message has no content list")
        texts: list[str] = []
        thoughts: list[str] = []
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                thoughts.append(block["thinking"])
            elif kind == "redacted_thinking":
                thoughts.append("[redacted thinking]")  # the payload is encrypted, not text
        # Anthropic-compatible servers (MiniMax's, gateways in front of open models) can put an
        # inline <think> in a text block: the same rules as every other wire apply to it.
        text, inline, unclosed = split_reasoning("".join(texts))
        if inline:
            thoughts.append(inline)
        reasoning = "\n\n".join(t.strip() for t in thoughts if t.strip()) or None
        stop = body.get("stop_reason")
        return Completion(
            text=text,
            usage=_usage(body.get("usage"), request, output="".join(texts) + "".join(thoughts)),
            finish_reason=_STOP.get(stop, "other") if isinstance(stop, str) else "other",
            reasoning=reasoning,
            upstream_request_id=answer.headers.get("request-id"),
            # Thinking blocks and no text: the model stopped while it was still thinking.
            reasoning_unfinished=unclosed or (not text and bool(thoughts)),
        )

    def _error(self, answer: Answer, body: Any) -> ProviderStatusError:
        upstream = error_body(body)
        cls = _TYPE_CLASSES.get(upstream.type or "")
        if cls is None:
            # An unknown type with HTTP 200 (an error body in a 2xx): not worth retrying blind.
            cls = error_class_for_status(answer.status_code) if answer.is_error else BadRequest
        if cls is BadRequest and says(ANTHROPIC_CONTEXT_OVERFLOW, upstream.message):
            cls = ContextOverflow  # Anthropic's type for it is the generic invalid_request_error
        return status_error(
            cls,
            upstream.message or answer.text,
            provider=self.name,
            response=answer,
            secrets=self._secrets,
            code=upstream.type,
        )

    async def list_models(self) -> list[ListedModel]:
        """Every model id the key may use (``GET /v1/models``, following ``has_more``)."""
        self._require_configured()
        params: dict[str, str | int] = {"limit": _LISTING_PAGE_SIZE}
        models: list[ListedModel] = []
        for _ in range(_LISTING_MAX_PAGES):
            _, body = await self._get_listing(f"{self._base_url}/v1/models", params=params)
            models.extend(data_ids(body))
            last = body.get("last_id") if isinstance(body, Mapping) else None
            if not (isinstance(body, Mapping) and body.get("has_more") is True and isinstance(last, str)):
                break
            params = {"limit": _LISTING_PAGE_SIZE, "after_id": last}
        return models


_LISTING_PAGE_SIZE = 1000  # the API's maximum
_LISTING_MAX_PAGES = 20


def _usage(usage: Any, request: CompletionRequest, *, output: str) -> Usage:
    """Input counts cached tokens too: ``input_tokens`` alone excludes them. A count the upstream
    left out (gateways and Anthropic-compatible servers do) is estimated, and said to be, never 0."""
    if not isinstance(usage, Mapping):
        return estimate_usage(request, output)

    def count(key: str) -> int | None:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    prompt, completion = count("input_tokens"), count("output_tokens")
    if prompt is not None:
        prompt += sum(count(k) or 0 for k in ("cache_creation_input_tokens", "cache_read_input_tokens"))
    if prompt is not None and completion is not None:
        return Usage(prompt, completion)
    guess = estimate_usage(request, output)
    return Usage(
        guess.input_tokens if prompt is None else prompt,
        guess.output_tokens if completion is None else completion,
        estimated=True,
    )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
