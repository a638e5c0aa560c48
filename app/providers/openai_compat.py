"""Any OpenAI-compatible chat-completions server: OpenAI, DeepSeek, vLLM, llama.cpp, Ollama."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx

from app.domain import Completion, CompletionRequest
from app.providers.base import (
    error_body,
    lenient_json,
    parse_json,
    post_json,
    request_timeout,
    secret_values,
    status_error,
)
from app.providers.errors import (
    BadRequest,
    ContextOverflow,
    ModelUnavailable,
    Overloaded,
    ProviderStatusError,
    QuotaExceeded,
    error_class_for_status,
)
from app.providers.listing import ListedModel, data_ids, get_listing
from app.providers.openai_shape import chat_messages, parse_chat_completion
from app.providers.wording import (
    DEEPSEEK_UNKNOWN_MODEL,
    OLLAMA_UNKNOWN_MODEL,
    VLLM_CONTEXT_OVERFLOW,
    says,
)
from app.settings import OpenAICompatSettings

# ``error.code`` / ``error.type`` values that refine the status-based class.
_CODE_CLASSES: dict[str, type[ProviderStatusError]] = {
    "insufficient_quota": QuotaExceeded,  # a 429 that no retry will fix
    "unavailable_error": Overloaded,  # llama.cpp while it loads the model
    "context_length_exceeded": ContextOverflow,  # OpenAI
    "exceed_context_size_error": ContextOverflow,  # llama.cpp
    "model_not_found": ModelUnavailable,  # OpenAI: unknown, retired or deprecated model
}

# OpenAI's reasoning models (the o-series and GPT-5) reject ``max_tokens`` ("not compatible with
# o-series models", OpenAI's API reference) and want ``max_completion_tokens``. Decided by model id,
# not by host: the same adapter fronts vLLM, llama.cpp and Ollama, whose older builds know only
# ``max_tokens``, and OpenAI's models are also served by gateways and proxies under other hosts
# (an ``openai/`` prefix included). Azure deployment names hide the family: the setting overrides.
_REASONING_FAMILY = re.compile(r"^(?:o\d+|gpt-5)(?:[-.]|$)")


class OpenAICompatProvider:
    """``POST {base_url}/chat/completions``; the key is optional (local servers need none)."""

    name = "openai_compat"

    def __init__(
        self,
        settings: OpenAICompatSettings,
        client: httpx.AsyncClient,
        *,
        connect_timeout_s: float = 5.0,
        name: str = "openai_compat",
        url_setting: str = "OPENAI_COMPAT_BASE_URL",
    ) -> None:
        # The embedded local model speaks this same wire format under its own name ("local").
        self.name = name
        self._url_setting = url_setting
        self._settings = settings
        self._client = client
        self._connect_s = connect_timeout_s
        self._secrets = secret_values(settings.api_key)

    @property
    def available(self) -> bool:
        return bool(self._settings.base_url)

    @property
    def missing_settings(self) -> tuple[str, ...]:
        return () if self.available else (self._url_setting,)

    @property
    def default_model(self) -> str | None:
        return self._settings.model

    def _endpoint(self) -> tuple[str, dict[str, str]]:
        """The base URL and auth headers every call uses; the key is optional (local servers)."""
        if not self._settings.base_url:
            raise BadRequest(f"not configured (set {self._url_setting})", provider=self.name)
        headers = {}
        if self._secrets and self._secrets[0]:
            headers["Authorization"] = f"Bearer {self._secrets[0]}"
        return self._settings.base_url.rstrip("/"), headers

    async def complete(self, request: CompletionRequest) -> Completion:
        base_url, headers = self._endpoint()
        response = await post_json(
            self._client,
            f"{base_url}/chat/completions",
            provider=self.name,
            headers=headers,
            body=self._body(request),
            timeout=request_timeout(request, connect_s=self._connect_s),
        )
        if response.is_error:
            raise self._error(response)
        body = parse_json(response, provider=self.name, secrets=self._secrets)
        completion = parse_chat_completion(
            body,
            request,
            provider=self.name,
            secrets=self._secrets,
            status_code=response.status_code,
        )
        if completion.upstream_request_id is None:
            request_id = response.headers.get("x-request-id")
            completion = dataclasses.replace(completion, upstream_request_id=request_id)
        return completion

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": chat_messages(request.prompt),
            self._max_tokens_field(request.model): request.max_tokens,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            # strict=False: OpenAI's strict mode rejects schemas that do not close every object.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "phase_output",
                    "schema": request.json_schema,
                    "strict": False,
                },
            }
        return body

    def _max_tokens_field(self, model: str) -> str:
        """``max_completion_tokens`` for OpenAI's reasoning models, else ``max_tokens`` (which every
        OpenAI-compatible server knows), unless the setting names one."""
        chosen = self._settings.max_tokens_field
        if chosen != "auto":
            return chosen
        family = model.rsplit("/", 1)[-1].lower()
        return "max_completion_tokens" if _REASONING_FAMILY.match(family) else "max_tokens"

    def _error(self, response: httpx.Response) -> ProviderStatusError:
        upstream = error_body(lenient_json(response))
        cls = (
            _CODE_CLASSES.get(upstream.code or "")
            or _CODE_CLASSES.get(upstream.type or "")
            or error_class_for_status(response.status_code)
        )
        if cls is BadRequest:
            cls = _refined(response.status_code, upstream.type, upstream.message)
        return status_error(
            cls,
            upstream.message or response.text,
            provider=self.name,
            response=response,
            secrets=self._secrets,
            # vLLM's integer code just repeats the status; the type says more.
            code=upstream.type if (upstream.code or "0").isdigit() else upstream.code,
        )

    async def list_models(self) -> list[ListedModel]:
        """The model ids the server serves (``GET {base_url}/models``)."""
        base_url, headers = self._endpoint()
        response = await get_listing(
            self._client,
            f"{base_url}/models",
            provider=self.name,
            headers=headers,
            connect_timeout_s=self._connect_s,
        )
        if response.is_error:
            raise self._error(response)
        return data_ids(parse_json(response, provider=self.name, secrets=self._secrets))


def _refined(status: int, kind: str | None, message: str | None) -> type[ProviderStatusError]:
    """A plain 4xx made precise where a server says more only in its type or its own wording."""
    if status == 404 and (kind == "NotFoundError" or says(OLLAMA_UNKNOWN_MODEL, message)):
        return ModelUnavailable  # vLLM's 404 for a model it does not serve; Ollama's unpulled model
    if status == 400 and says(DEEPSEEK_UNKNOWN_MODEL, message):
        return ModelUnavailable
    if status == 400 and says(VLLM_CONTEXT_OVERFLOW, message):
        return ContextOverflow  # vLLM and DeepSeek send no code for it
    return BadRequest
