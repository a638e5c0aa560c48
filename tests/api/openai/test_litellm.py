"""LiteLLM's OpenAI provider (``openai/<model>`` with ``api_base``) calling the service on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import litellm
import pytest

from tests.api.openai.conftest import Stack, user

litellm.suppress_debug_info = True  # its "Give Feedback" banner on every error

# LiteLLM's stream wrapper reads every attribute of each delta (model_response_utils.py,
# _is_delta_non_empty), pydantic's deprecated instance ``model_computed_fields`` included: a
# warning in use, an error under this suite's filterwarnings. It is LiteLLM's, on any server's chunks.
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")


@pytest.fixture(autouse=True)
def closed_loop() -> Iterator[None]:
    """An event loop for LiteLLM's timing logger, closed afterwards.

    Its sync path calls ``asyncio.get_event_loop()`` (litellm/_service_logger.py), which outside a
    running loop makes one and never closes it; the loop's socket pair then leaks into whichever
    test the garbage collector happens to run in."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def call(stack: Stack, model: str = "openai/phase/kill-test", **options: object) -> object:
    return litellm.completion(
        model=model, api_base=stack.base_url, api_key="unused", messages=user(), num_retries=0, **options
    )


def test_completion(stack: Stack) -> None:
    answer = litellm.completion(
        model="openai/phase/kill-test", api_base=stack.base_url, api_key="unused", messages=user()
    )
    assert isinstance(answer, litellm.ModelResponse)
    choice = answer.choices[0]
    assert isinstance(choice, litellm.Choices) and choice.finish_reason == "stop"
    output = json.loads(choice.message.content or "")
    assert output["verdict"] in ("GO", "PIVOT", "KILL")
    record = answer.orchestration  # type: ignore[attr-defined]  # the extension field, kept by LiteLLM
    assert record["output"] == output
    usage = answer.usage  # type: ignore[attr-defined]
    assert usage.prompt_tokens == record["usage"]["tokens_in"] > 0
    assert usage.total_tokens == record["usage"]["tokens_in"] + record["usage"]["tokens_out"]


def test_streaming_skips_the_progress_chunks(stack: Stack) -> None:
    chunks = list(
        litellm.completion(
            model="openai/phase/kill-test:vote",
            api_base=stack.base_url,
            api_key="unused",
            messages=user(),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text)["verdict"] in ("GO", "PIVOT", "KILL")
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    usage = getattr(chunks[-1], "usage", None)
    assert usage is not None and usage.prompt_tokens > 0


def test_unknown_model_is_litellms_not_found(stack: Stack) -> None:
    with pytest.raises(litellm.NotFoundError) as raised:
        call(stack, model="openai/phase/kill-tset")
    assert raised.value.status_code == 404 and "phase/kill-tset" in raised.value.message
    assert "kill-test" in raised.value.message


def test_a_malformed_request_is_litellms_bad_request(stack: Stack) -> None:
    with pytest.raises(litellm.BadRequestError) as raised:
        litellm.completion(
            model="openai/phase/kill-test",
            api_base=stack.base_url,
            api_key="unused",
            messages=[{"role": "assistant", "content": "hi"}],
            num_retries=0,
        )
    assert raised.value.status_code == 400 and "messages[0].role" in raised.value.message
