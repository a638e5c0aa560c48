"""Building one model's request: its declared capabilities honoured, the prompt fitted to its window."""

from __future__ import annotations

from app.domain import CompletionRequest, Prompt
from app.prompts import TaskPrompt, fit_prompt
from app.roster import Member


def request_for(
    member: Member,
    prompt: Prompt | TaskPrompt,
    *,
    temperature: float,
    max_tokens: int,
    timeout_s: float,
    schema: dict[str, object] | None,
) -> CompletionRequest:
    """A request that honours the model's declared capabilities and fits its context window
    (``overflow`` set when even the trimmed prompt cannot fit: the call is then skipped)."""
    perspective = perspective_section(member.spec.perspective)
    fitted = fit_prompt(prompt, window=member.spec.context_window, max_tokens=max_tokens, closing=perspective)
    return CompletionRequest(
        model=member.ref.model_id,
        prompt=fitted.prompt,
        overflow=fitted.overflow,
        seed=member.spec.seed,
        max_tokens=max_tokens,
        timeout_s=timeout_s,
        temperature=temperature if member.spec.accepts_temperature else None,
        json_schema=schema if member.spec.structured_output else None,
    )


def perspective_section(perspective: str | None) -> str:
    """A member's point of view, the last section of its prompt (empty without one): what comes
    before it is the same for every member, so a server caching prompt prefixes reads it once."""
    return f"## Your perspective\n{perspective}" if perspective else ""
