"""Errors the OpenAI way: each client raises its own exception class, with our message in it, and
its retry logic does what the status says (a retry on 5xx and 429, none on a bad request)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.providers.errors import ProviderStatusError
from app.providers.fake import Delayed
from tests.api.openai.conftest import Stack, user
from tests.support import fake_providers, fixture_responder, make_settings, serve

Model = "phase/kill-test"
BAD_SCHEMA = {"name": "k", "schema": {"type": 5}}


Counting = Callable[..., tuple[openai.OpenAI, list[str]]]


@pytest.fixture
def counting_client() -> Iterator[Counting]:
    """Makes SDK clients that record every HTTP request they send (retries included)."""
    made: list[openai.OpenAI] = []

    def make(base_url: str, *, key: str = "unused", retries: int = 0) -> tuple[openai.OpenAI, list[str]]:
        sent: list[str] = []
        http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.url.path)]})
        made.append(openai.OpenAI(base_url=base_url, api_key=key, max_retries=retries, http_client=http))
        return made[-1], sent

    yield make
    for client in made:
        client.close()


@contextmanager
def fake_service(**settings: Any) -> Iterator[str]:
    """The app with fake providers (``responder``/``unavailable`` for them) on loopback; its /v1 URL."""
    responder = settings.pop("responder", fixture_responder)
    unavailable = settings.pop("unavailable", ())
    fakes = fake_providers(responder, unavailable=unavailable)
    with serve(create_app(make_settings(store_backend="none", **settings), providers=fakes)) as origin:
        yield f"{origin}/v1"


def test_unknown_model_is_a_not_found_naming_the_valid_ones(stack: Stack, counting_client: Counting) -> None:
    client, sent = counting_client(stack.base_url, retries=2)
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="phase/kill-tset", messages=user())
    error = raised.value
    assert error.status_code == 404 and error.code == "model_not_found" and error.param == "model"
    assert "phase/kill-tset" in error.message and "kill-test" in error.message
    assert "phase/kill-test:vote" in error.body["details"]["valid_models"]  # type: ignore[index]
    assert len(sent) == 1  # a 404 is not retried
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("phase/nope")


@pytest.mark.parametrize(
    ("request_body", "param", "words"),
    [
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages[0].role", "one idea"),
        ({"messages": user() * 2}, "messages[1]", "second user message"),
        ({"messages": []}, "messages", "at least 1"),
        ({"messages": user(), "n": 2}, "n", "less than or equal to 1"),
        ({"messages": [{"role": "user", "content": '{"context": {}}'}]}, "messages[0].content", '"idea"'),
        (
            {"messages": user(), "response_format": {"type": "json_schema", "json_schema": BAD_SCHEMA}},
            "response_format.json_schema.schema",
            "not a valid JSON Schema",
        ),
        ({"messages": user(), "extra_body": {"orchestration": {"deadline_s": "60"}}},
         "orchestration.deadline_s", "number"),
    ],
)  # fmt: skip
def test_a_malformed_request_is_a_bad_request_naming_the_param(
    stack: Stack, counting_client: Counting, request_body: dict[str, Any], param: str, words: str
) -> None:
    client, sent = counting_client(stack.base_url, retries=2)
    calls = len(stack.upstream.calls)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=Model, **request_body)
    assert raised.value.param == param and words in raised.value.message
    assert raised.value.type == "invalid_request_error"
    assert len(sent) == 1 and len(stack.upstream.calls) == calls  # not retried, nothing ran


def test_an_output_not_matching_the_json_schema_is_a_bad_request_naming_the_mismatch(
    stack: Stack, counting_client: Counting
) -> None:
    schema = {"type": "object", "properties": {"verdict": {"enum": ["MAYBE"]}}}
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "k", "schema": schema}}
    client, _ = counting_client(stack.base_url)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=Model, messages=user(), response_format=response_format)
    assert raised.value.code == "response_format_mismatch"
    assert "verdict: " in raised.value.message and "MAYBE" in raised.value.message
    with pytest.raises(openai.APIError, match="does not match response_format"):  # streamed: an error event
        list(
            client.chat.completions.create(
                model=Model, messages=user(), stream=True, response_format=response_format
            )
        )


def test_an_idempotency_key_reused_with_another_body_is_a_conflict_not_retried(
    stack: Stack, counting_client: Counting
) -> None:
    client, sent = counting_client(stack.base_url, retries=2)
    headers = {"Idempotency-Key": "conflict-key"}
    client.chat.completions.create(model=Model, messages=user(), extra_headers=headers)
    with pytest.raises(openai.ConflictError) as raised:
        client.chat.completions.create(model=Model, messages=user("another idea"), extra_headers=headers)
    assert raised.value.code == "idempotency_key_conflict"
    assert len(sent) == 2  # x-should-retry: false stops the SDK's usual retry of a 409


def test_a_wrong_key_is_an_authentication_error(counting_client: Counting) -> None:
    with fake_service(api_keys=SecretStr("right-key")) as base_url:
        good, _ = counting_client(base_url, key="right-key")
        assert good.chat.completions.create(model=Model, messages=user()).choices[0].finish_reason == "stop"
        bad, _ = counting_client(base_url, key="wrong-key")
        with pytest.raises(openai.AuthenticationError) as raised:
            bad.chat.completions.create(model=Model, messages=user())
        assert raised.value.code == "invalid_api_key" and "API_KEYS" in str(raised.value.body)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()


def test_over_the_rate_limit_is_a_rate_limit_error_with_retry_after(counting_client: Counting) -> None:
    with fake_service(rate_limit="2/minute") as base_url:
        client, sent = counting_client(base_url)
        client.models.list()
        client.chat.completions.create(model=Model, messages=user())
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model=Model, messages=user())
    assert int(raised.value.response.headers["retry-after"]) > 0
    assert raised.value.code == "rate_limited" and "RATE_LIMIT" in raised.value.message
    assert len(sent) == 3


def test_an_oversized_idea_is_a_bad_request(counting_client: Counting) -> None:
    with fake_service(max_idea_chars=20) as base_url:
        client, _ = counting_client(base_url)
        with pytest.raises(openai.BadRequestError) as raised:
            client.chat.completions.create(model=Model, messages=user("x" * 21))
    assert raised.value.param == "idea" and "MAX_IDEA_CHARS" in raised.value.message


def failing(request: Any) -> Any:
    return ProviderStatusError("the model refused", provider="x", status_code=400)


def test_every_model_failing_is_a_502_the_sdk_retries(counting_client: Counting) -> None:
    with fake_service(responder=failing) as base_url:
        client, sent = counting_client(base_url, retries=1)
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model=Model, messages=user())
    error = raised.value
    assert error.status_code == 502 and error.type == "server_error"
    assert error.body["models"] and all(m["status"] == "error" for m in error.body["models"])  # type: ignore[index]
    assert len(sent) == 2  # the SDK's own retry of a 5xx


def test_no_usable_provider_is_a_503(counting_client: Counting) -> None:
    with fake_service(
        unavailable=("workers_ai", "anthropic", "minimax", "openai_compat", "local")
    ) as base_url:
        client, _ = counting_client(base_url)
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model=Model, messages=user())
    assert raised.value.status_code == 503 and raised.value.code == "no_usable_provider"


def test_the_deadline_passing_is_a_504(counting_client: Counting) -> None:
    with fake_service(responder=lambda request: Delayed(30, fixture_responder(request))) as base_url:
        client, _ = counting_client(base_url)
        extra = {"orchestration": {"deadline_s": 1}}
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model=Model, messages=user(), extra_body=extra)
        assert raised.value.status_code == 504 and raised.value.code == "deadline_exceeded"
        # Streamed, the run has started (progress went out) when the deadline passes: an error event.
        with pytest.raises(openai.APIError, match="deadline") as streamed:
            list(client.chat.completions.create(model=Model, messages=user(), extra_body=extra, stream=True))
    assert json.dumps(streamed.value.body).count("deadline_exceeded") == 1
