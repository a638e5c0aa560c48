"""The production transports: aiohttp's connection pool (default), or httpx's (``HTTP_BACKEND=httpx``).

httpx's own pool (httpcore) scans every pooled connection on every request and every release, which
under a few hundred concurrent model calls costs more CPU than all the rest of an orchestration
(profile in BENCHMARKS.md); building httpx's ``Request`` alone (URL parsing, header merging, the
auth, redirect and cookie steps) cost about 0.3 ms per call. So by default requests go straight
through aiohttp. ``HTTP_BACKEND=httpx`` switches to httpx, e.g. to go through HTTPS_PROXY from the
environment, which the aiohttp pool does not read.

aiohttp's errors are mapped onto httpx's own classes by what happened (``_as_httpx``), so both
backends name a fault alike, and lose the upstream's address, which aiohttp's messages carry.

A pooled connection can be dead before it is reused: llama.cpp's server closes the connection
after every streamed answer although its headers say keep-alive, and a request sent at once went
out on it and failed in half a millisecond (a ballot's first attempt, retried after a second's
backoff). Both backends send such a request again at once on another connection, and only when
its connection came from the pool and was found closed in order (or unwritable) before any
answer, as an idle connection closed by its server is. A reset is never sent again here: a
server resets a request it had begun, and the retry policy decides about that.
tests/test_upstream_http.py drives each fault over real sockets on both backends.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx

from app.settings import Settings
from app.transport import Answer, OnData, Outgoing, Transport

STALE_TRIES = 8
"""Fresh tries after a pooled connection turned out closed: each failed try drops one stale
connection from the pool, and a server that closes every kept-alive connection is reached on a new
one at the second."""

IDLE_CONNECTION_S = 2.0
"""How long an idle pooled connection may be reused. Below the 5 s after which uvicorn (vLLM,
llama.cpp's Python servers, this project's fake upstream) and Node close an idle connection: at
5 s on both ends a request could go out on a connection the server was closing, and fail with a
broken connection that costs a retry (seen as a flaky fault-matrix cell)."""


@asynccontextmanager
async def upstream_client(settings: Settings, transport: Transport | None = None) -> AsyncIterator[Transport]:
    """The shared transport the adapters call, closed with the block; ``transport`` (tests) replaces
    the production one."""
    chosen = transport or production_transport(settings)
    try:
        yield chosen
    finally:
        await chosen.aclose()


def production_transport(settings: Settings) -> Transport:
    """The backend ``HTTP_BACKEND`` names; nothing connects before the first request."""
    if settings.http_backend == "aiohttp":
        return AiohttpTransport(pool_size=settings.max_connections)
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=IDLE_CONNECTION_S,
    )
    timeout = httpx.Timeout(60.0, connect=settings.connect_timeout_s)
    return HttpxTransport(httpx.AsyncClient(limits=limits, timeout=timeout))


class AiohttpTransport:
    """Requests straight through one aiohttp session and its pool (made on first use)."""

    def __init__(self, *, pool_size: int = 100, keepalive_s: float = IDLE_CONNECTION_S) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._pool_size, self._keepalive_s = pool_size, keepalive_s

    def _aiohttp(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp wants a running loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                keepalive_timeout=self._keepalive_s,
                ssl=httpx.create_ssl_context(),  # httpx's CA bundle (certifi), as on the httpx backend
            )
            reuse = aiohttp.TraceConfig()
            reuse.on_connection_reuseconn.append(_mark_reused)
            # No trust_env: aiohttp would read ~/.netrc and the proxy variables on every request, in
            # a thread (40% of the CPU under load). For a proxy, HTTP_BACKEND=httpx.
            self._session = aiohttp.ClientSession(connector=connector, trace_configs=[reuse])
        return self._session

    async def send(self, request: Outgoing) -> Answer:
        return await self.send_streamed(request, None)

    async def send_streamed(self, request: Outgoing, on_data: OnData | None) -> Answer:
        timeout = request.timeout
        limits = aiohttp.ClientTimeout(
            sock_connect=timeout.connect_s, sock_read=timeout.read_s, connect=timeout.read_s
        )
        try:
            async with await self._head(request, limits) as answer:
                if on_data is None:
                    content = await answer.read()
                else:
                    pieces = []
                    async for piece in answer.content.iter_any():
                        on_data(piece)
                        pieces.append(piece)
                    content = b"".join(pieces)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _as_httpx(exc, request.url) from exc
        return Answer(answer.status, answer.headers, content)

    async def _head(self, request: Outgoing, limits: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """The answer's status and headers. A request that went out on a pooled connection the
        server had already closed goes out again on another: it never reached the server."""
        for tries_left in range(STALE_TRIES, -1, -1):
            pooled = _Pooled()
            try:
                return await self._aiohttp().request(
                    request.method,
                    request.url,
                    params=request.params,
                    data=request.content or None,
                    headers=request.headers,
                    timeout=limits,
                    allow_redirects=False,
                    trace_request_ctx=pooled,
                )
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if not (pooled.reused and tries_left and _closed_quietly(exc)):
                    raise
        raise AssertionError("unreachable: the last try raises")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _Pooled:
    """Whether one request's connection came from the pool (set by aiohttp's trace signal)."""

    __slots__ = ("reused",)

    def __init__(self) -> None:
        self.reused = False


async def _mark_reused(_: aiohttp.ClientSession, context: Any, __: Any) -> None:
    if isinstance(context.trace_request_ctx, _Pooled):
        context.trace_request_ctx.reused = True


class HttpxTransport:
    """Requests through an ``httpx.AsyncClient``: its pool and its proxy settings."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, request: Outgoing) -> Answer:
        answer = await self._head(request)
        try:
            content = await answer.aread()
        finally:
            await answer.aclose()
        return Answer(answer.status_code, answer.headers, content)

    async def send_streamed(self, request: Outgoing, on_data: OnData) -> Answer:
        answer = await self._head(request)
        try:
            pieces = []
            async for piece in answer.aiter_bytes():
                on_data(piece)
                pieces.append(piece)
        finally:
            await answer.aclose()
        return Answer(answer.status_code, answer.headers, b"".join(pieces))

    async def _head(self, request: Outgoing) -> httpx.Response:
        """The answer's status and headers, its body still to read; a request that went out on a
        pooled connection the server had already closed goes out again on another."""
        for tries_left in range(STALE_TRIES, -1, -1):
            connected: list[bool] = []

            async def trace(event: str, _: Any, connected: list[bool] = connected) -> None:
                if event == "connection.connect_tcp.started":
                    connected.append(True)

            outgoing = self._request(request)
            outgoing.extensions["trace"] = trace
            try:
                return await self._client.send(outgoing, stream=True)
            except (httpx.RemoteProtocolError, httpx.WriteError):  # not ReadError: a reset
                if connected or not tries_left:
                    raise
        raise AssertionError("unreachable: the last try raises")

    def _request(self, request: Outgoing) -> httpx.Request:
        return self._client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            params=request.params,
            content=request.content or None,
            timeout=httpx.Timeout(request.timeout.read_s, connect=request.timeout.connect_s),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _closed_quietly(error: aiohttp.ServerDisconnectedError | aiohttp.ClientOSError) -> bool:
    """Whether the connection had been closed in order (a FIN, as a server closing an idle
    connection does) or the request could not be written: not a reset (an ``errno``), which a
    server sends when it drops a request it had begun, and which is the upstream's fault to report."""
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return True
    return not isinstance(error, aiohttp.ClientConnectorError) and error.errno is None


def _as_httpx(error: BaseException, url: str) -> httpx.TransportError:
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
    return kind(f"{type(error).__name__}: {_without_address(str(error), url)}")


def _without_address(text: str, url: str) -> str:
    """``text`` without the upstream's URL, host or port, which aiohttp's messages carry ("Cannot
    connect to host 10.0.0.7:8000", "url='http://…'"): error messages end up in callers' warnings."""
    parsed = httpx.URL(url)
    text = text.replace(url, "<upstream>").replace(str(parsed), "<upstream>")
    if parsed.host:
        host = re.escape(parsed.host)
        text = re.sub(rf"\('{host}', \d+\)|\[?{host}\]?(?::\d+)?", "<upstream>", text)
    return text
