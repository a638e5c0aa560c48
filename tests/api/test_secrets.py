"""Keys never reach a response or a log line, even when an upstream echoes them back."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from app.main import create_app
from app.settings import AnthropicSettings, MiniMaxSettings, OpenAICompatSettings, WorkersAISettings
from app.transport import Answer, Outgoing
from tests.fakes.transport import FunctionTransport, reply
from tests.support import client_for, make_settings

SENTINELS = {
    "workers_ai": "cfSENTINELtoken0001",
    "gateway": "gwSENTINELtoken0002",
    "anthropic": "antSENTINELkey0003",
    "minimax": "mmSENTINELkey0004",
    "openai": "oaSENTINELkey0005",
    "caller": "callerSENTINELkey0006",
    "anthropic_gateway": "antgwSENTINELtoken0007",
}
CALLER = {"Authorization": f"Bearer {SENTINELS['caller']}"}


def echo_key(request: Outgoing) -> Answer:
    # The worst upstream: it quotes the credentials it was sent in its error message.
    sent = " ".join(
        f"{k}={v}"
        for k, v in request.headers.items()
        if k in ("authorization", "x-api-key", "cf-aig-authorization")
    )
    return reply(
        401,
        json={
            "error": {"message": f"invalid key: {sent}", "type": "authentication_error"},
            "errors": [{"code": 10000, "message": f"Authentication error for {sent}"}],
            "success": False,
        },
        headers={"www-authenticate": sent},
    )


@pytest.fixture
def sentinel_settings() -> object:
    return make_settings(
        workers_ai=WorkersAISettings(  # type: ignore[call-arg]
            _env_file=None,
            account_id="acct",
            api_token=SecretStr(SENTINELS["workers_ai"]),
            gateway_token=SecretStr(SENTINELS["gateway"]),
        ),
        anthropic=AnthropicSettings(  # type: ignore[call-arg]
            _env_file=None,
            api_key=SecretStr(SENTINELS["anthropic"]),
            gateway_token=SecretStr(SENTINELS["anthropic_gateway"]),
        ),
        minimax=MiniMaxSettings(_env_file=None, api_key=SecretStr(SENTINELS["minimax"])),  # type: ignore[call-arg]
        openai_compat=OpenAICompatSettings(  # type: ignore[call-arg]
            _env_file=None, base_url="https://llm.invalid/v1", api_key=SecretStr(SENTINELS["openai"])
        ),
        api_keys=SecretStr(f"{SENTINELS['caller']},otherCallerKey"),
        log_level="DEBUG",
    )


async def test_no_key_in_any_response_or_log(
    sentinel_settings: object, capfd: pytest.CaptureFixture[str]
) -> None:
    upstream = FunctionTransport(echo_key)
    app = create_app(sentinel_settings, transport=upstream)  # type: ignore[arg-type]
    async with client_for(app) as client:
        client.headers.update(CALLER)
        failed = await client.post("/phases/kill-test/orchestrate", json={"idea": "freight audit agent"})
        streamed = await client.post(
            "/phases/strategy/orchestrate",
            json={"idea": "freight audit agent", "options": {"strategy": "rank"}},
            headers={"Accept": "text/event-stream"},
        )
        pages = [
            await client.get(p)
            for p in (
                "/phases",
                "/phases/kill-test",
                "/readyz",
                "/openapi.json",
                "/providers",
                "/metrics",
            )
        ]
        refused = await client.get("/phases", headers={"Authorization": f"Bearer {SENTINELS['caller']}x"})
    assert len(upstream.sent) >= 5  # the keys really were sent upstream
    gateway_auth = {sent.headers.get("cf-aig-authorization") for sent in upstream.sent}
    assert f"Bearer {SENTINELS['anthropic_gateway']}" in gateway_auth
    assert failed.status_code == 502
    models = failed.json()["error"]["models"]
    assert models and all(m["error_kind"] == "auth_error" for m in models if m["status"] == "error")
    assert any("invalid key" in m["error"] or "Authentication error" in m["error"] for m in models)
    assert refused.status_code == 401 and "error" in streamed.text
    assert all(p.status_code == 200 for p in pages)
    logs = capfd.readouterr()
    for text in [failed.text, streamed.text, refused.text, *(p.text for p in pages), logs.out, logs.err]:
        for secret in SENTINELS.values():
            assert secret not in text
