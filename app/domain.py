"""The vocabulary shared by every layer: prompts, completions, usage and per-model outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "other"]
FailureStatus = Literal["error", "timeout", "skipped", "late", "cancelled"]
"""late: still running when the quorum's grace ended; cancelled: lost a hedged race."""
Role = Literal[
    "parallel", "synthesizer", "repair", "single", "fallback", "wild_ideas", "ranker", "router", "refiner"
]


@dataclass(frozen=True, slots=True)
class Prompt:
    """A system and a user message: every phase call has exactly this shape."""

    system: str
    user: str


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who is asking and why: the phase, the call's role and the model alias it was made for.

    Adapters ignore it (nothing of it goes on the wire); it is there for the logs and for fake
    providers, which answer by role and phase instead of reading the prompt's wording.
    """

    phase: str
    role: Role
    alias: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What a provider adapter needs to make one call; vendor-neutral."""

    model: str
    """The provider's own model id, e.g. ``@cf/meta/llama-4-scout-17b-16e-instruct``."""
    prompt: Prompt
    max_tokens: int
    timeout_s: float
    """Read timeout for this call; the caller also bounds it by wall clock."""
    temperature: float | None = None
    """``None`` means: do not send one (some models reject sampling parameters)."""
    json_schema: dict[str, Any] | None = None
    """Ask for schema-constrained output where the model supports it."""
    seed: int | None = None
    overflow: str | None = None
    """Why the prompt cannot fit the model's context window even trimmed (the estimate, the window
    and ``max_tokens``): the fan-out records the call as skipped, kind ``context_overflow``, and
    never sends it."""
    call: CallInfo | None = None
    """Set by the fan-out for every call it makes (``None`` only for requests built by hand)."""
    on_tokens: Callable[[int], None] | None = None
    """Someone watches this call's progress: told the count of tokens decoded so far, as they
    come, by an adapter that can stream (the local llama.cpp server); others ignore it."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call; ``estimated`` when the provider reported none."""

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's answer, normalised: reasoning already separated from the text."""

    text: str
    usage: Usage
    finish_reason: FinishReason = "stop"
    reasoning: str | None = None
    """Chain-of-thought the model emitted; kept out of synthesis and JSON extraction."""
    upstream_request_id: str | None = None
    reasoning_unfinished: bool = False
    """The model was still reasoning when it stopped (a ``<think>`` never closed, or reasoning
    beside no content): ``text`` is not its answer."""

    @property
    def truncated(self) -> bool:
        """The answer stopped at its token limit (``finish_reason`` length / ``max_tokens``)."""
        return self.finish_reason == "length"


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A configured model: the alias phases use, its provider and the provider's model id."""

    alias: str
    provider: str
    model_id: str


@dataclass(frozen=True, slots=True)
class Success:
    """One model call that returned an answer."""

    model: ModelRef
    role: Role
    completion: Completion
    latency_ms: float
    cost_usd: float = 0.0
    status: Literal["ok"] = "ok"
    output_errors: tuple[str, ...] = ()
    attempts: int = 1
    """Why the answer's JSON was rejected against the phase schema (empty when it validated)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One model call that did not return a usable answer, and why."""

    model: ModelRef
    role: Role
    status: FailureStatus
    error: str
    latency_ms: float = 0.0
    error_kind: str = "error"
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    attempts: int = 0
    """Upstream attempts made (0: never called, e.g. skipped or an open circuit)."""


Outcome = Success | Failure

SKIPS_THAT_DEGRADE = frozenset({"circuit_open", "context_overflow"})
"""Skipped calls of a configured model that a caller must hear about: an open circuit (a failing or
retired model) and a prompt no trimming could fit. Unconfigured providers and budget drops are
choices, not faults."""
