"""What every HTTP adapter shares: its transport, credentials, sending, and reading the answer.

A wire class (OpenAI chat, Anthropic, Workers AI) says how its bytes look: ``_headers``, the
request body, ``_error`` (the upstream's no, classified) and ``_refused`` (a no inside a 2xx body).
This base sends, turns network faults into provider errors (the one place that does), and hands
back a parsed body only when the upstream said yes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from app.domain import CompletionRequest
from app.providers.base import upstream_text
from app.providers.chat_stream import assembled
from app.providers.errors import (
    AuthenticationError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
)
from app.transport import Answer, OnData, Outgoing, StreamingTransport, Timeout, Transport, json_post

LISTING_TIMEOUT_S = 20.0
"""Per page: a listing is small, and a provider slower than this is not going to answer."""


class HttpAdapter:
    """A provider reached over HTTP; subclasses are the wire formats."""

    name: str

    def __init__(self, transport: Transport, *, connect_timeout_s: float, secrets: tuple[str, ...]) -> None:
        self._transport = transport
        self._connect_s = connect_timeout_s
        self._secrets = secrets
        """Every credential's value, scrubbed from any upstream text an error quotes."""

    @property
    def missing_settings(self) -> tuple[str, ...]:
        """Environment variables to set to make this provider available (empty when it is)."""
        raise NotImplementedError

    @property
    def available(self) -> bool:
        return not self.missing_settings

    @property
    def default_model(self) -> str | None:
        return None

    def _require_configured(self) -> None:
        if self.missing_settings:
            raise self._unconfigured(f"not configured (set {', '.join(self.missing_settings)})")

    def _unconfigured(self, message: str) -> ProviderError:
        return AuthenticationError(message, provider=self.name)

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _error(self, answer: Answer, body: Any) -> ProviderStatusError:
        """The upstream's refusal (``body`` is its JSON, or ``None``), classified."""
        raise NotImplementedError

    def _refused(self, body: Any) -> bool:
        """Whether a 2xx ``body`` is an error (some upstreams say no with HTTP 200)."""
        return False

    async def _post(
        self, url: str, body: dict[str, Any], request: CompletionRequest, *, on_data: OnData | None = None
    ) -> tuple[Answer, Any]:
        """POST one model call; the answer and its JSON body when the upstream said yes. With
        ``on_data`` (a streamed answer) each piece goes there as it arrives, and the events are
        assembled into the body a plain answer has."""
        timeout = Timeout(request.timeout_s, min(self._connect_s, request.timeout_s))
        outgoing = json_post(url, self._headers(), body, timeout)
        return await self._accepted(outgoing, listing=False, on_data=on_data)

    def _streams(self) -> bool:
        """Whether this adapter's transport can hand an answer over while it arrives."""
        return isinstance(self._transport, StreamingTransport)

    async def _get_listing(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[Answer, Any]:
        """GET one page of a model listing (with ``headers``, else the call headers)."""
        timeout = Timeout(LISTING_TIMEOUT_S, min(self._connect_s, LISTING_TIMEOUT_S))
        sent = self._headers() if headers is None else headers
        return await self._accepted(Outgoing("GET", url, sent, timeout, params=params), listing=True)

    async def _accepted(
        self, request: Outgoing, *, listing: bool, on_data: OnData | None = None
    ) -> tuple[Answer, Any]:
        try:
            if on_data is not None and isinstance(self._transport, StreamingTransport):
                answer = await self._transport.send_streamed(request, on_data)
            else:
                answer = await self._transport.send(request)
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, listing=listing) from None
        if answer.is_error:
            raise self._error(answer, lenient_json(answer))
        body = self._json(answer) if on_data is None else self._events(answer)
        if self._refused(body):
            raise self._error(answer, body)
        return answer, body

    def _transport_failure(self, error: httpx.TransportError, *, listing: bool) -> ProviderError:
        """A network fault as a provider error: what broke, never where (no host, no port)."""
        kind = type(error).__name__
        if isinstance(error, httpx.TimeoutException):
            if listing:
                return ProviderTimeout(
                    f"the model listing did not answer within {LISTING_TIMEOUT_S:g}s ({kind})",
                    provider=self.name,
                )
            return ProviderTimeout(f"no answer within the timeout ({kind})", provider=self.name)
        if listing:
            return ProviderConnectionError(f"could not fetch the model listing ({kind})", provider=self.name)
        return ProviderConnectionError(f"{_what_broke(error)} ({kind})", provider=self.name)

    def _json(self, answer: Answer) -> Any:
        """The body as JSON; a non-JSON body is a ``ProviderResponseError`` quoting it safely.

        Some servers (DeepSeek under load) send blank lines before the body: JSON allows them."""
        try:
            return answer.json()
        except ValueError:
            # Quote from the whole text, scrubbed before clipping: a cut could split a key.
            raise ProviderResponseError(
                f"response is not JSON: {upstream_text(answer.text, self._secrets)!r}",
                provider=self.name,
                status_code=answer.status_code,
            ) from None

    def _events(self, answer: Answer) -> Any:
        """A streamed answer's events as one body; unreadable ones are a ``ProviderResponseError``."""
        try:
            return assembled(answer.content)
        except ValueError:
            raise ProviderResponseError(
                f"streamed response is not JSON events: {upstream_text(answer.text, self._secrets)!r}",
                provider=self.name,
                status_code=answer.status_code,
            ) from None

    def _malformed(self, answer: Answer, why: str) -> ProviderResponseError:
        return ProviderResponseError(
            upstream_text(why, self._secrets), provider=self.name, status_code=answer.status_code
        )


def lenient_json(answer: Answer) -> Any:
    """The body as JSON, or ``None``: error bodies are often HTML or plain text."""
    try:
        return answer.json()
    except ValueError:
        return None


def _what_broke(error: httpx.TransportError) -> str:
    """A transport failure in words for callers.

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
