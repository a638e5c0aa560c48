"""Cloudflare Workers AI through its native ``/ai/run`` API, directly or through AI Gateway."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from app.domain import Completion, CompletionRequest, FinishReason
from app.providers.base import error_body, secret_values, status_error
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    ContextOverflow,
    ModelUnavailable,
    ProviderStatusError,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
    error_class_for_status,
)
from app.providers.http import HttpAdapter
from app.providers.listing import ListedModel, iso_date
from app.providers.openai_shape import chat_messages, parse_chat_completion, parse_usage
from app.providers.wording import VLLM_CONTEXT_OVERFLOW, says
from app.settings import WorkersAISettings
from app.text.reasoning import split_reasoning
from app.transport import Answer, Transport

# Cloudflare's own codes (``errors[].code``) say more than the HTTP status: 3040 and 3036 are
# both 429, but only the first goes away if we retry.
_CODE_CLASSES: dict[int, type[ProviderStatusError]] = {
    3040: RateLimited,  # out of capacity right now
    3036: QuotaExceeded,  # daily free neurons used up until 00:00 UTC
    5035: QuotaExceeded,  # the model needs the Workers Paid plan: a billing fix, not a retry
    3007: UpstreamServerError,  # upstream timeout
    3008: UpstreamServerError,  # upstream aborted
    10000: AuthenticationError,
    5007: ModelUnavailable,  # no such model or task (also what a retired model id gets)
    3042: ModelUnavailable,  # invalid model id
}


class WorkersAIProvider(HttpAdapter):
    """Text generation with ``messages``; accepts both result shapes (legacy and OpenAI)."""

    name = "workers_ai"

    def __init__(
        self, settings: WorkersAISettings, transport: Transport, *, connect_timeout_s: float = 5.0
    ) -> None:
        secrets = secret_values(settings.api_token, settings.gateway_token)
        super().__init__(transport, connect_timeout_s=connect_timeout_s, secrets=secrets)
        self._settings = settings

    @property
    def missing_settings(self) -> tuple[str, ...]:
        missing = []
        if not self._settings.account_id:
            missing.append("WORKERS_AI_ACCOUNT_ID")
        if self._settings.api_token is None or not self._settings.api_token.get_secret_value():
            missing.append("WORKERS_AI_API_TOKEN")
        return tuple(missing)

    async def complete(self, request: CompletionRequest) -> Completion:
        self._require_configured()
        answer, body = await self._post(self._url(request.model), self._body(request), request)
        return self._completion(answer, body, request)

    def _refused(self, body: Any) -> bool:
        return isinstance(body, Mapping) and body.get("success") is False  # a no with HTTP 200

    def _url(self, model: str) -> str:
        account = self._settings.account_id or ""
        base = self._settings.base_url.replace("{account_id}", account).rstrip("/")
        return f"{base}/{model}"  # ids like @cf/meta/... go in unescaped, as Cloudflare documents

    def _headers(self) -> dict[str, str]:
        token = self._settings.api_token
        headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}
        if self._settings.gateway_token is not None:
            gateway = self._settings.gateway_token.get_secret_value()
            headers["cf-aig-authorization"] = f"Bearer {gateway}"
        return headers

    @staticmethod
    def _body(request: CompletionRequest) -> dict[str, Any]:
        # max_tokens always: every legacy model defaults to 256 and truncates silently.
        body: dict[str, Any] = {
            "messages": chat_messages(request.prompt),
            "max_tokens": request.max_tokens,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            # The native endpoint takes the schema itself, without OpenAI's {name, schema} wrapper.
            body["response_format"] = {"type": "json_schema", "json_schema": request.json_schema}
        return body

    def _completion(self, answer: Answer, body: Any, request: CompletionRequest) -> Completion:
        result = body.get("result") if isinstance(body, Mapping) else None
        if not isinstance(result, Mapping):
            raise self._malformed(answer, "the envelope has no result object")
        ray = answer.headers.get("cf-ray")
        if "choices" in result:
            completion = parse_chat_completion(
                result,
                request,
                provider=self.name,
                secrets=self._secrets,
                status_code=answer.status_code,
            )
            if completion.upstream_request_id is None:
                completion = dataclasses.replace(completion, upstream_request_id=ray)
            return completion

        reply = result.get("response")
        reasoning: str | None = None
        unfinished = False
        if isinstance(reply, str):
            raw = reply
            text, reasoning, unfinished = split_reasoning(reply)
        elif isinstance(reply, dict | list):  # JSON mode returns the object itself
            raw = text = json.dumps(reply, ensure_ascii=False)
        else:
            raise self._malformed(answer, "result has neither choices nor a response")
        usage = parse_usage(result.get("usage"), request, output=raw)
        # The legacy shape has no finish reason: a reply that used every token was cut off.
        hit_limit = not usage.estimated and usage.output_tokens >= request.max_tokens
        finish: FinishReason = "length" if hit_limit else "stop"
        return Completion(
            text, usage, finish, reasoning, upstream_request_id=ray, reasoning_unfinished=unfinished
        )

    def _error(self, answer: Answer, body: Any) -> ProviderStatusError:
        entries = body.get("errors") if isinstance(body, Mapping) else None
        errors = [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []
        codes = [c for c in (_as_int(e.get("code")) for e in errors) if c is not None]
        known = next((c for c in codes if c in _CODE_CLASSES), None)
        cls = _CODE_CLASSES[known] if known else error_class_for_status(answer.status_code)
        texts = [str(e["message"]) for e in errors if e.get("message")]
        detail = "; ".join(texts) or error_body(body).message or answer.text
        if cls is BadRequest and answer.status_code == 400 and says(VLLM_CONTEXT_OVERFLOW, detail):
            # No code is documented for it: the text is that of the vLLM server behind the model.
            cls = ContextOverflow
        code = known or (codes[0] if codes else None)
        return status_error(
            cls,
            detail,
            provider=self.name,
            response=answer,
            secrets=self._secrets,
            code=str(code) if code is not None else None,
        )

    async def list_models(self) -> list[ListedModel]:
        """Every model the account can run (``GET …/ai/models/search``, page by page), with the
        deprecation date Cloudflare publishes for models about to retire."""
        self._require_configured()
        # The API token only: through AI Gateway the listing is a Cloudflare API call all the same.
        headers = {"Authorization": self._headers()["Authorization"]}
        models: list[ListedModel] = []
        for page in range(1, _LISTING_MAX_PAGES + 1):
            params = {"page": page, "per_page": _LISTING_PAGE_SIZE}
            answer, body = await self._get_listing(self._models_url(), headers=headers, params=params)
            result = body.get("result") if isinstance(body, Mapping) else None
            if not isinstance(result, list):
                raise self._malformed(answer, "the model listing has no result list")
            models.extend(_listed(entry) for entry in result if isinstance(entry, Mapping))
            if len(result) < _LISTING_PAGE_SIZE:
                break
        return [m for m in models if m.id]

    def _models_url(self) -> str:
        account = self._settings.account_id or ""
        base = self._settings.base_url.replace("{account_id}", account).rstrip("/")
        if base.endswith("/ai/run"):
            return base.removesuffix("/run") + "/models/search"
        # Through AI Gateway the listing is still a Cloudflare API call, with the same token.
        return f"{_CLOUDFLARE_API}/accounts/{account}/ai/models/search"


_CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
_LISTING_PAGE_SIZE = 50
_LISTING_MAX_PAGES = 40


def _listed(entry: Mapping[str, Any]) -> ListedModel:
    """A catalog entry: ``name`` is the model id; ``planned_deprecation_date`` its retirement."""
    name = entry.get("name")
    properties = entry.get("properties")
    deprecation = None
    if isinstance(properties, list):
        deprecation = next(
            (
                iso_date(p.get("value"))
                for p in properties
                if isinstance(p, Mapping) and p.get("property_id") == "planned_deprecation_date"
            ),
            None,
        )
    return ListedModel(name if isinstance(name, str) else "", deprecation)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
