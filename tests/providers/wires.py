"""Every provider configuration the registry builds, with its wire's own shapes, for the tests that
hold each of them to the same contract (test_contract.py, test_wire_faults.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from app.domain import CompletionRequest, Prompt
from app.providers.anthropic import AnthropicProvider
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    Overloaded,
    ProviderError,
    ProviderResponseError,
    RateLimited,
)
from app.providers.http import HttpAdapter
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import local_endpoint, minimax_endpoint, openai_compat_endpoint
from app.providers.workers_ai import WorkersAIProvider
from app.settings import (
    AnthropicSettings,
    LocalModelSettings,
    MiniMaxSettings,
    OpenAICompatSettings,
    WorkersAISettings,
)
from app.transport import Transport

MAX_TOKENS = 400
THOUGHT = 'The user wants a verdict. Draft: {"verdict": "GO"} but let me weigh the risks'
MINIMAX_OK = {"base_resp": {"status_code": 0, "status_msg": ""}}


def chat(message: dict[str, Any], finish: str, **extra: Any) -> dict[str, Any]:
    usage = {"prompt_tokens": 20, "completion_tokens": MAX_TOKENS if finish == "length" else 30}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": usage,
        **extra,
    }


def envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def anthropic_message(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    usage = {"input_tokens": 20, "output_tokens": MAX_TOKENS if stop == "max_tokens" else 30}
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop,
        "usage": usage,
    }


def answered(wire: str, text: str, *, cut: bool) -> dict[str, Any]:
    """``text`` as the wire's answer, stopped by the token limit when ``cut``."""
    finish = "length" if cut else "stop"
    if wire == "anthropic":
        return anthropic_message([{"type": "text", "text": text}], "max_tokens" if cut else "end_turn")
    if wire == "workers_ai":  # the legacy shape: no finish reason, only the output count
        completion = MAX_TOKENS if cut else 30
        return envelope({"response": text, "usage": {"prompt_tokens": 20, "completion_tokens": completion}})
    return chat({"content": text}, finish, **(MINIMAX_OK if wire == "minimax" else {}))


def reasoning_only(wire: str, *, cut: bool) -> dict[str, Any]:
    """The wire's reply of a model that never got past its reasoning: content null beside it."""
    finish = "length" if cut else "stop"
    if wire == "anthropic":
        thinking = {"type": "thinking", "thinking": THOUGHT, "signature": "sig"}
        return anthropic_message([thinking], "max_tokens" if cut else "end_turn")
    if wire == "workers_ai":  # a model with the OpenAI result shape (GLM, gpt-oss) and reasoning_content
        return envelope(chat({"content": None, "reasoning_content": THOUGHT}, finish))
    if wire == "minimax":  # reasoning_split moves the thinking to reasoning_details
        details = [{"type": "reasoning.text", "text": THOUGHT}]
        return chat({"content": None, "reasoning_details": details}, finish, **MINIMAX_OK)
    return chat({"content": None, "reasoning_content": THOUGHT}, finish)


