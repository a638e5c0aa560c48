"""The door: caller keys, size limits, the rate limit, and no way to point a request upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.api.gate import rate_limit
from app.api.schemas import OrchestrateRequest
from app.errors import ConfigError
from app.main import create_app
from tests.support import client_for, fake_app, fake_providers, make_settings

URL = "/phases/kill-test/orchestrate"
IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
KEYS = SecretStr("first-key-123,second-key-456")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code and body["message"] and body["hint"] and body["request_id"]
    return body


async def test_keys_are_required_and_either_of_two_works_during_rotation() -> None:
    async with fake_app(api_keys=KEYS) as (client, _):
        missing = await client.post(URL, json=IDEA)
        wrong = await client.post(URL, json=IDEA, headers=bearer("first-key-12"))
        not_bearer = await client.post(URL, json=IDEA, headers={"Authorization": "Basic first-key-123"})
        old = await client.post(URL, json=IDEA, headers=bearer("first-key-123"))
        new = await client.post(URL, json=IDEA, headers=bearer("second-key-456"))
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        docs = await client.get("/openapi.json")
        metrics = await client.get("/metrics")
        metrics_with_key = await client.get("/metrics", headers=bearer("second-key-456"))
    assert error(missing, 401, "unauthorized")["hint"].startswith("send Authorization: Bearer")
    assert missing.headers["www-authenticate"] == "Bearer"
    error(wrong, 401, "unauthorized")
    error(not_bearer, 401, "unauthorized")
    assert old.status_code == new.status_code == 200
    assert health.status_code == ready.status_code == docs.status_code == 200  # open by default
    error(metrics, 401, "unauthorized")  # metrics show spend: keyed by default
    assert metrics_with_key.status_code == 200


async def test_docs_can_require_a_key_and_metrics_can_be_opened() -> None:
    async with fake_app(api_keys=KEYS, docs_require_key=True, metrics_require_key=False) as (client, _):
        assert (await client.get("/openapi.json")).status_code == 401
        assert (await client.get("/docs")).status_code == 401
        assert (await client.get("/metrics")).status_code == 200


def test_an_open_service_says_so_at_start_up(capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    create_app(make_settings(), providers=fake_providers())
    create_app(make_settings(api_keys=KEYS), providers=fake_providers())
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"open_service"' in line]
    assert len(lines) == 1 and lines[0]["level"] == "warning"
    assert "API_KEYS" in lines[0]["message"]


async def test_a_declared_oversized_body_is_refused_before_it_is_read() -> None:
    async with fake_app(max_body_bytes=2048) as (client, fakes):
        response = await client.post(URL, content=b'{"idea": "' + b"x" * 4096 + b'"}')
    body = error(response, 413, "body_too_large")
    assert "MAX_BODY_BYTES=2048" in body["message"]
    assert all(not f.calls for f in fakes.values())


async def test_an_oversized_streamed_body_is_refused_too() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"idea": "'
        for _ in range(8):
            yield b"x" * 512
        yield b'"}'

    async with fake_app(max_body_bytes=2048) as (client, _):
        response = await client.post(URL, content=chunks())  # chunked: no Content-Length
    assert "MAX_BODY_BYTES" in error(response, 413, "body_too_large")["message"]


async def test_idea_context_and_model_limits_name_their_setting() -> None:
    settings = {"max_idea_chars": 100, "max_context_bytes": 200, "max_models_per_request": 2}
    async with fake_app(**settings) as (client, _):
        idea = await client.post(URL, json={"idea": "x" * 101})
        context = await client.post(URL, json={**IDEA, "context": {"market-research": "y" * 300}})
        models = await client.post(
            URL, json={**IDEA, "options": {"models": ["reasoner", "qwen3", "minimax"]}}
        )
        fine = await client.post(URL, json={**IDEA, "options": {"models": ["reasoner", "qwen3"]}})
    assert "MAX_IDEA_CHARS is 100" in error(idea, 413, "too_large")["message"]
    assert "MAX_CONTEXT_BYTES is 200" in error(context, 413, "too_large")["message"]
    assert "MAX_MODELS_PER_REQUEST is 2" in error(models, 422, "invalid_options")["message"]
    assert fine.status_code == 200


async def test_the_rate_limit_is_per_caller_with_retry_after() -> None:
    async with fake_app(api_keys=KEYS, rate_limit="2/minute") as (client, _):
        first = [await client.get("/phases", headers=bearer("first-key-123")) for _ in range(3)]
        second = await client.get("/phases", headers=bearer("second-key-456"))
        health = [await client.get("/healthz") for _ in range(3)]
    assert [r.status_code for r in first] == [200, 200, 429]
    body = error(first[2], 429, "rate_limited")
    assert "2/minute" in body["message"] and 1 <= int(first[2].headers["retry-after"]) <= 60
    assert second.status_code == 200  # another caller has its own budget
    assert all(r.status_code == 200 for r in health)  # probes are never limited


async def test_no_request_field_can_point_anywhere_upstream() -> None:
    fields = OrchestrateRequest.model_json_schema()
    text = str(fields).lower()
    assert not any(word in text for word in ("url", "endpoint", "base_url", "header", "host"))
    async with fake_app() as (client, fakes):
        extra = await client.post(URL, json={**IDEA, "base_url": "http://169.254.169.254/"})
        option = await client.post(URL, json={**IDEA, "options": {"provider_url": "http://evil"}})
        model = await client.post(URL, json={**IDEA, "options": {"models": ["http://evil/v1"]}})
        header = await client.post(URL, json=IDEA, headers={"X-Upstream-Host": "evil", "x-api-key": "x"})
    assert "unknown field" in error(extra, 422, "invalid_request")["message"]
    assert "unknown field" in error(option, 422, "invalid_request")["message"]
    assert error(model, 422, "invalid_options")["details"]["field"] == "options.models"
    assert header.status_code == 200
    sent = [c for f in fakes.values() for c in f.calls]
    assert sent and not any("evil" in str(c) for c in sent)


async def test_the_gate_adds_no_key_when_none_is_configured() -> None:
    app = create_app(make_settings(), providers=fake_providers())
    async with client_for(app) as client:
        assert (await client.post(URL, json=IDEA)).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


async def test_rate_limit_off_means_no_limit() -> None:
    assert rate_limit(make_settings(rate_limit="off")) is None
    assert rate_limit(make_settings(rate_limit="OFF ")) is None
    assert str(rate_limit(make_settings(rate_limit="5/second"))) == "5 per 1 second"


def test_a_bad_rate_limit_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT='lots' is not a rate limit") as raised:
        create_app(make_settings(rate_limit="lots"), providers=fake_providers())
    assert raised.value.hint is not None and "120/minute" in raised.value.hint
