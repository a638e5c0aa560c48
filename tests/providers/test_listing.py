"""Each adapter's ``list_models``: the URL, the headers, and its errors classified like a call's."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from pydantic import SecretStr

from app.providers.errors import AuthenticationError, ProviderResponseError, ProviderTimeout
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import minimax_endpoint, openai_compat_endpoint
from app.providers.workers_ai import WorkersAIProvider
from app.settings import MiniMaxSettings, OpenAICompatSettings, WorkersAISettings
from app.transport import Transport
from tests.fakes.transport import at, failing, reply

TOKEN = "cf-secret-token-123"
SEARCH = "https://api.cloudflare.com/client/v4/accounts/acct-1/ai/models/search"


def workers_ai(transport: Transport, **values: object) -> WorkersAIProvider:
    settings = WorkersAISettings(_env_file=None, account_id="acct-1", api_token=SecretStr(TOKEN), **values)  # type: ignore[call-arg]
    return WorkersAIProvider(settings, transport)


def catalog_entry(name: str, *properties: dict[str, str]) -> dict[str, object]:
    return {"id": "uuid", "name": name, "task": {"name": "Text Generation"}, "properties": list(properties)}


async def test_workers_ai_lists_names_with_their_planned_deprecation() -> None:
    transport = at(
        SEARCH,
        reply(
            200,
            json={
                "result": [
                    catalog_entry(
                        "@cf/zai-org/glm-4.7-flash", {"property_id": "context_window", "value": "131072"}
                    ),
                    catalog_entry(
                        "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
                        {"property_id": "planned_deprecation_date", "value": "2026-11-20"},
                    ),
                ],
                "success": True,
                "errors": [],
            },
        ),
        method="GET",
    )
    listed = await workers_ai(transport).list_models()
    assert [(m.id, m.deprecation) for m in listed] == [
        ("@cf/zai-org/glm-4.7-flash", None),
        ("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", date(2026, 11, 20)),
    ]
    sent = transport.last
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.params == {"page": 1, "per_page": 50}


async def test_workers_ai_through_ai_gateway_lists_from_the_cloudflare_api_without_gateway_token() -> None:
    transport = at(SEARCH, reply(200, json={"result": [], "success": True, "errors": []}), method="GET")
    provider = workers_ai(
        transport,
        base_url="https://gateway.ai.cloudflare.com/v1/{account_id}/gw/workers-ai",
        gateway_token=SecretStr("gateway-secret"),
    )
    assert await provider.list_models() == []
    assert "cf-aig-authorization" not in transport.last.headers


async def test_workers_ai_refusal_with_http_200_is_classified_by_its_code() -> None:
    body = {"result": None, "success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
    transport = at(SEARCH, reply(200, json=body), method="GET")
    with pytest.raises(AuthenticationError, match="Authentication error"):
        await workers_ai(transport).list_models()


async def test_a_listing_that_does_not_answer_is_a_timeout() -> None:
    transport = failing(httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout, match="model listing did not answer"):
        await workers_ai(transport).list_models()


async def test_minimax_base_resp_error_with_http_200_is_classified() -> None:
    transport = at(
        "https://api.minimax.io/v1/models",
        reply(200, json={"base_resp": {"status_code": 2049, "status_msg": "invalid api key"}}),
        method="GET",
    )
    settings = MiniMaxSettings(_env_file=None, api_key=SecretStr("mm-key-123"))  # type: ignore[call-arg]
    with pytest.raises(AuthenticationError, match="invalid api key"):
        await OpenAIChatProvider(minimax_endpoint(settings), transport).list_models()


async def test_openai_compatible_sends_no_key_it_does_not_have_and_rejects_a_non_json_body() -> None:
    transport = at(
        "http://127.0.0.1:8080/v1/models", reply(200, text="<html>not an API</html>"), method="GET"
    )
    settings = OpenAICompatSettings(_env_file=None, base_url="http://127.0.0.1:8080/v1")  # type: ignore[call-arg]
    with pytest.raises(ProviderResponseError, match="not JSON"):
        await OpenAIChatProvider(openai_compat_endpoint(settings), transport).list_models()
    assert "authorization" not in transport.last.headers
