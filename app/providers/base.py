"""The contract every provider adapter meets, and the small helpers they share."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

from pydantic import SecretStr

from app.domain import Completion, CompletionRequest, Usage
from app.providers.errors import ProviderError, ProviderStatusError, redact
from app.transport import Answer

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


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
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
    response: Answer,
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
    "parse_retry_after",
    "secret_values",
    "status_error",
    "upstream_text",
]
