"""The contract every provider configuration meets, each in its own wire's shapes, through the
transport seam the production code uses: what it sends, what it makes of an answer, and how every
kind of failure reaches the caller (class, retry hint, wording, never a key).

Provider-specific rules (MiniMax's codes, Anthropic's content blocks, Workers AI's two result
shapes, listings' pagination) stay in each provider's own test module."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.domain import Usage
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
    RateLimited,
    UpstreamServerError,
)
from app.transport import Answer, Outgoing, Timeout
from tests.fakes.transport import FunctionTransport, answering, failing, reply
from tests.providers.wires import MAX_TOKENS, THOUGHT, WIRES, answered, request_for, without_usage

EVERY_WIRE = pytest.mark.parametrize("wire", WIRES)
KEYED_WIRES = pytest.mark.parametrize("wire", [name for name, config in WIRES.items() if config.key])


async def complete(wire: str, answer: Answer) -> tuple[Any, Outgoing]:
    transport = answering(answer)
    completion = await WIRES[wire].make(transport).complete(request_for(wire))
    return completion, transport.last


async def failure(wire: str, transport: FunctionTransport) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await WIRES[wire].make(transport).complete(request_for(wire))
    return caught.value


# ---- a call that works ---------------------------------------------------------------------------


@EVERY_WIRE
async def test_the_call_goes_to_its_url_with_its_credential_and_the_calls_timeouts(wire: str) -> None:
    _, sent = await complete(wire, reply(json=answered(wire, "ok", cut=False)))

    config = WIRES[wire]
    assert (sent.method, sent.url) == ("POST", config.url)
    assert httpx.Headers(sent.headers).get_list("content-type") == ["application/json"]  # once
    if config.auth is not None and config.key is not None:
        assert config.key in sent.headers[config.auth]
    else:
        assert "authorization" not in sent.headers
    assert sent.timeout == Timeout(read_s=30, connect_s=5.0)
    body = sent.json()
    assert "Plan it." in str(body) and MAX_TOKENS in body.values()


@EVERY_WIRE
async def test_an_answer_gives_its_text_usage_and_stop(wire: str) -> None:
    completion, _ = await complete(wire, reply(json=answered(wire, " the plan ", cut=False)))

    assert completion.text == "the plan"
    assert completion.usage == Usage(20, 30)
    assert completion.finish_reason == "stop"
    assert not completion.truncated and completion.reasoning is None


@EVERY_WIRE
async def test_an_answer_at_the_token_limit_is_truncated(wire: str) -> None:
    completion, _ = await complete(wire, reply(json=answered(wire, '{"verdict": "KI', cut=True)))

    assert completion.finish_reason == "length" and completion.truncated


@EVERY_WIRE
async def test_inline_reasoning_is_split_from_the_answer(wire: str) -> None:
    body = answered(wire, f"<think>{THOUGHT}</think>\nthe plan", cut=False)

    completion, _ = await complete(wire, reply(json=body))

    assert completion.text == "the plan"
    assert completion.reasoning == THOUGHT
    assert completion.reasoning_unfinished is False


@EVERY_WIRE
async def test_usage_not_reported_is_estimated_never_zero(wire: str) -> None:
    completion, _ = await complete(wire, reply(json=without_usage(answered(wire, "w" * 12, cut=False))))

    assert completion.usage == Usage(len("You plan.Plan it.") // 4, 3, estimated=True)


# ---- the upstream says no ------------------------------------------------------------------------


@EVERY_WIRE
@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequest),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimited),
        (500, UpstreamServerError),
        (503, Overloaded),
        (529, Overloaded),
    ],
)
async def test_a_status_is_classified_and_quotes_the_upstream(
    wire: str, status: int, error_class: type[ProviderError]
) -> None:
    error = await failure(wire, answering(reply(status, json=WIRES[wire].refusal("no, because"))))

    assert isinstance(error, error_class) and error.status_code == status
    assert error.message == "no, because"
    assert error.retryable is (status >= 429)
    assert str(error).startswith(f"{wire}: HTTP {status} ")


@EVERY_WIRE
@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5)],
)
async def test_429_carries_the_upstreams_retry_after(
    wire: str, headers: dict[str, str], seconds: float
) -> None:
    error = await failure(wire, answering(reply(429, json=WIRES[wire].refusal("slow down"), headers=headers)))

    assert isinstance(error, RateLimited) and error.retryable
    assert error.retry_after_s == seconds


@EVERY_WIRE
async def test_a_status_without_a_json_body_quotes_its_text(wire: str) -> None:
    error = await failure(wire, answering(reply(502, text="Bad gateway")))

    assert isinstance(error, UpstreamServerError) and error.message == "Bad gateway"


@EVERY_WIRE
async def test_a_no_inside_an_http_200_is_never_an_answer(wire: str) -> None:
    body, error_class = WIRES[wire].said_no_with_200

    error = await failure(wire, answering(reply(200, json=body)))

    assert type(error) is error_class


@EVERY_WIRE
@pytest.mark.parametrize("malformed", ["not-json", "not-an-object", "own"])
async def test_a_2xx_that_is_no_answer_is_malformed(wire: str, malformed: str) -> None:
    bodies = {
        "not-json": [reply(text="\n\n<html>gateway hiccup</html>")],
        "not-an-object": [reply(json=["a", "list"])],
        "own": [reply(json=body) for body in WIRES[wire].malformed],
    }[malformed]
    for answer in bodies:
        error = await failure(wire, answering(answer))

        assert type(error) is ProviderResponseError and error.kind == "malformed"
        assert error.status_code == 200
    if malformed == "not-json":
        assert error.message == "response is not JSON: '<html>gateway hiccup</html>'"


@KEYED_WIRES
async def test_a_key_the_upstream_echoes_is_never_quoted(wire: str) -> None:
    key = WIRES[wire].key
    answers = iter([reply(401, json=WIRES[wire].refusal(f"bad key {key}")), reply(text=f"echo {key}")])
    transport = FunctionTransport(lambda _: next(answers))

    refused = await failure(wire, transport)
    malformed = await failure(wire, transport)

    assert refused.message == "bad key [redacted]"
    assert malformed.message == "response is not JSON: 'echo [redacted]'"
    assert str(key) not in str(refused) + str(malformed)


# ---- the network fails ---------------------------------------------------------------------------


@EVERY_WIRE
@pytest.mark.parametrize(
    ("fault", "error_class", "words"),
    [
        (httpx.ReadTimeout("slow"), ProviderTimeout, "no answer within the timeout (ReadTimeout)"),
        (httpx.ConnectTimeout("slow"), ProviderTimeout, "no answer within the timeout (ConnectTimeout)"),
        (
            httpx.ConnectError("refused"),
            ProviderConnectionError,
            "could not connect to the provider (ConnectError)",
        ),
        (httpx.ReadError("reset"), ProviderConnectionError, "the connection broke mid-answer (ReadError)"),
        (
            httpx.RemoteProtocolError("hung up"),
            ProviderConnectionError,
            "the connection broke mid-answer (RemoteProtocolError)",
        ),
        (
            httpx.WriteError("reset"),
            ProviderConnectionError,
            "the connection broke while sending the request (WriteError)",
        ),
        (
            httpx.UnsupportedProtocol("ftp"),
            ProviderConnectionError,
            "the provider's base URL is not http(s) (UnsupportedProtocol)",
        ),
    ],
)
async def test_a_network_fault_is_a_retryable_provider_error_in_words(
    wire: str, fault: httpx.TransportError, error_class: type[ProviderError], words: str
) -> None:
    error = await failure(wire, failing(fault))

    assert type(error) is error_class and error.retryable
    assert str(error) == f"{wire}: {error_class.kind}: {words}"


@EVERY_WIRE
@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (httpx.ReadTimeout("slow"), "timeout: the model listing did not answer within 20s (ReadTimeout)"),
        (httpx.ConnectError("refused"), "connection: could not fetch the model listing (ConnectError)"),
    ],
)
async def test_a_listing_names_its_network_fault(wire: str, fault: httpx.TransportError, words: str) -> None:
    transport = failing(fault)

    with pytest.raises(ProviderError) as caught:
        await WIRES[wire].make(transport).list_models()  # type: ignore[attr-defined]

    assert str(caught.value) == f"{wire}: {words}"
    assert transport.last.method == "GET" and transport.last.url == WIRES[wire].listing_url


# ---- not configured ------------------------------------------------------------------------------


@EVERY_WIRE
async def test_unconfigured_it_names_the_setting_and_sends_nothing(wire: str) -> None:
    transport = answering(reply(json={}))
    adapter = WIRES[wire].unconfigured(transport)

    with pytest.raises(ProviderError) as caught:
        await adapter.complete(request_for(wire))

    assert adapter.available is False and adapter.missing_settings == WIRES[wire].missing
    assert type(caught.value) is WIRES[wire].unconfigured_error
    assert caught.value.message == f"not configured (set {', '.join(WIRES[wire].missing)})"
    assert transport.sent == []
    assert WIRES[wire].make(transport).available is True
