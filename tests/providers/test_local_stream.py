"""The local provider's streamed answers, over real sockets on both production transports: counted
as they arrive, read back exactly as a plain answer (usage, the cut-off signal), pace learned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.domain import CompletionRequest, Prompt
from app.providers.chat_stream import assembled
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import local_endpoint, openai_compat_endpoint
from app.settings import LocalModelSettings, OpenAICompatSettings
from app.transport import Transport
from app.upstream_http import AiohttpTransport, HttpxTransport
from tests.fakes.upstream import FakeUpstream, Reply, running

MODEL = "gemma-3-270m"
TEXT = '{"verdict": "GO", "reasons": ["freight brokers overpay for audits they never run"]}'


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.tokens_per_s = 12.5
    with running(fake):
        yield fake


@pytest.fixture(params=["aiohttp", "httpx"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    chosen: Transport = (
        AiohttpTransport() if request.param == "aiohttp" else HttpxTransport(httpx.AsyncClient())
    )
    yield chosen
    await chosen.aclose()


def provider(upstream: FakeUpstream, transport: Transport) -> OpenAIChatProvider:
    settings = LocalModelSettings(_env_file=None, url=upstream.base_urls()["openai_compat"])  # type: ignore[call-arg]
    return OpenAIChatProvider(local_endpoint(settings), transport)


def asked(counts: list[int] | None) -> CompletionRequest:
    return CompletionRequest(
        model=MODEL,
        prompt=Prompt("system", "user"),
        max_tokens=64,
        timeout_s=10,
        on_tokens=None if counts is None else counts.append,
    )


async def test_a_streamed_call_reads_back_as_a_plain_one_and_counts_its_tokens(
    upstream: FakeUpstream, transport: Transport
) -> None:
    upstream.script(MODEL, Reply(text=TEXT), Reply(text=TEXT))
    # The same upstream answer, whole (the openai_compat provider never streams) and streamed.
    cloud = OpenAIChatProvider(
        openai_compat_endpoint(
            OpenAICompatSettings(_env_file=None, base_url=upstream.base_urls()["openai_compat"])
        ),
        transport,
    )  # type: ignore[call-arg]
    plain = await cloud.complete(asked(None))
    counts: list[int] = []
    local = provider(upstream, transport)
    streamed = await local.complete(asked(counts))
    first, second = upstream.calls
    assert "stream" not in first.body and second.body["stream"] is True
    assert counts == list(range(1, len(counts) + 1)) and len(counts) == -(-len(TEXT) // 4)
    assert (streamed.text, streamed.usage, streamed.finish_reason) == (
        plain.text,
        plain.usage,
        plain.finish_reason,
    )
    assert local.pace is not None and local.pace.tokens_per_s() == pytest.approx(12.5)


async def test_a_call_cut_off_by_its_timeout_still_teaches_the_pace(
    upstream: FakeUpstream, transport: Transport
) -> None:
    upstream.tokens_per_s = None  # no timings: only the tokens seen before the cut-off tell
    upstream.script(MODEL, Reply(text=TEXT * 20, token_delay_s=0.01))
    local = provider(upstream, transport)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await local.complete(asked(None))
    assert local.pace is not None and (local.pace.tokens_per_s() or 0) > 0


async def test_a_streamed_answer_cut_off_at_max_tokens_is_still_seen_as_cut_off(
    upstream: FakeUpstream, transport: Transport
) -> None:
    upstream.script(MODEL, Reply(text=TEXT[:30], truncated=True))
    completion = await provider(upstream, transport).complete(asked([]))
    assert completion.truncated and completion.finish_reason == "length"
    assert completion.usage.output_tokens == 64  # the upstream's own count, not an estimate


def test_an_error_inside_the_stream_is_the_body_and_plain_json_is_read_as_is() -> None:
    error = b'data: {"error": {"code": 500, "message": "slot died", "type": "server_error"}}\n\n'
    assert assembled(error) == {"error": {"code": 500, "message": "slot died", "type": "server_error"}}
    assert assembled(b'{"choices": []}') == {"choices": []}
