"""The contract every provider adapter meets, and the small helpers they share."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import httpx
from pydantic import SecretStr

from app.domain import Completion, CompletionRequest, Usage
from app.providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
    redact,
)
from app.upstream_http import UpstreamClient

MAX_DETAIL_CHARS = 300
"""How much of an upstream's own error text an error message quotes."""


@runtime_checkable
class Provider(Protocol):
    """One wire API. ``complete`` returns a normalised ``Completion`` or raises ``ProviderError``."""

    name: str
    """Registry name, e.g. ``workers_ai``; appears in records and errors."""

    @property
    def available(self) -> bool:
        """Whether the credentials and endpoint this provider needs are configured."""
        ...

    @property
    def missing_settings(self) -> tuple[str, ...]:
        """Environment variables to set to make this provider available (empty when it is)."""
        ...

    @property
    def default_model(self) -> str | None:
        """Model id used for catalog entries that name none (OpenAI-compatible servers)."""
        ...

    async def complete(self, request: CompletionRequest) -> Completion:
        """Make one call; raise a ``ProviderError`` subclass on any failure."""
        ...


def request_timeout(request: CompletionRequest, *, connect_s: float) -> httpx.Timeout:
    """Connect, read, write and pool timeouts for one call (the read timeout is the model's)."""
    return httpx.Timeout(request.timeout_s, connect=min(connect_s, request.timeout_s))


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the upstream asked us to wait: ``retry-after-ms``, else ``retry-after`` (s or date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    provider: str,
    headers: dict[str, str],
    body: dict[str, Any],
    timeout: httpx.Timeout,
) -> httpx.Response:
    """POST a JSON body, translating transport failures into ``ProviderError``s."""
    try:
        if isinstance(client, UpstreamClient):  # the production client: aiohttp, direct
            return await client.post_json(url, headers=headers, body=body, timeout=timeout)
        return await client.post(url, headers=headers, json=body, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(
            f"no answer within the timeout ({type(exc).__name__})", provider=provider
        ) from None
    except httpx.TransportError as exc:
        raise ProviderConnectionError(
            f"{_what_broke(exc)} ({type(exc).__name__})", provider=provider
        ) from None


def _what_broke(error: httpx.TransportError) -> str:
    """A transport failure in words for callers: what went wrong, never where (no host, no port).

    A connection that ends after the request went out (a reset, a hang-up, a body cut short) is not
    "could not reach": the upstream was reached and may have started work.
    """
    if isinstance(error, httpx.ConnectError):
        return "could not connect to the provider"
    if isinstance(error, httpx.ReadError | httpx.RemoteProtocolError | httpx.CloseError):
        return "the connection broke mid-answer"
    if isinstance(error, httpx.WriteError | httpx.LocalProtocolError):
        return "the connection broke while sending the request"
    if isinstance(error, httpx.ProxyError):
        return "the proxy refused the connection"
    if isinstance(error, httpx.UnsupportedProtocol):
        return "the provider's base URL is not http(s)"
    return "the request failed in transport"


def json_body(response: httpx.Response, *, provider: str) -> Any:
    """The response body as JSON; a non-JSON body is a ``ProviderResponseError``.

    Some servers (DeepSeek under load) send blank lines before the body, which ``json.loads``
    tolerates as leading whitespace.
    """
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:200].strip() or "<empty body>"
        raise ProviderResponseError(
            f"response is not JSON: {snippet!r}",
            provider=provider,
            status_code=response.status_code,
        ) from None


def secret_values(*secrets: SecretStr | None) -> tuple[str, ...]:
    """The plain values of the configured secrets, for ``redact`` (unset ones are skipped)."""
    return tuple(s.get_secret_value() for s in secrets if s is not None)


def upstream_text(text: str, secrets: Iterable[str]) -> str:
    """Upstream text made safe to quote: keys scrubbed first (so a cut never splits one), then
    clipped."""
    clean = " ".join(redact(text, secrets).split())
    if len(clean) > MAX_DETAIL_CHARS:
        clean = clean[: MAX_DETAIL_CHARS - 1] + "…"
    return clean or "<empty body>"


def parse_json(response: httpx.Response, *, provider: str, secrets: Iterable[str]) -> Any:
    """``json_body`` whose error message cannot quote a key the upstream echoed back."""
    try:
        return json_body(response, provider=provider)
    except ProviderResponseError as exc:
        # Quote from the whole text, scrubbed before clipping: a cut could split a key.
        raise ProviderResponseError(
            f"response is not JSON: {upstream_text(response.text, secrets)!r}",
            provider=provider,
            status_code=exc.status_code,
        ) from None


def lenient_json(response: httpx.Response) -> Any:
    """The body as JSON, or ``None``: error bodies are often HTML or plain text."""
    try:
        return response.json()
    except ValueError:
        return None


class ErrorBody(NamedTuple):
    """The parts of an upstream error body that classification and messages use."""

    message: str | None
    type: str | None
    code: str | None


def error_body(body: Any) -> ErrorBody:
    """Read ``{"error": {message, type, code}}`` (OpenAI, Anthropic, MiniMax, llama.cpp, new
    vLLM), ``{"error": "text"}`` and the flat ``{"object": "error", "message": ...}`` (old vLLM)."""
    if not isinstance(body, Mapping):
        return ErrorBody(None, None, None)
    inner = body.get("error")
    if isinstance(inner, str):
        return ErrorBody(inner, None, None)
    source: Mapping[str, Any] = inner if isinstance(inner, Mapping) else body
    message, kind, code = source.get("message"), source.get("type"), source.get("code")
    return ErrorBody(
        message if isinstance(message, str) else None,
        kind if isinstance(kind, str) else None,
        str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
    )


def status_error(
    cls: type[ProviderStatusError],
    detail: str,
    *,
    provider: str,
    response: httpx.Response,
    secrets: Iterable[str],
    code: str | None = None,
) -> ProviderStatusError:
    """An error of class ``cls`` quoting ``detail`` safely, with the upstream's retry hints."""
    error = cls(
        upstream_text(detail, secrets),
        provider=provider,
        status_code=response.status_code,
        code=code,
        retry_after_s=parse_retry_after(response.headers),
    )
    # The upstream knows better than its status code (a 409 lock that will not clear, a 400 from a
    # replica that is restarting): ``x-should-retry`` overrides the class's default, as the
    # official OpenAI and Anthropic SDKs let it.
    should_retry = response.headers.get("x-should-retry", "").strip().lower()
    if should_retry in ("true", "false"):
        error.retryable = should_retry == "true"
    return error


def estimate_usage(request: CompletionRequest, output: str) -> Usage:
    """About four characters a token: for upstreams that report no usage."""
    prompt_chars = len(request.prompt.system) + len(request.prompt.user)
    return Usage(prompt_chars // 4, len(output) // 4, estimated=True)


__all__ = [
    "ErrorBody",
    "Provider",
    "ProviderError",
    "error_body",
    "estimate_usage",
    "json_body",
    "lenient_json",
    "parse_json",
    "parse_retry_after",
    "post_json",
    "request_timeout",
    "secret_values",
    "status_error",
    "upstream_text",
]
