"""Errors a provider adapter raises; the fan-out turns each one into a recorded ``Failure``.

    ProviderError                   any failed model call (``kind``, ``retryable``, ``status_code``)
    ├── ProviderTimeout             connect/read/wall-clock timeout          kind=timeout, retryable
    ├── ProviderConnectionError     DNS, refused, reset                      kind=connection, retryable
    ├── CallBudgetExhausted         the account's budget (PROVIDER_LIMITS, MODEL_LIMITS) has no room
    │                               before the deadline: no call made        kind=call_budget_exhausted
    ├── ProviderResponseError       2xx with a body we cannot use            kind=malformed
    │   ├── AnswerTruncated         cut off at its token limit (after the one larger re-ask)  kind=truncated
    │   └── UnfinishedReasoning     reasoning that never closed: no answer   kind=unfinished_reasoning
    └── ProviderStatusError         the upstream said no (HTTP status or in-body code)
        ├── RateLimited             429, MiniMax 1002/1039/1041, Workers AI 3040   retryable
        ├── Overloaded              529, 503                                        retryable
        ├── UpstreamServerError     other 5xx, 408/409, MiniMax 1000/1001/1024/1033 retryable
        ├── QuotaExceeded           402, billing, insufficient_quota, Workers AI 3036, MiniMax 1008
        ├── AuthenticationError     401/403, MiniMax 1004/2049
        ├── ContentRejected         MiniMax 1026/1027 (sensitive content)
        ├── ModelUnavailable        no such model, retired or deprecated     kind=model_unavailable
        └── BadRequest              400/404/413/422 and other 4xx, MiniMax 2013
            └── ContextOverflow     the prompt plus max_tokens exceed the model's context window

Messages carry the upstream's own error text (so the caller sees what really happened) but never
a credential: adapters build them from the response body only, and ``redact`` scrubs any key the
upstream echoed back.
"""

from __future__ import annotations

from collections.abc import Iterable


class ProviderError(Exception):
    """A model call failed; ``str(error)`` is safe to show to callers."""

    kind: str = "error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.retry_after_s = retry_after_s
        self.attempts = 1
        """How many attempts the call made before this error stood (set by the retry loop)."""

    def __str__(self) -> str:
        status = f"HTTP {self.status_code} " if self.status_code is not None else ""
        code = f"[{self.code}] " if self.code else ""
        return f"{self.provider}: {status}{code}{self.kind}: {self.message}"


class ProviderTimeout(ProviderError):
    kind = "timeout"
    retryable = True


class ProviderConnectionError(ProviderError):
    kind = "connection"
    retryable = True


class CallBudgetExhausted(ProviderError):
    """Our own budget for the provider's account would not let the call start before its deadline."""

    kind = "call_budget_exhausted"


class ProviderResponseError(ProviderError):
    kind = "malformed"


class AnswerTruncated(ProviderResponseError):
    """The answer stopped at its token limit: never accepted as if complete."""

    kind = "truncated"


class UnfinishedReasoning(ProviderResponseError):
    """The model was still reasoning when it stopped: there is no answer, only a chain of thought."""

    kind = "unfinished_reasoning"


class ProviderStatusError(ProviderError):
    kind = "http_error"


class RateLimited(ProviderStatusError):
    kind = "rate_limited"
    retryable = True


class Overloaded(ProviderStatusError):
    kind = "overloaded"
    retryable = True


class UpstreamServerError(ProviderStatusError):
    kind = "server_error"
    retryable = True


class QuotaExceeded(ProviderStatusError):
    kind = "quota_exceeded"


class AuthenticationError(ProviderStatusError):
    kind = "auth_error"


class ContentRejected(ProviderStatusError):
    kind = "content_rejected"


class ModelUnavailable(ProviderStatusError):
    """The provider does not serve this model id (unknown, retired, deprecated): retrying cannot help,
    and the model's circuit opens at once."""

    kind = "model_unavailable"


class BadRequest(ProviderStatusError):
    kind = "bad_request"


class ContextOverflow(BadRequest):
    """The prompt (plus the output budget) does not fit the model's context window."""

    kind = "context_overflow"


def error_class_for_status(status: int) -> type[ProviderStatusError]:
    """The error class an HTTP status maps to, before any in-body code refines it."""
    if status == 429:
        return RateLimited
    if status in (503, 529):
        return Overloaded
    if status >= 500 or status in (408, 409):
        return UpstreamServerError
    if status == 402:
        return QuotaExceeded
    if status in (401, 403):
        return AuthenticationError
    return BadRequest


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in ``text`` with a marker (upstreams sometimes echo keys)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
