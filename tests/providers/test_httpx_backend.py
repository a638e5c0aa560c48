"""HTTP_BACKEND=httpx, the backend for going through a proxy, with the real adapter on top.

No loopback socket can stage a proxy refusing the connection or a base URL that is not http(s), so
these faults are raised at httpx's own layer with respx, under the production transport that
``production_transport`` builds; the adapter must word them for callers as it words socket faults.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.domain import CompletionRequest, Prompt
from app.providers.errors import ProviderConnectionError, ProviderError, ProviderTimeout
from app.providers.registry import ProviderRegistry
from app.settings import OpenAICompatSettings, Settings
from app.upstream_http import HttpxTransport, production_transport
from tests.support import make_settings

BASE_URL = "http://10.9.8.7:8000/v1"
KEY = "sk-proxy-test-key"
REQUEST = CompletionRequest(model="m", prompt=Prompt("system", "user"), max_tokens=32, timeout_s=5.0)


def settings() -> Settings:
    return make_settings(
        http_backend="httpx",
        openai_compat=OpenAICompatSettings(
            _env_file=None, base_url=BASE_URL, model="m", api_key=SecretStr(KEY)
        ),
    )


async def complete() -> str:
    """One call through the httpx backend; the text of the answer."""
    built = settings()
    transport = production_transport(built)
    assert isinstance(transport, HttpxTransport)
    try:
        provider = ProviderRegistry.from_settings(built, transport).get("openai_compat")
        return (await provider.complete(REQUEST)).text
    finally:
        await transport.aclose()


@respx.mock
async def test_an_answer_comes_through_the_httpx_backend_unchanged() -> None:
    route = respx.post(f"{BASE_URL}/chat/completions").respond(
        json={"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}], "usage": {}}
    )
    assert await complete() == "{}"
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert b'"max_tokens":32' in sent.content


@pytest.mark.parametrize(
    ("fault", "expected", "words"),
    [
        (httpx.ProxyError("407 from the proxy"), ProviderConnectionError, "the proxy refused the connection"),
        (httpx.UnsupportedProtocol("ftp"), ProviderConnectionError, "base URL is not http(s)"),
        (httpx.ConnectTimeout("slow"), ProviderTimeout, "no answer within the timeout"),
        (httpx.ReadError("reset"), ProviderConnectionError, "the connection broke mid-answer"),
    ],
)
@respx.mock
async def test_httpx_faults_become_provider_errors_in_the_adapters_words(
    fault: httpx.TransportError, expected: type[ProviderError], words: str
) -> None:
    respx.post(f"{BASE_URL}/chat/completions").mock(side_effect=fault)
    with pytest.raises(expected) as caught:
        await complete()
    message = str(caught.value)
    assert words in message
    assert "10.9.8.7" not in message and KEY not in message
