"""The OpenAI chat-completions wire, for every server that speaks it: one class, many configurations.

A provider on this wire is a ``ChatEndpoint``: its name, base URL, key and a ``ChatProfile`` of the
ways its server departs from OpenAI's (MiniMax: ``app.providers.minimax``; OpenAI, DeepSeek, vLLM,
llama.cpp, Ollama: ``app.providers.openai_compat``). The registry builds them from the settings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pydantic import SecretStr

from app.domain import Completion, CompletionRequest
from app.local_pace import LocalPace, Paced
from app.providers.base import secret_values, status_error
from app.providers.chat_stream import ChunkReader
from app.providers.errors import BadRequest, ProviderError, ProviderStatusError
from app.providers.http import HttpAdapter
from app.providers.listing import ListedModel, data_ids
from app.providers.llama_server import decoding
from app.providers.openai_shape import chat_messages, parse_chat_completion
from app.transport import Answer, Transport

BudgetField = Literal["auto", "max_tokens", "max_completion_tokens"]

# OpenAI's reasoning models (the o-series and GPT-5) reject ``max_tokens`` ("not compatible with
# o-series models", OpenAI's API reference) and want ``max_completion_tokens``. Decided by model id,
# not by host: the same wire fronts vLLM, llama.cpp and Ollama, whose older builds know only
# ``max_tokens``, and OpenAI's models are also served by gateways and proxies under other hosts
# (an ``openai/`` prefix included). Azure deployment names hide the family: the setting overrides.
_REASONING_FAMILY = re.compile(r"^(?:o\d+|gpt-5)(?:[-.]|$)")


class UpstreamNo(NamedTuple):
    """An upstream's refusal, read: the error class, the text to quote and the upstream's code."""

    cls: type[ProviderStatusError]
    detail: str | None
    code: str | None


def no_error_in_body(body: Any) -> bool:
    """For servers that never say no with HTTP 200."""
    return False


@dataclass(frozen=True, slots=True)
class ChatProfile:
    """How one family of servers departs from OpenAI's chat completions."""

    classify: Callable[[int, Any], UpstreamNo]
    """Reads a refusal from the HTTP status and the JSON body (``None`` when it is not JSON)."""
    budget_field: BudgetField = "auto"
    """The output budget's name; ``auto`` picks ``max_completion_tokens`` for OpenAI's reasoning
    models (by model id) and ``max_tokens``, which every server knows, for the rest."""
    temperature_range: tuple[float, float] | None = None
    """Clamp the temperature into this range (for servers that reject values outside it)."""
    response_format: bool = True
    """Send the phase's schema as ``response_format`` (``json_schema``)."""
    seed: bool = True
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    """Fields of the server's own added to every request body."""
    error_in_body: Callable[[Any], bool] = no_error_in_body
    """Whether a 2xx body is a refusal (then ``classify`` reads it)."""
    request_id_header: str = "x-request-id"
    """Where the server's request id is, when the body has no ``id``."""
    listing_path: str = "/models"


@dataclass(frozen=True, slots=True)
class ChatEndpoint:
    """One provider on the OpenAI chat wire: who, where, which key, and its server's quirks."""

    name: str
    base_url: str | None
    api_key: SecretStr | None
    profile: ChatProfile
    url_setting: str
    """The environment variable that sets ``base_url``, named when it is missing."""
    key_setting: str | None = None
    """The environment variable of a required key; ``None`` when the key is optional."""
    default_model: str | None = None
    pace: LocalPace | None = None
    """Set for a llama.cpp server (the local model): its answers are streamed and their pace (the
    ``timings``, or the tokens of one cut off) learned here; ``/health`` and ``/slots`` say whether
    it is busy."""