def without_usage(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with no token counts, wherever the wire puts them."""
    if "result" in body:
        return {**body, "result": _no_usage(body["result"])}
    return _no_usage(body)


def _no_usage(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "usage"}


@dataclass(frozen=True)
class Wire:
    """One provider configuration and how its upstream talks."""

    url: str
    """Where its model calls go."""
    listing_url: str
    model: str
    make: Callable[[Transport], HttpAdapter]
    unconfigured: Callable[[Transport], HttpAdapter]
    missing: tuple[str, ...]
    """What ``unconfigured`` lacks, as its error names it."""
    unconfigured_error: type[ProviderError]
    key: str | None
    """The credential it sends (``None``: it sends none), in ``auth``."""
    auth: str | None
    refusal: Callable[[str], dict[str, Any]]
    """The wire's error body quoting a message, with no code that would override the status."""
    said_no_with_200: tuple[dict[str, Any], type[ProviderError]]
    """A refusal inside an HTTP 200 body, and what it is."""
    malformed: list[Any] = field(default_factory=list)
    """2xx bodies that are no answer, beside the ones every wire refuses."""


def _workers_ai(**values: Any) -> WorkersAISettings:
    return WorkersAISettings(_env_file=None, **values)


def _openai(base_url: str | None, key: str | None = None) -> OpenAICompatSettings:
    return OpenAICompatSettings(_env_file=None, base_url=base_url, api_key=SecretStr(key) if key else None)


CF_TOKEN, ANT_KEY, MM_KEY, OA_KEY = "cf-token-1234", "ant-key-5678", "mm-key-9012", "sk-oa-3456"
WORKERS_AI_RUN = "https://api.cloudflare.com/client/v4/accounts/acct/ai"
CHAT_URL = "http://127.0.0.1:8080/v1"


def openai_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


WIRES: dict[str, Wire] = {
    "workers_ai": Wire(
        f"{WORKERS_AI_RUN}/run/@cf/qwen/qwq-32b",
        f"{WORKERS_AI_RUN}/models/search",
        "@cf/qwen/qwq-32b",
        lambda t: WorkersAIProvider(_workers_ai(account_id="acct", api_token=SecretStr(CF_TOKEN)), t),
        lambda t: WorkersAIProvider(_workers_ai(account_id=None, api_token=None), t),
        ("WORKERS_AI_ACCOUNT_ID", "WORKERS_AI_API_TOKEN"),
        AuthenticationError,
        CF_TOKEN,
        "authorization",
        lambda message: {"result": None, "success": False, "errors": [{"message": message}]},
        ({"success": False, "errors": [{"code": 3040, "message": "Capacity exceeded"}]}, RateLimited),
        [
            {"success": True, "errors": []},
            envelope({"tool_calls": []}),
            envelope({"choices": []}),
        ],
    ),
    "anthropic": Wire(
        "https://api.anthropic.com/v1/messages",
        "https://api.anthropic.com/v1/models",
        "claude-sonnet-4-5",
        lambda t: AnthropicProvider(AnthropicSettings(_env_file=None, api_key=SecretStr(ANT_KEY)), t),
        lambda t: AnthropicProvider(AnthropicSettings(_env_file=None, api_key=None, gateway_token=None), t),
        ("ANTHROPIC_API_KEY",),
        AuthenticationError,
        ANT_KEY,
        "x-api-key",
        lambda message: {"type": "error", "error": {"type": "invalid_request_error", "message": message}},
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, Overloaded),
        [{"id": "msg_1", "type": "message"}],
    ),
    "minimax": Wire(
        "https://api.minimax.io/v1/chat/completions",
        "https://api.minimax.io/v1/models",
        "MiniMax-M2.7",
        lambda t: OpenAIChatProvider(
            minimax_endpoint(MiniMaxSettings(_env_file=None, api_key=SecretStr(MM_KEY))), t
        ),
        lambda t: OpenAIChatProvider(minimax_endpoint(MiniMaxSettings(_env_file=None, api_key=None)), t),
        ("MINIMAX_API_KEY",),
        AuthenticationError,
        MM_KEY,
        "authorization",
        lambda message: {"error": {"message": message}},
        ({"base_resp": {"status_code": 1002, "status_msg": "rate limit exceeded(RPM)"}}, RateLimited),
        [chat({"content": "x"}, "stop", choices=[]), MINIMAX_OK, chat({"content": None}, "stop")],
    ),
    "openai_compat": Wire(
        f"{CHAT_URL}/chat/completions",
        f"{CHAT_URL}/models",
        "qwen3-32b",
        lambda t: OpenAIChatProvider(openai_compat_endpoint(_openai(CHAT_URL, OA_KEY)), t),
        lambda t: OpenAIChatProvider(openai_compat_endpoint(_openai(None, OA_KEY)), t),
        ("OPENAI_COMPAT_BASE_URL",),
        BadRequest,  # no URL: nowhere to send it
        OA_KEY,
        "authorization",
        openai_error,
        # No code of its own: an error object instead of choices is no answer.
        ({"error": {"message": "model crashed"}}, ProviderResponseError),
        [{"id": "x"}, chat({"content": None, "refusal": "I can't"}, "stop")],
    ),
    "local": Wire(
        f"{CHAT_URL}/chat/completions",
        f"{CHAT_URL}/models",
        "gemma-3-270m",
        lambda t: OpenAIChatProvider(local_endpoint(LocalModelSettings(_env_file=None, url=CHAT_URL)), t),
        lambda t: OpenAIChatProvider(local_endpoint(LocalModelSettings(_env_file=None, enabled=False)), t),
        ("LOCAL_MODEL_URL",),
        BadRequest,
        None,
        None,
        openai_error,
        ({"error": {"message": "model crashed"}}, ProviderResponseError),
        [{"id": "x"}],
    ),
}
"""The registry's providers by name: two native wires and three configurations of OpenAI chat."""


def request_for(wire: str, **changes: Any) -> CompletionRequest:
    return CompletionRequest(
        model=WIRES[wire].model,
        prompt=Prompt("You plan.", "Plan it."),
        max_tokens=MAX_TOKENS,
        timeout_s=30,
        **changes,
    )
