"""The bundled llama.cpp server really says what the pace code reads: streamed chunks with usage
and a length stop, ``timings``, and ``/slots`` with ``is_processing`` while it decodes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.domain import CompletionRequest, Prompt
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import local_endpoint
from app.settings import LocalModelSettings
from app.upstream_http import AiohttpTransport
from tests.support import free_port, stop_process

pytestmark = pytest.mark.needs_local_model
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    url = f"http://127.0.0.1:{free_port()}/v1"
    env = {**os.environ, "LOCAL_MODEL_URL": url, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "local_model"], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"python -m local_model exited with {server.returncode}"
            assert time.monotonic() < deadline, "the model server did not load within 180 s"
            try:
                if httpx.get(url.removesuffix("/v1") + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        stop_process(server)


def asked(max_tokens: int, counts: list[int] | None) -> CompletionRequest:
    return CompletionRequest(
        model="gemma-3-270m",
        prompt=Prompt("You are a storyteller.", "Tell a long story about a lighthouse keeper."),
        max_tokens=max_tokens,
        timeout_s=300,
        seed=7,
        on_tokens=None if counts is None else counts.append,
    )


async def test_the_real_server_streams_reports_its_pace_and_shows_busy_slots(model_url: str) -> None:
    transport = AiohttpTransport()
    settings = LocalModelSettings(_env_file=None, url=model_url)  # type: ignore[call-arg]
    local = OpenAIChatProvider(local_endpoint(settings), transport)
    try:
        counts: list[int] = []
        cut = await local.complete(asked(24, counts))
        assert cut.truncated and cut.usage.output_tokens == 24 and not cut.usage.estimated
        assert counts[0] == 1 and counts == sorted(counts) and 2 <= len(counts) <= 24
        assert local.pace is not None and (local.pace.tokens_per_s() or 0) > 0  # from `timings`
        assert await local.decoding() is None  # alive, every slot idle

        long_call = asyncio.create_task(local.complete(asked(2000, [])))
        seen: str | None = None
        for _ in range(200):  # while it decodes, /slots shows it
            await asyncio.sleep(0.05)
            if (seen := await local.decoding()) is not None:
                break
        long_call.cancel()
        await asyncio.gather(long_call, return_exceptions=True)
        assert seen is not None and "slots are decoding" in seen, seen
    finally:
        await transport.aclose()