class OpenAIChatProvider(HttpAdapter, Paced):
    """``POST {base_url}/chat/completions``; the key is sent as a bearer token when there is one."""

    def __init__(
        self, endpoint: ChatEndpoint, transport: Transport, *, connect_timeout_s: float = 5.0
    ) -> None:
        super().__init__(
            transport, connect_timeout_s=connect_timeout_s, secrets=secret_values(endpoint.api_key)
        )
        self.name = endpoint.name
        self._endpoint = endpoint
        self._profile = endpoint.profile
        self._base_url = (endpoint.base_url or "").rstrip("/")
        self._key = self._secrets[0] if self._secrets else ""
        self.pace = endpoint.pace

    @property
    def missing_settings(self) -> tuple[str, ...]:
        if not self._base_url:
            return (self._endpoint.url_setting,)
        if self._endpoint.key_setting and not self._key:
            return (self._endpoint.key_setting,)
        return ()

    @property
    def default_model(self) -> str | None:
        return self._endpoint.default_model

    def _unconfigured(self, message: str) -> ProviderError:
        # Without a URL there is nowhere to send the call: a configuration error, not an auth one.
        return super()._unconfigured(message) if self._base_url else BadRequest(message, provider=self.name)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    async def complete(self, request: CompletionRequest) -> Completion:
        self._require_configured()
        answer, body = await self._answer(request)
        completion = parse_chat_completion(
            body, request, provider=self.name, secrets=self._secrets, status_code=answer.status_code
        )
        if completion.upstream_request_id is None:  # support asks for it
            request_id = answer.headers.get(self._profile.request_id_header)
            completion = dataclasses.replace(completion, upstream_request_id=request_id)
        return completion

    async def _answer(self, request: CompletionRequest) -> tuple[Answer, Any]:
        """The answer; from a llama.cpp server streamed, so that whoever watches sees the tokens
        and a call cut off by its timeout still teaches the pace (the busy case that matters)."""
        url, body = f"{self._base_url}/chat/completions", self._body(request)
        if self.pace is None:
            return await self._post(url, body, request)
        if not self._streams():
            answer, parsed = await self._post(url, body, request)
            self.pace.observe_timings(parsed.get("timings") if isinstance(parsed, Mapping) else None)
            return answer, parsed
        reader = ChunkReader(request.on_tokens or _unwatched)
        streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
        try:
            answer, parsed = await self._post(url, streamed, request, on_data=reader.feed)
        except BaseException:  # a call cut off by its timeout still shows how fast the server decoded
            self.pace.observe(reader.tokens - 1, reader.decode_s)
            raise
        self.pace.observe_timings(parsed.get("timings") if isinstance(parsed, Mapping) else None)
        return answer, parsed

    async def decoding(self) -> str | None:
        """Why the llama.cpp server is alive and working, when it is one and is."""
        return None if self.pace is None else await decoding(self._transport, self._base_url)

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        profile = self._profile
        body: dict[str, Any] = {
            "model": request.model,
            "messages": chat_messages(request.prompt),
            _budget_field(profile.budget_field, request.model): request.max_tokens,
            **profile.extra_body,
        }
        if request.temperature is not None:
            low, high = profile.temperature_range or (request.temperature, request.temperature)
            body["temperature"] = min(max(request.temperature, low), high)
        if request.seed is not None and profile.seed:
            body["seed"] = request.seed
        if request.json_schema is not None and profile.response_format:
            # strict=False: OpenAI's strict mode rejects schemas that do not close every object.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "phase_output", "schema": request.json_schema, "strict": False},
            }
        return body

    def _refused(self, body: Any) -> bool:
        return self._profile.error_in_body(body)

    def _error(self, answer: Answer, body: Any) -> ProviderStatusError:
        no = self._profile.classify(answer.status_code, body)
        return status_error(
            no.cls,
            no.detail or answer.text,
            provider=self.name,
            response=answer,
            secrets=self._secrets,
            code=no.code,
        )

    async def list_models(self) -> list[ListedModel]:
        """The model ids the server serves (``GET {base_url}/models``, OpenAI's shape)."""
        self._require_configured()
        _, body = await self._get_listing(f"{self._base_url}{self._profile.listing_path}")
        return data_ids(body)


def _unwatched(tokens: int) -> None:
    """Nobody watches this call's progress; its reader still measures the pace."""


def _budget_field(chosen: BudgetField, model: str) -> str:
    if chosen != "auto":
        return chosen
    family = model.rsplit("/", 1)[-1].lower()
    return "max_completion_tokens" if _REASONING_FAMILY.match(family) else "max_tokens"
