"""The HTTP contract through the real app (ASGI transport, lifespan running, fake providers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.providers.errors import UpstreamServerError
from app.providers.fake import Delayed
from tests.phases.test_catalog import ORDER
from tests.support import PROVIDERS, fake_app, fake_providers, fixture, fixture_responder

IDEA = {"idea": "An AI agent that reconciles freight invoices against carrier contracts"}


def assert_error(body: dict[str, Any], code: str) -> dict[str, Any]:
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"]
    return error


async def test_health_and_readiness() -> None:
    async with fake_app() as (client, _):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready" and body["phases_loaded"] == 15
        assert set(body["providers"]) == {*PROVIDERS, "local"}
        assert body["roster"] == "cloud" and body["local_model"] is None


async def test_not_ready_without_any_provider_names_the_variables() -> None:
    async with fake_app(fake_providers(unavailable=PROVIDERS)) as (client, _):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        assert body["providers"]["anthropic"]["missing_settings"] == ["ANTHROPIC_API_KEY"]


async def test_phases_are_listed_in_order() -> None:
    async with fake_app() as (client, _):
        phases = (await client.get("/phases")).json()["phases"]
    assert [p["name"] for p in phases] == ORDER
    assert all(p["summary"] and p["orchestration_enabled"] for p in phases)


async def test_a_phase_shows_its_config_and_schema() -> None:
    async with fake_app(fake_providers(unavailable=("anthropic",))) as (client, _):
        body = (await client.get("/phases/kill-test")).json()
    assert body["config"]["synthesis"]["temperature"] == 0.1
    assert body["synthesizer"] == "minimax"  # Claude is preferred, but has no key here
    assert body["output_schema"]["required"] == ["verdict"]
    assert body["models"]["claude-sonnet"]["usable"] is False
    assert "api_key" not in str(body).lower()


@pytest.mark.parametrize("path", ["/phases/kill-tset", "/phases/kill-tset/orchestrate"])
async def test_unknown_phase_is_404_listing_the_valid_ones(path: str) -> None:
    async with fake_app() as (client, _):
        response = await (client.get(path) if "orchestrate" not in path else client.post(path, json=IDEA))
    assert response.status_code == 404
    error = assert_error(response.json(), "phase_not_found")
    assert error["details"]["valid_phases"] == ORDER
    assert "kill-test" in error["hint"]


async def test_orchestrate_returns_validated_output_and_every_models_record() -> None:
    async with fake_app() as (client, _):
        response = await client.post(
            "/phases/kill-test/orchestrate", json=IDEA, headers={"X-Request-ID": "trace-42"}
        )
    assert response.status_code == 200
    body = response.json()
    assert response.headers["x-request-id"] == body["request_id"] == "trace-42"
    assert body["mode"] == "orchestrated" and body["degraded"] is False
    assert body["output"] == fixture("kill-test")
    assert body["synthesizer"]["model"] == "claude-sonnet"
    parallel = [m for m in body["models"] if m["role"] == "parallel"]
    assert len(parallel) == 5 and all(m["status"] == "ok" and m["answer_label"] for m in parallel)
    assert all(m["raw"] is None for m in body["models"])
    assert body["usage"]["tokens_in"] == sum(m["tokens_in"] for m in body["models"])
    assert body["timings"]["total_ms"] >= body["timings"]["fanout_ms"]
    upstream = body["orchestration"]
    assert len(upstream["modelOutputs"]) == 5 and upstream["synthesizerModel"] == "claude-sonnet-5-5"


async def test_curl_without_a_json_content_type_still_works() -> None:
    async with fake_app() as (client, _):
        response = await client.post(
            "/phases/kill-test/orchestrate",
            content=b'{"idea": "freight invoice agent"}',
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200, response.text


async def test_raw_answers_on_request() -> None:
    async with fake_app() as (client, _):
        body = (
            await client.post(
                "/phases/kill-test/orchestrate", json={**IDEA, "options": {"include_raw": True}}
            )
        ).json()
    assert all(m["raw"] for m in body["models"] if m["status"] == "ok")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.idea"),
        ({"idea": ""}, "body.idea"),
        ({"idea": "   "}, "body.idea"),
        ({"idea": 42}, "body.idea"),
        ({"idea": "x", "ideas": "typo"}, "body.ideas"),
        ({"idea": "x", "context": []}, "body.context"),
        ({"idea": "x", "options": {"models": []}}, "body.options.models"),
        ({"idea": "x", "options": {"single": True}}, "body.options.single"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    async with fake_app() as (client, _):
        response = await client.post("/phases/kill-test/orchestrate", json=body)
    assert response.status_code == 422
    error = assert_error(response.json(), "invalid_request")
    assert error["message"].startswith(field)
    assert error["details"]["problems"][0]["field"] == field


async def test_a_body_that_is_not_json_is_422() -> None:
    async with fake_app() as (client, _):
        response = await client.post("/phases/kill-test/orchestrate", content=b'{"idea": ')
    assert response.status_code == 422
    assert "not valid JSON" in assert_error(response.json(), "invalid_request")["message"]


async def test_an_unconfigured_model_option_is_422() -> None:
    async with fake_app() as (client, _):
        response = await client.post(
            "/phases/kill-test/orchestrate", json={**IDEA, "options": {"models": ["gpt-9"]}}
        )
    assert response.status_code == 422
    assert "gpt-9" in assert_error(response.json(), "invalid_options")["message"]


async def test_no_usable_provider_is_503_naming_the_variables() -> None:
    async with fake_app(fake_providers(unavailable=PROVIDERS)) as (client, _):
        response = await client.post("/phases/kill-test/orchestrate", json=IDEA)
    assert response.status_code == 503
    error = assert_error(response.json(), "no_usable_provider")
    assert "ANTHROPIC_API_KEY" in error["hint"] and "WORKERS_AI_API_KEY" in error["hint"]


async def test_every_model_failing_is_502_with_each_models_error() -> None:
    def broken(request: Any) -> Any:
        return UpstreamServerError(f"{request.model} is on fire", provider="x", status_code=500)

    async with fake_app(fake_providers(broken)) as (client, _):
        response = await client.post("/phases/kill-test/orchestrate", json=IDEA)
    assert response.status_code == 502
    error = assert_error(response.json(), "all_models_failed")
    models = error["models"]
    assert {m["status"] for m in models} == {"error"}
    assert any("@cf/zai-org/glm-4.7-flash is on fire" in m["error"] for m in models)
    assert {m["role"] for m in models} == {"parallel", "fallback"}


async def test_the_deadline_is_504(tmp_path: Path) -> None:
    config = tmp_path / "fast.toml"
    config.write_text("[phases.kill-test]\ndeadline_s = 0.3\nmodel_timeout_s = 0.3\n")
    slow = fake_providers(lambda request: Delayed(30, fixture_responder(request)))
    async with fake_app(slow, phases_config_file=config) as (client, _):
        response = await client.post("/phases/kill-test/orchestrate", json=IDEA)
    assert response.status_code == 504
    error = assert_error(response.json(), "deadline_exceeded")
    assert {m["status"] for m in error["models"]} == {"timeout"}


async def test_unknown_routes_and_methods_keep_the_error_shape() -> None:
    async with fake_app() as (client, _):
        missing = await client.get("/nowhere")
        wrong = await client.get("/phases/kill-test/orchestrate")
    assert missing.status_code == 404 and assert_error(missing.json(), "not_found")
    assert wrong.status_code == 405 and assert_error(wrong.json(), "method_not_allowed")


async def test_openapi_documents_an_example_for_every_phase() -> None:
    async with fake_app() as (client, _):
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200
    body = spec["paths"]["/phases/{name}/orchestrate"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/OrchestrateRequest"}
    assert sorted(body["examples"]) == sorted(ORDER)
    assert all(e["value"]["idea"] for e in body["examples"].values())
    assert "OrchestrateOptions" in spec["components"]["schemas"]
