"""The one outbound HTTP client: httpx's API for the adapters, aiohttp's connection pool underneath.

httpx gives the adapters a clean, injectable API (tests hand in a transport instead of patching).
Its own pool (httpcore) scans every pooled connection on every request and every release, which
under a few hundred concurrent model calls costs more CPU than all the rest of an orchestration
(profile in BENCHMARKS.md). On the default backend, ``UpstreamClient`` sends the adapters' JSON
POSTs straight through aiohttp, and anything else through ``httpx-aiohttp`` (the transport the
official OpenAI and Anthropic SDKs offer) on the same session. ``HTTP_BACKEND=httpx`` switches
back, e.g. to go through HTTPS_PROXY from the environment, which the aiohttp pool does not read.

aiohttp's errors are mapped onto httpx's own classes by what happened (``_as_httpx``): httpx-aiohttp
alone reports every connection error as ``ConnectTimeout``, so a reset or a server hanging up
mid-answer would read as a timeout in the record, the metrics and the retry decision. Their messages
lose the upstream's address, which aiohttp's name and httpx's never do.
tests/test_upstream_http.py drives each fault over real sockets on every path.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from app.settings import Settings


def upstream_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The shared client the adapters call; ``transport`` (tests) replaces the network layer."""
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    timeout = httpx.Timeout(60.0, connect=settings.connect_timeout_s)
    if transport is None and settings.http_backend == "aiohttp":
        return UpstreamClient(limits=limits, timeout=timeout)
    return httpx.AsyncClient(transport=transport, limits=limits, timeout=timeout)


class UpstreamClient(httpx.AsyncClient):
    """An httpx client over aiohttp whose JSON POSTs, every model call, skip httpx's request layer.

    Building httpx's ``Request`` (URL parsing, header merging, the auth, redirect and cookie steps)
    cost about 0.3 ms of CPU per model call, more than aiohttp's whole request (BENCHMARKS.md). The
    adapters only read the status, headers and body, so ``post_json`` sends with aiohttp and wraps
    the answer in an ``httpx.Response``. Other calls (the local model's health probe) go through the
    httpx-aiohttp transport, on the same aiohttp session and pool.
    """

    def __init__(self, *, limits: httpx.Limits, timeout: httpx.Timeout) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._pool_size = limits.max_connections or 100
        self._keepalive_s = limits.keepalive_expiry or 5.0
        super().__init__(
            transport=_TranslatingTransport(limits=limits, client=self._aiohttp),
            limits=limits,
            timeout=timeout,
        )

    def _aiohttp(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp wants a running loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                keepalive_timeout=self._keepalive_s,
                ssl=httpx.create_ssl_context(),  # httpx's CA bundle (certifi), as on the httpx backend
            )
            # auto_decompress off: httpx.Response decodes by Content-Encoding, as with httpx's pool.
            # No trust_env: aiohttp would read ~/.netrc and the proxy variables on every request, in
            # a thread (40% of the CPU under load). For a proxy, HTTP_BACKEND=httpx.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def post_json(
        self, url: str, *, headers: dict[str, str], body: dict[str, Any], timeout: httpx.Timeout
    ) -> httpx.Response:
        """POST ``body`` as JSON; the answer read whole. Faults raise httpx's errors, as ``post`` does."""
        # orjson writes the bytes httpx's json= writes (compact, UTF-8) at a fraction of the CPU; the
        # prompts are several KB per call, and encoding them was 6% of the CPU under load.
        payload = orjson.dumps(body)
        limits = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )
        with _translated(None, url):
            async with self._aiohttp().post(
                url,
                data=payload,
                headers={"Content-Type": "application/json", **headers},
                timeout=limits,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
        return httpx.Response(answer.status, headers=answer.raw_headers, content=content)

    async def aclose(self) -> None:
        await super().aclose()
        await self._close_session()

    async def __aexit__(self, *exc_info: Any) -> None:
        await super().__aexit__(*exc_info)
        await self._close_session()

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()


def _as_httpx(error: BaseException, request: httpx.Request | None, url: str) -> httpx.TransportError:
    """The httpx error that says what ``error`` (aiohttp's, or a timeout) means."""
    kind: type[httpx.TransportError]
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout  # no connection (or no pooled one) in time
    elif isinstance(error, TimeoutError):  # aiohttp's read timeouts subclass it
        kind = httpx.ReadTimeout
    elif isinstance(error, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError  # refused, unreachable, DNS
    elif isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError  # hung up before answering, or not HTTP
    elif isinstance(error, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError):
        kind = httpx.ReadError  # reset, or a body cut short
    elif isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    else:
        kind = httpx.TransportError
    return kind(f"{type(error).__name__}: {_without_address(str(error), url)}", request=request)


def _without_address(text: str, url: str) -> str:
    """``text`` without the upstream's URL, host or port, which aiohttp's messages carry ("Cannot
    connect to host 10.0.0.7:8000", "url='http://…'"): error messages end up in callers' warnings."""
    parsed = httpx.URL(url)
    text = text.replace(url, "<upstream>").replace(str(parsed), "<upstream>")
    if parsed.host:
        host = re.escape(parsed.host)
        text = re.sub(rf"\('{host}', \d+\)|\[?{host}\]?(?::\d+)?", "<upstream>", text)
    return text


@contextmanager
def _translated(request: httpx.Request | None, url: str | None = None) -> Iterator[None]:
    where = url if url is not None else str(request.url) if request is not None else ""
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _as_httpx(exc, request, where) from exc
    except httpx.TransportError as exc:
        # httpx-aiohttp has already mapped it, often wrongly: map its cause again.
        cause = exc.__cause__
        if not isinstance(cause, aiohttp.ClientError | TimeoutError):
            raise
        raise _as_httpx(cause, request, where) from cause


class _TranslatedStream(httpx.AsyncByteStream):
    """The response body; errors while reading it are translated too."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner, self._request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _translated(self._request):
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        with _translated(self._request):
            await self._inner.aclose()


class _TranslatingTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _translated(request):
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _TranslatedStream(response.stream, request)
        return response
