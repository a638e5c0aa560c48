"""The few upstream errors recognised by their wording: each one provider's own, documented text.

DESIGN.md classifies errors by status and structured body, never by message text (a vendor that
rewords breaks a text match silently). These are the documented exceptions: the provider sends
nothing structured for a distinction the service acts on (a prompt too long for the model's context
window, a model id it does not serve), so the adapter reads that provider's own phrase. Each pattern
is anchored on the phrase as the provider writes it, is used only by that provider's adapter, and
only refines an error that is already a 4xx ``BadRequest``: a miss falls back to the status class.
"""

from __future__ import annotations

import re

VLLM_CONTEXT_OVERFLOW = re.compile(
    r"\bmaximum context length (?:is|of) \d+ tokens\b|\bis longer than the maximum model length of \d+"
)
"""vLLM's 400s, which carry only text ("This model's maximum context length is 32768 tokens.
However, you requested …", "The decoder prompt (length N) is longer than the maximum model length of
M"). DeepSeek's API uses the first phrase too, and Workers AI passes it on from its vLLM-served models
("AiError: This model's maximum context length is 131072 tokens …", cloudflare-docs issue #29731;
"… exceeds the model's maximum context length of 256000 tokens" on /ai/v1, models.dev PR #4422)."""

ANTHROPIC_CONTEXT_OVERFLOW = re.compile(
    r"^(?:prompt is too long: \d+ tokens > \d+ maximum"
    r"|input length and `max_tokens` exceed context limit: \d+ \+ \d+ > \d+)"
)
"""Anthropic's 400 ``invalid_request_error`` for a prompt (or prompt plus ``max_tokens``) beyond the
context window: its error type is the one it uses for every bad request."""

MINIMAX_CONTEXT_OVERFLOW = re.compile(r"^invalid params, context window exceeds limit\b")
"""MiniMax's generic 2013 "invalid params" code, with this text when the prompt is too long
(MiniMax-AI/MiniMax-M2 issue #119; the number in parentheses is the code, not a size)."""

MINIMAX_UNKNOWN_MODEL = re.compile(r"^invalid params, unknown model '")
"""MiniMax's 2013 for a model id it does not serve: "invalid params, unknown model 'x' (2013)"."""

DEEPSEEK_UNKNOWN_MODEL = re.compile(r"^Model Not Exist$")
"""DeepSeek's 400 for an unknown model id; its ``code`` is the generic ``invalid_request_error``."""

OLLAMA_UNKNOWN_MODEL = re.compile(r'^model "[^"]+" not found')
"""Ollama's 404 (``type: api_error``) for a model that is not pulled: 'model "x" not found, try
pulling it first'."""


def says(pattern: re.Pattern[str], message: str | None) -> bool:
    """Whether an upstream's error ``message`` is the wording ``pattern`` recognises."""
    return message is not None and pattern.search(message.strip()) is not None
