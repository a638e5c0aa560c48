"""The production transports name each network fault the same way on both backends.

The adapters turn httpx's exception classes into the record's ``timeout`` / ``error`` and into the
retry decision, so the aiohttp transport must raise what httpx's own pool raises for the same fault.
Each fault is a real TCP server on 127.0.0.1 that misbehaves in one way.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.domain import CompletionRequest, Prompt
from app.providers.errors import ProviderConnectionError, ProviderError, ProviderTimeout
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import openai_compat_endpoint
from app.settings import OpenAICompatSettings
from app.transport import Answer, Outgoing, Timeout, json_post
from app.upstream_http import IDLE_CONNECTION_S, upstream_client
from tests.support import free_port, make_settings

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK_BODY = b'{"ok": true}'


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + await reader.readexactly(length)


async def answers_after_read(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(OK_BODY), OK_BODY))
    await writer.drain()


async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await answers_after_read(writer)


async def answers_gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    packed = gzip.compress(OK_BODY)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n")
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(packed), packed))
    await writer.drain()


async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.close()


async def resets(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    writer.transport.abort()


async def cuts_body_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + OK_BODY)
    await writer.drain()
    writer.close()


async def speaks_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()
    writer.close()


async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await asyncio.sleep(5)


@asynccontextmanager
async def server(behaviour: Behaviour) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await behaviour(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield f"http://127.0.0.1:{port}/v1/chat"
        srv.close()


TIMEOUT = Timeout(read_s=2.0, connect_s=10.0)
"""Roomy for a busy 2-core machine (a loopback connect once took over 0.3 s in CI); ``stalls``
answers after 5 s, well past the read timeout."""
PATHS = ["aiohttp-post", "aiohttp-get", "httpx-post", "httpx-get"]
"""Each backend's JSON POST (every model call) and GET (listings, the local model's probe)."""


async def send(path: str, url: str, body: dict[str, Any]) -> Answer:
    backend, method = path.split("-")
    async with upstream_client(make_settings(http_backend=backend)) as transport:
        if method == "post":
            return await transport.send(json_post(url, {"X-Test": "1"}, body, TIMEOUT))
        return await transport.send(Outgoing("GET", url, {"X-Test": "1"}, TIMEOUT, params=body))


@pytest.mark.parametrize("path", PATHS)
async def test_a_connection_idle_past_its_limit_is_never_reused(path: str) -> None:
    # A server that keeps connections open and counts them. Back to back, one connection serves
    # both requests; idle past IDLE_CONNECTION_S, the next request gets a fresh one, well before
    # the 5 s after which uvicorn-style servers close it under the client's feet.
    accepted: list[int] = []

    async def keeps_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        while True:
            await _read_request(reader)
            await answers_after_read(writer)

    backend, method = path.split("-")
    async with server(keeps_alive) as url, upstream_client(make_settings(http_backend=backend)) as transport:

        async def ask() -> None:
            if method == "post":
                answer = await transport.send(json_post(url, {}, {"n": 1}, TIMEOUT))
            else:
                answer = await transport.send(Outgoing("GET", url, {}, TIMEOUT))
            assert answer.status_code == 200

        await ask()
        await ask()
        assert len(accepted) == 1
        await asyncio.sleep(IDLE_CONNECTION_S + 0.3)
        await ask()
        assert len(accepted) == 2


@pytest.mark.parametrize("path", PATHS)
async def test_a_request_on_a_connection_the_server_closed_goes_out_again_on_a_fresh_one(path: str) -> None:
    # llama.cpp's server closes the connection after every streamed answer while its headers say
    # keep-alive, so the next request, sent at once, can find it dead (seen as a ballot's first
    # attempt failing in 0.5 ms and retried a second later). This server answers one request per
    # connection and hangs up, unanswered, when a second arrives on it: deterministically stale.
    accepted: list[int] = []

    async def one_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await _read_request(reader)
        await answers_after_read(writer)
        await _read_request(reader)  # the client reused the connection: close without a word

    backend, method = path.split("-")
    async with (
        server(one_per_connection) as url,
        upstream_client(make_settings(http_backend=backend)) as transport,
    ):
        for _ in range(3):
            if method == "post":
                answer = await transport.send(json_post(url, {}, {"n": 1}, TIMEOUT))
            else:
                answer = await transport.send(Outgoing("GET", url, {}, TIMEOUT))
            assert answer.status_code == 200
    assert len(accepted) == 3  # one connection per answer: each stale one was dropped, not retried


@pytest.mark.parametrize("path", ["aiohttp-post", "httpx-post"])
async def test_a_reset_on_a_pooled_connection_is_reported_not_sent_again(path: str) -> None:
    # A reset is how a server drops a request it had begun: the upstream's fault, for the retry
    # policy to weigh, never a quiet second request.
    accepted: list[int] = []

    async def answers_then_resets(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await answers(reader, writer)
        await resets(reader, writer)

    backend = path.split("-")[0]
    async with (
        server(answers_then_resets) as url,
        upstream_client(make_settings(http_backend=backend)) as transport,
    ):
        assert (await transport.send(json_post(url, {}, {"n": 1}, TIMEOUT))).status_code == 200
        with pytest.raises(httpx.ReadError):
            await transport.send(json_post(url, {}, {"n": 2}, TIMEOUT))
    assert len(accepted) == 1


@pytest.mark.parametrize("path", ["aiohttp-post", "httpx-post"])
async def test_a_fresh_connection_that_hangs_up_is_not_tried_again(path: str) -> None:
    # Only a pooled connection is suspect: a server that hangs up on a new one is the fault to
    # report. (POST, every model call: aiohttp itself tries an idempotent GET twice.)
    accepted: list[int] = []

    async def counts_and_hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await hangs_up(reader, writer)

    async with server(counts_and_hangs_up) as url:
        with pytest.raises(httpx.RemoteProtocolError):
            await send(path, url, {"q": 1})
    assert len(accepted) == 1


@pytest.mark.parametrize("path", PATHS)
async def test_an_answer_arrives_whole(path: str) -> None:
    async with server(answers) as url:
        response = await send(path, url, {"q": "é"})
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", PATHS)
async def test_gzip_answers_are_decoded_once(path: str) -> None:
    async with server(answers_gzipped) as url:
        response = await send(path, url, {"q": 1})
    assert response.json() == {"ok": True}


@pytest.mark.parametrize("path", ["aiohttp-post", "httpx-post"])
async def test_the_same_bytes_go_out(path: str) -> None:
    seen: list[bytes] = []

    async def records(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        await answers_after_read(writer)

    async with server(records) as url:
        await send(path, url, {"q": "é", "n": [1, 2.5]})
    head, _, body = seen[0].partition(b"\r\n\r\n")
    assert body == '{"q":"é","n":[1,2.5]}'.encode()
    assert b"content-type: application/json" in head.lower() and b"x-test: 1" in head.lower()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (hangs_up, httpx.RemoteProtocolError),
        (resets, httpx.ReadError | httpx.RemoteProtocolError),
        (cuts_body_short, httpx.RemoteProtocolError | httpx.ReadError),
        (speaks_garbage, httpx.RemoteProtocolError),
        (stalls, httpx.ReadTimeout),
    ],
    ids=["hangs-up", "resets", "cuts-body-short", "speaks-garbage", "stalls"],
)
async def test_faults_keep_their_meaning(path: str, behaviour: Behaviour, expected: type) -> None:
    async with server(behaviour) as url:
        with pytest.raises(httpx.TransportError) as caught:
            await send(path, url, {"q": 1})
    assert isinstance(caught.value, expected), repr(caught.value)
    # A reset or a hang-up is not a timeout: the record says "error", and the retry says why.
    assert isinstance(caught.value, httpx.TimeoutException) is (behaviour is stalls)


@pytest.mark.parametrize("path", PATHS)
async def test_nobody_listening_is_a_connect_error(path: str) -> None:
    with pytest.raises(httpx.ConnectError):
        await send(path, f"http://127.0.0.1:{free_port()}/v1", {})


FAULTS = [hangs_up, resets, cuts_body_short, speaks_garbage, stalls]


@asynccontextmanager
async def nobody_listening(_: Behaviour) -> AsyncIterator[str]:
    yield f"http://127.0.0.1:{free_port()}/v1/chat"


def _address_parts(url: str) -> list[str]:
    parsed = httpx.URL(url)
    return [parsed.host, f":{parsed.port}", f", {parsed.port})"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "behaviour", [*FAULTS, None], ids=[*(f.__name__ for f in FAULTS), "nobody-listening"]
)
async def test_fault_messages_name_no_upstream_address(path: str, behaviour: Behaviour | None) -> None:
    # aiohttp's own messages carry "host:port" and the URL; httpx's never do, and neither may ours.
    serve = server if behaviour is not None else nobody_listening
    async with serve(behaviour or answers) as url:
        with pytest.raises(httpx.TransportError) as caught:
            await send(path, url, {"q": 1})
    for part in _address_parts(url):
        assert part not in str(caught.value), str(caught.value)


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
@pytest.mark.parametrize(
    ("behaviour", "kind", "words"),
    [
        (hangs_up, ProviderConnectionError, "the connection broke mid-answer"),
        (resets, ProviderConnectionError, "the connection broke mid-answer"),
        (cuts_body_short, ProviderConnectionError, "the connection broke mid-answer"),
        (stalls, ProviderTimeout, "no answer within the timeout"),
        (None, ProviderConnectionError, "could not connect to the provider"),
    ],
    ids=["hangs-up", "resets", "cuts-body-short", "stalls", "nobody-listening"],
)
async def test_the_adapters_word_each_fault_for_callers(
    backend: str, behaviour: Behaviour | None, kind: type[ProviderError], words: str
) -> None:
    serve = server if behaviour is not None else nobody_listening
    async with (
        serve(behaviour or answers) as url,
        upstream_client(make_settings(http_backend=backend)) as transport,
    ):
        settings = OpenAICompatSettings(_env_file=None, base_url=url)  # type: ignore[call-arg]
        adapter = OpenAIChatProvider(openai_compat_endpoint(settings), transport)
        with pytest.raises(ProviderError) as caught:
            await adapter.complete(CompletionRequest("m", Prompt("", "q"), max_tokens=10, timeout_s=2.0))
    assert type(caught.value) is kind
    message = str(caught.value)
    assert message.startswith(f"openai_compat: {kind.kind}: {words} (")
    assert "could not reach" not in message
    for part in _address_parts(url):
        assert part not in message
