"""Any OpenAI-compatible chat-completions server: OpenAI, DeepSeek, vLLM, llama.cpp, Ollama.

Their quirks as one ``ChatProfile``: how each of them says what went wrong.
"""

from __future__ import annotations

from typing import Any

from app.providers.base import error_body
from app.providers.errors import (
    BadRequest,
    ContextOverflow,
    ModelUnavailable,
    Overloaded,
    ProviderStatusError,
    QuotaExceeded,
    error_class_for_status,
)
from app.providers.openai_chat import BudgetField, ChatProfile, UpstreamNo
from app.providers.wording import (
    DEEPSEEK_UNKNOWN_MODEL,
    OLLAMA_UNKNOWN_MODEL,
    VLLM_CONTEXT_OVERFLOW,
    says,
)

# ``error.code`` / ``error.type`` values that refine the status-based class.
_CODE_CLASSES: dict[str, type[ProviderStatusError]] = {
    "insufficient_quota": QuotaExceeded,  # a 429 that no retry will fix
    "unavailable_error": Overloaded,  # llama.cpp while it loads the model
    "context_length_exceeded": ContextOverflow,  # OpenAI
    "exceed_context_size_error": ContextOverflow,  # llama.cpp
    "model_not_found": ModelUnavailable,  # OpenAI: unknown, retired or deprecated model
}


def openai_compatible(budget_field: BudgetField = "auto") -> ChatProfile:
    """OpenAI's own wire, as OpenAI, DeepSeek, vLLM, llama.cpp and Ollama serve it."""
    return ChatProfile(classify=classify, budget_field=budget_field)


def classify(status: int, body: Any) -> UpstreamNo:
    """``{"error": {message, type, code}}`` (or old vLLM's flat body) and the HTTP status."""
    upstream = error_body(body)
    cls = (
        _CODE_CLASSES.get(upstream.code or "")
        or _CODE_CLASSES.get(upstream.type or "")
        or error_class_for_status(status)
    )
    if cls is BadRequest:
        cls = _refined(status, upstream.type, upstream.message)
    # vLLM's integer code just repeats the status; the type says more.
    code = upstream.type if (upstream.code or "0").isdigit() else upstream.code
    return UpstreamNo(cls, upstream.message, code)


def _refined(status: int, kind: str | None, message: str | None) -> type[ProviderStatusError]:
    """A plain 4xx made precise where a server says more only in its type or its own wording."""
    if status == 404 and (kind == "NotFoundError" or says(OLLAMA_UNKNOWN_MODEL, message)):
        return ModelUnavailable  # vLLM's 404 for a model it does not serve; Ollama's unpulled model
    if status == 400 and says(DEEPSEEK_UNKNOWN_MODEL, message):
        return ModelUnavailable
    if status == 400 and says(VLLM_CONTEXT_OVERFLOW, message):
        return ContextOverflow  # vLLM and DeepSeek send no code for it
    return BadRequest
