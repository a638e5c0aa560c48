"""The OpenAI chat-completions shape, shared by every adapter whose upstream speaks it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from app.domain import Completion, CompletionRequest, FinishReason, Prompt, Usage
from app.providers.base import error_body, estimate_usage, upstream_text
from app.providers.errors import ProviderResponseError
from app.text.reasoning import split_reasoning

_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """One system message first (MiniMax rejects any other order), then the user message."""
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages.append({"role": "user", "content": prompt.user})
    return messages


def parse_chat_completion(
    body: Any,
    request: CompletionRequest,
    *,
    provider: str,
    secrets: Iterable[str],
    status_code: int | None = None,
) -> Completion:
    """``choices[0].message.content`` with its reasoning split off, usage and finish reason."""

    def malformed(why: str) -> ProviderResponseError:
        return ProviderResponseError(upstream_text(why, secrets), provider=provider, status_code=status_code)

    if not isinstance(body, Mapping):
        raise malformed(f"expected a JSON object, got {type(body).__name__}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        # Some servers answer 2xx with an error object instead of choices.
        upstream = error_body(body).message
        raise malformed(f"no choices in the response: {upstream}" if upstream else "no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise malformed("choices[0] has no message")
    content = message.get("content")
    raw_finish = choice.get("finish_reason")
    finish = _FINISH.get(raw_finish, "other") if isinstance(raw_finish, str) else "other"
    separate = _reasoning_fields(message)
    usage_body = body.get("usage")
    request_id = body.get("id")
    request_id = request_id if isinstance(request_id, str) else None

    if content is None or (isinstance(content, str) and not content.strip()):
        # No answer. Beside reasoning (shown, or only counted as OpenAI's reasoning models do), the
        # model was still thinking when it stopped; at a length stop it was cut off. Both are
        # reported, not refused, so the caller can tell them from junk and re-ask.
        thought = bool(separate) or _reasoning_tokens(usage_body) > 0
        if thought or finish == "length":
            return Completion(
                text="",
                usage=parse_usage(usage_body, request, output="".join(separate)),
                finish_reason=finish,
                reasoning="\n\n".join(separate) or None,
                upstream_request_id=request_id,
                reasoning_unfinished=thought,
            )
    if not isinstance(content, str):
        refusal = message.get("refusal")
        why = f"refused: {refusal}" if isinstance(refusal, str) and refusal else "no text content"
        raise malformed(f"choices[0].message has {why}")

    text, inline, unfinished = split_reasoning(content)
    reasoning = "\n\n".join(part for part in (*separate, inline) if part) or None
    return Completion(
        text=text,
        usage=parse_usage(usage_body, request, output=content + "".join(separate)),
        finish_reason=finish,
        reasoning=reasoning,
        upstream_request_id=request_id,
        reasoning_unfinished=unfinished,
    )


def parse_usage(usage: Any, request: CompletionRequest, *, output: str) -> Usage:
    """``prompt_tokens`` / ``completion_tokens``; estimated from ``output`` when not reported."""
    if isinstance(usage, Mapping):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if _is_count(prompt) and _is_count(completion):
            return Usage(prompt, completion)
    return estimate_usage(request, output)


def _reasoning_fields(message: Mapping[str, Any]) -> list[str]:
    """``reasoning_content`` (vLLM, DeepSeek, MiniMax) and ``reasoning_details[].text`` (MiniMax
    with ``reasoning_split``)."""
    found: list[str] = []
    content = message.get("reasoning_content")
    if isinstance(content, str) and content.strip():
        found.append(content.strip())
    details = message.get("reasoning_details")
    if isinstance(details, list):
        texts = [d.get("text") for d in details if isinstance(d, Mapping)]
        found.extend(t.strip() for t in texts if isinstance(t, str) and t.strip())
    return found


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _reasoning_tokens(usage: Any) -> int:
    """``usage.completion_tokens_details.reasoning_tokens``: OpenAI's reasoning models count their
    hidden thinking there and show none of it."""
    details = usage.get("completion_tokens_details") if isinstance(usage, Mapping) else None
    count = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return count if _is_count(count) else 0
