"""MiniMax through its OpenAI-compatible ``/chat/completions`` path."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
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
    AuthenticationError,
    BadRequest,
    ContentRejected,
    ContextOverflow,
    ModelUnavailable,
    ProviderStatusError,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
    error_class_for_status,
)
from app.providers.listing import ListedModel, data_ids, get_listing
from app.providers.openai_shape import chat_messages, parse_chat_completion
from app.providers.wording import MINIMAX_CONTEXT_OVERFLOW, MINIMAX_UNKNOWN_MODEL, says
from app.settings import MiniMaxSettings

# MiniMax's own status codes, which arrive in ``base_resp`` (even with HTTP 200) or at the end of
# an error message as "(2013)". They, not the HTTP status, say what went wrong: insufficient
# balance has been seen as HTTP 500.
_CODE_CLASSES: dict[int, type[ProviderStatusError]] = {
    1000: UpstreamServerError,  # unknown error
    1001: UpstreamServerError,  # request timeout
    1024: UpstreamServerError,  # internal error
    1033: UpstreamServerError,  # system / downstream error
    1002: RateLimited,  # requests per minute
    1039: RateLimited,  # tokens per minute
    1041: RateLimited,  # connection limit
    1004: AuthenticationError,  # not authorized
    2049: AuthenticationError,  # invalid key (often: a key of the other region's host)
    1008: QuotaExceeded,  # insufficient balance
    2056: QuotaExceeded,  # usage limit of the plan; waiting seconds will not help
    1026: ContentRejected,  # input flagged as sensitive
    1027: ContentRejected,  # output flagged as sensitive
    1042: BadRequest,  # illegal characters
    2013: BadRequest,  # invalid parameters
}
_TRAILING_CODE = re.compile(r"\((\d{4})\)\W*$")


class MiniMaxProvider:
    """Chat completions with ``reasoning_split``, so the thinking stays out of the answer."""

    name = "minimax"

    def __init__(
        self,
        settings: MiniMaxSettings,
        client: httpx.AsyncClient,
        *,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._settings = settings
        self._client = client
        self._connect_s = connect_timeout_s
        self._secrets = secret_values(settings.api_key)

    @property
    def available(self) -> bool:
        return bool(self._secrets and self._secrets[0])

    @property
    def missing_settings(self) -> tuple[str, ...]:
        return () if self.available else ("MINIMAX_API_KEY",)

    @property
    def default_model(self) -> str | None:
        return None

    async def complete(self, request: CompletionRequest) -> Completion:
        if not self.available:
            raise AuthenticationError("not configured (set MINIMAX_API_KEY)", provider=self.name)
        response = await post_json(
            self._client,
            f"{self._settings.base_url.rstrip('/')}/chat/completions",
            provider=self.name,
            headers={"Authorization": f"Bearer {self._secrets[0]}"},
            body=self._body(request),
            timeout=request_timeout(request, connect_s=self._connect_s),
        )
        if response.is_error:
            raise self._error(response, lenient_json(response))
        body = parse_json(response, provider=self.name, secrets=self._secrets)
        if _base_resp_code(body):
            raise self._error(response, body)  # MiniMax may say no with HTTP 200
        completion = parse_chat_completion(
            body,
            request,
            provider=self.name,
            secrets=self._secrets,
            status_code=response.status_code,
        )
        if completion.upstream_request_id is None:  # support asks for the trace id
            trace = response.headers.get("trace-id")
            completion = dataclasses.replace(completion, upstream_request_id=trace)
        return completion

    @staticmethod
    def _body(request: CompletionRequest) -> dict[str, Any]:
        # No response_format or seed: M2.x ignores the first and does not document the second.
        body: dict[str, Any] = {
            "model": request.model,
            "messages": chat_messages(request.prompt),
            "max_completion_tokens": request.max_tokens,
            "reasoning_split": True,
        }
        if request.temperature is not None:
            body["temperature"] = min(max(request.temperature, 0.01), 1.0)  # range is (0, 1]
        return body

    def _error(self, response: httpx.Response, body: Any) -> ProviderStatusError:
        upstream = error_body(body)
        code = _base_resp_code(body) or _trailing_code(upstream.message)
        status_msg = _base_resp_message(body)
        if code in _CODE_CLASSES:
            cls = _CODE_CLASSES[code]
        elif response.is_error:
            cls = error_class_for_status(response.status_code)
        else:
            cls = BadRequest  # an unknown code with HTTP 200: not worth retrying blind
        detail = upstream.message or status_msg or response.text
        if code == 2013:  # "invalid params" covers both; only the text tells them apart
            if says(MINIMAX_CONTEXT_OVERFLOW, detail):
                cls = ContextOverflow
            elif says(MINIMAX_UNKNOWN_MODEL, detail):
                cls = ModelUnavailable
        return status_error(
            cls,
            detail,
            provider=self.name,
            response=response,
            secrets=self._secrets,
            code=str(code) if code else None,
        )

    async def list_models(self) -> list[ListedModel]:
        """The model ids this key's region serves (``GET {base}/models``, OpenAI's shape)."""
        if not self.available:
            raise AuthenticationError("not configured (set MINIMAX_API_KEY)", provider=self.name)
        response = await get_listing(
            self._client,
            f"{self._settings.base_url.rstrip('/')}/models",
            provider=self.name,
            headers={"Authorization": f"Bearer {self._secrets[0]}"},
            connect_timeout_s=self._connect_s,
        )
        if response.is_error:
            raise self._error(response, lenient_json(response))
        body = parse_json(response, provider=self.name, secrets=self._secrets)
        if _base_resp_code(body):
            raise self._error(response, body)
        return data_ids(body)


def _base_resp(body: Any) -> Mapping[str, Any]:
    base = body.get("base_resp") if isinstance(body, Mapping) else None
    return base if isinstance(base, Mapping) else {}


def _base_resp_code(body: Any) -> int:
    """``base_resp.status_code``; 0 (success) when absent."""
    code = _base_resp(body).get("status_code")
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _base_resp_message(body: Any) -> str | None:
    message = _base_resp(body).get("status_msg")
    return message if isinstance(message, str) and message else None


def _trailing_code(message: str | None) -> int:
    """The MiniMax code at the end of an error message, e.g. ``invalid params (2013)``."""
    match = _TRAILING_CODE.search(message or "")
    return int(match.group(1)) if match else 0
