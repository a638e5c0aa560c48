"""The service over real HTTP against a fake upstream on 127.0.0.1 speaking all four wire formats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from app.main import create_app
from app.settings import Settings
from tests.fakes.upstream import FakeUpstream, Reply, running
from tests.support import serve, upstream_settings


def settings_for(urls: dict[str, str]) -> Settings:
    return upstream_settings(urls, retry_after_cap_s=1.0)


@pytest.fixture
def stack() -> Iterator[tuple[str, FakeUpstream]]:
    upstream = FakeUpstream()
    with running(upstream):
        app = create_app(settings_for(upstream.base_urls()))
        with serve(app) as origin:
            yield origin, upstream


def post(origin: str, phase: str, body: bytes) -> httpx.Response:
    # Exactly what `curl -X POST … -d '{…}'` sends: form content type, JSON bytes.
    return httpx.post(
        f"{origin}/phases/{phase}/orchestrate",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=60,
    )


def test_kill_test_end_to_end(stack: tuple[str, FakeUpstream]) -> None:
    origin, upstream = stack
    response = post(
        origin, "kill-test", b'{"idea": "AI agent that audits freight invoices for small brokers"}'
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    schema = httpx.get(f"{origin}/phases/kill-test").json()["output_schema"]
    assert list(Draft202012Validator(schema).iter_errors(body["output"])) == []
    assert body["output"]["verdict"] in ("GO", "PIVOT", "KILL")
    assert body["mode"] == "orchestrated" and body["synthesizer"]["provider"] == "anthropic"
    records = {(m["model"], m["role"]): m for m in body["models"]}
    for alias in ("reasoner", "llama-scout", "qwen3", "minimax", "openai-compat"):
        assert records[(alias, "parallel")]["status"] == "ok", records[(alias, "parallel")]
        assert records[(alias, "parallel")]["tokens_in"] > 0
    assert {c.wire for c in upstream.calls} == {"workers_ai", "anthropic", "minimax", "openai_compat"}
    reasoner_call = next(c for c in upstream.calls if c.model == "@cf/zai-org/glm-4.7-flash")
    assert "AI agent that audits freight invoices for small brokers" in reasoner_call.user
    assert response.headers["x-request-id"] == body["request_id"]


def test_upstream_errors_reach_the_caller_verbatim(stack: tuple[str, FakeUpstream]) -> None:
    origin, upstream = stack
    # MiniMax rate-limits every attempt (retried, then recorded); Workers AI asks for 7s, more
    # than RETRY_AFTER_CAP_S allows here, so qwen3 fails at once rather than holding the phase.
    upstream.script("MiniMax-M2.7", *[Reply(error_code=1002, text=None, status=200)] * 3)
    upstream.script(
        "@cf/qwen/qwen3-30b-a3b-fp8",
        Reply(status=429, error_code=3040, headers={"Retry-After": "7"}),
    )
    response = post(origin, "kill-test", b'{"idea": "freight audit agent"}')
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] is True
    records = {m["model"]: m for m in body["models"] if m["role"] == "parallel"}
    assert records["minimax"]["status"] == "error" and records["minimax"]["error_kind"] == "rate_limited"
    assert "1002" in records["minimax"]["error"] and records["minimax"]["attempts"] == 3
    assert len(upstream.calls_for("MiniMax-M2.7")) >= 3
    assert records["qwen3"]["error_kind"] == "rate_limited" and "3040" in records["qwen3"]["error"]
    assert records["qwen3"]["attempts"] == 1
    assert any("qwen3" in w for w in body["warnings"])


@pytest.mark.parametrize(
    "strategy", ["synthesize", "vote", "self_consistency", "rank", "route", "self_moa", "moa"]
)
def test_every_strategy_end_to_end(stack: tuple[str, FakeUpstream], strategy: str) -> None:
    origin, upstream = stack
    body = b'{"idea": "freight audit agent", "options": {"strategy": "%s", "samples": 2}}' % strategy.encode()
    response = post(origin, "kill-test", body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    schema = httpx.get(f"{origin}/phases/kill-test").json()["output_schema"]
    assert list(Draft202012Validator(schema).iter_errors(answer["output"])) == []
    assert answer["strategy"] == strategy and answer["mode"] == "orchestrated"
    assert answer["agreement"]["fields"][0]["path"] == "verdict"
    # Every call made is on the record (a retry or a re-ask of a cut-off answer is an attempt of it).
    assert sum(m["attempts"] for m in answer["models"]) == len(upstream.calls)
