"""What every adapter reports the same way, each from its own wire's shapes: answers cut off at the
token limit, answers that never got past their reasoning, prompts beyond the context window, model ids
the provider does not serve, and the upstream's ``x-should-retry``."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain import Completion
from app.providers.errors import (
    BadRequest,
    ContextOverflow,
    ModelUnavailable,
    ProviderError,
    ProviderStatusError,
    UpstreamServerError,
)
from app.transport import Answer
from tests.fakes.transport import answering, reply
from tests.providers.wires import (
    MAX_TOKENS,
    MINIMAX_OK,
    THOUGHT,
    WIRES,
    answered,
    chat,
    reasoning_only,
    request_for,
)


async def complete(wire: str, answer: Answer) -> Completion:
    return await WIRES[wire].make(answering(answer)).complete(request_for(wire))


async def failure(wire: str, answer: Answer) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await complete(wire, answer)
    return caught.value


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("cut", [True, False], ids=["length", "stop"])
async def test_a_cut_or_whole_answer_reports_its_stop(wire: str, cut: bool) -> None:
    text = '{"verdict": "KILL", "risks": ["ch' if cut else '{"verdict": "KILL"}'

    completion = await complete(wire, reply(200, json=answered(wire, text, cut=cut)))

    assert completion.text == text
    assert completion.finish_reason == ("length" if cut else "stop")
    assert completion.truncated is cut
    assert completion.reasoning_unfinished is False


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("cut", [True, False], ids=["length", "stop"])
async def test_reasoning_beside_no_content_is_unfinished_not_malformed(wire: str, cut: bool) -> None:
    body = reasoning_only(wire, cut=cut)

    completion = await complete(wire, reply(200, json=body))

    assert completion.text == ""
    assert completion.reasoning == THOUGHT
    assert completion.reasoning_unfinished is True
    assert completion.finish_reason == ("length" if cut else "stop")


@pytest.mark.parametrize("wire", ["workers_ai", "minimax", "openai_compat"])
async def test_an_inline_think_that_never_closes_is_unfinished(wire: str) -> None:
    body = answered(wire, f"<think>\n{THOUGHT}", cut=True)

    completion = await complete(wire, reply(200, json=body))

    assert completion.reasoning_unfinished is True
    assert completion.truncated is True
    assert "verdict" not in completion.text  # the draft inside the reasoning is not the answer
    assert completion.reasoning == THOUGHT


@pytest.mark.parametrize(
    "usage",
    [
        pytest.param({"completion_tokens_details": {"reasoning_tokens": MAX_TOKENS}}, id="reasoning-tokens"),
        pytest.param({}, id="nothing-counted"),
    ],
)
async def test_openai_reasoning_model_cut_while_thinking(usage: dict[str, Any]) -> None:
    # o-series and GPT-5 show no reasoning: an empty content at a length stop, the tokens counted.
    body = chat({"content": ""}, "length")
    body["usage"].update(usage)

    completion = await complete("openai_compat", reply(200, json=body))

    assert completion.text == ""
    assert completion.truncated
    assert completion.reasoning is None
    assert completion.reasoning_unfinished is bool(usage)


@pytest.mark.parametrize("wire", ["minimax", "openai_compat"])
async def test_null_content_with_a_normal_stop_and_no_reasoning_is_still_malformed(wire: str) -> None:
    body = chat({"content": None, "refusal": "I can't help with that"}, "stop", **MINIMAX_OK)

    error = await failure(wire, reply(200, json=body))

    assert error.kind == "malformed" and "I can't help with that" in error.message


def minimax_2013(text: str) -> list[Any]:
    """MiniMax's code 2013 with ``text``, both ways it arrives: an HTTP 400 whose message ends in the
    code, and ``base_resp`` with HTTP 200."""
    return [
        pytest.param(
            "minimax",
            400,
            {"error": {"message": f"{text} (2013)", "type": "bad_request_error"}},
            id="minimax-http-400",
        ),
        pytest.param(
            "minimax",
            200,
            {"choices": None, "base_resp": {"status_code": 2013, "status_msg": text}},
            id="minimax-base-resp",
        ),
    ]


# ---- context overflow ---------------------------------------------------------------------------

VLLM_TEXT = (
    "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens "
    "(32000 in the messages, 8000 in the completion). Please reduce the length of the messages or completion."
)

OVERFLOWS = [
    pytest.param(
        "openai_compat",
        400,
        {
            "error": {
                "message": "Your input exceeds the context window of this model. "
                "Please adjust your input and try again.",
                "type": "invalid_request_error",
                "param": "input",
                "code": "context_length_exceeded",
            }
        },
        id="openai-code",
    ),
    pytest.param(
        "openai_compat",
        400,
        {
            "error": {
                "code": 400,
                "message": "request (40000 tokens) exceeds the available context size (32768 tokens), "
                "try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 40000,
                "n_ctx": 32768,
            }
        },
        id="llama-cpp-type",
    ),
    pytest.param(
        "openai_compat",
        400,
        {"object": "error", "message": VLLM_TEXT, "type": "BadRequestError", "param": None, "code": 400},
        id="vllm-flat",
    ),
    pytest.param(
        "openai_compat",
        400,
        {
            "error": {
                "message": "The decoder prompt (length 40000) is longer than the maximum model length "
                "of 32768. Make sure that `max_model_len` is no smaller than the number of text tokens.",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        },
        id="vllm-decoder-prompt",
    ),
    pytest.param(
        "openai_compat",
        400,
        {
            "error": {
                "message": VLLM_TEXT,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
        id="deepseek",
    ),
    pytest.param(
        "anthropic",
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 208310 tokens > 200000 maximum",
            },
        },
        id="anthropic-prompt-too-long",
    ),
    pytest.param(
        "anthropic",
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "input length and `max_tokens` exceed context limit: 189136 + 20000 > 204648, "
                "decrease input length or `max_tokens` and try again",
            },
        },
        id="anthropic-with-max-tokens",
    ),
    pytest.param(
        "workers_ai",
        400,
        {
            "result": None,
            "success": False,
            "errors": [{"message": f"AiError: AiError: {VLLM_TEXT}"}],
            "messages": [],
        },
        id="workers-ai-vllm-text",
    ),
    *minimax_2013("invalid params, context window exceeds limit"),
]


# ---- model unavailable --------------------------------------------------------------------------

UNAVAILABLE = [
    pytest.param(
        "workers_ai",
        400,
        {
            "result": None,
            "success": False,
            "errors": [{"code": 5007, "message": "No such model @cf/x/y or task"}],
        },
        id="workers-ai-5007",
    ),
    pytest.param(
        "workers_ai",
        404,
        {"result": None, "success": False, "errors": [{"code": 3042, "message": "Invalid model ID"}]},
        id="workers-ai-3042",
    ),
    pytest.param(
        "anthropic",
        404,
        {
            "type": "error",
            "error": {"type": "not_found_error", "message": "model: claude-3-5-sonnet-20241022"},
        },
        id="anthropic-not-found",
    ),
    pytest.param(
        "openai_compat",
        404,
        {
            "error": {
                "message": "The model `gpt-4-32k` has been deprecated.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        },
        id="openai-model-not-found",
    ),
    pytest.param(
        "openai_compat",
        404,
        {
            "error": {
                "message": "The model `qwen3` does not exist.",
                "type": "NotFoundError",
                "param": "model",
                "code": 404,
            }
        },
        id="vllm-404",
    ),
    pytest.param(
        "openai_compat",
        404,
        {
            "error": {
                "message": 'model "llama3" not found, try pulling it first',
                "type": "api_error",
                "param": None,
                "code": None,
            }
        },
        id="ollama-404",
    ),
    pytest.param(
        "openai_compat",
        400,
        {
            "error": {
                "message": "Model Not Exist",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
        id="deepseek-400",
    ),
    *minimax_2013("invalid params, unknown model 'MiniMax-M1'"),
]


CLASSIFIED = [
    *(pytest.param(*case.values, ContextOverflow, id=case.id) for case in OVERFLOWS),
    *(pytest.param(*case.values, ModelUnavailable, id=case.id) for case in UNAVAILABLE),
]


@pytest.mark.parametrize(("wire", "status", "body", "error_class"), CLASSIFIED)
async def test_each_wires_own_shape_is_classified(
    wire: str,
    status: int,
    body: dict[str, Any],
    error_class: type[ProviderStatusError],
) -> None:
    error = await failure(wire, reply(status, json=body))

    assert type(error) is error_class
    assert error.kind in ("context_overflow", "model_unavailable")
    assert error.retryable is False
    assert error.status_code == status
    # An overflow is still a bad request to anything that asks; an unknown model is not.
    assert isinstance(error, BadRequest) is (error_class is ContextOverflow)


NEAR_MISSES = [
    pytest.param(
        "openai_compat", 404, {"error": {"message": "404 page not found"}}, BadRequest, id="bare-404"
    ),
    pytest.param(
        "openai_compat", 400, {"error": {"message": "Invalid 'messages'"}}, BadRequest, id="other-400"
    ),
    pytest.param(
        "openai_compat",
        500,
        {"error": {"message": VLLM_TEXT}},
        UpstreamServerError,
        id="overflow-text-on-500",
    ),
    pytest.param(
        "anthropic",
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "messages: the prompt is too long? no"},
        },
        BadRequest,
        id="anthropic-unanchored",
    ),
    pytest.param(
        "minimax",
        400,
        {"error": {"message": "invalid params, chat content has invalid message role: system (2013)"}},
        BadRequest,
        id="minimax-other-2013",
    ),
    pytest.param(
        "minimax",
        500,
        {"error": {"message": "invalid params, context window exceeds limit (1000)"}},
        UpstreamServerError,
        id="minimax-wording-other-code",
    ),
    pytest.param(
        "workers_ai",
        400,
        {
            "success": False,
            "errors": [{"code": 3003, "message": "Bad input: must have required property 'prompt'"}],
        },
        BadRequest,
        id="workers-ai-3003",
    ),
]


@pytest.mark.parametrize(("wire", "status", "body", "error_class"), NEAR_MISSES)
async def test_wording_refines_only_its_own_providers_bad_requests(
    wire: str,
    status: int,
    body: dict[str, Any],
    error_class: type[ProviderError],
) -> None:
    error = await failure(wire, reply(status, json=body))

    assert type(error) is error_class


# ---- x-should-retry -----------------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(
    ("status", "header", "retryable"),
    [
        (500, None, True),
        (500, "false", False),
        (409, "False", False),
        (400, None, False),
        (400, "true", True),
        (400, "maybe", False),
    ],
)
async def test_x_should_retry_overrides_the_status_default(
    wire: str,
    status: int,
    header: str | None,
    retryable: bool,
) -> None:
    body = WIRES[wire].refusal("no")
    if wire == "anthropic" and status >= 500:
        body = {"type": "error", "error": {"type": "api_error", "message": "no"}}
    headers = {"x-should-retry": header} if header is not None else {}

    error = await failure(wire, reply(status, json=body, headers=headers))

    assert isinstance(error, ProviderStatusError)
    assert error.retryable is retryable
    assert type(error).retryable is (status >= 409)  # the class keeps its default; only this error changed
