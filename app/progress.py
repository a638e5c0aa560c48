"""Progress events for a phase as it runs (streamed to ``Accept: text/event-stream`` callers).

A context variable carries the listener, so the pipeline, the fan-out and every task they start
report without a listener being passed through each signature; with no listener set (the plain
JSON endpoint) an event costs one lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]

_listener: ContextVar[Listener | None] = ContextVar("progress_listener", default=None)


def listen(listener: Listener | None) -> None:
    """Send this context's events (and its child tasks') to ``listener``."""
    _listener.set(listener)


def emit(event: str, **data: Any) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(event, data)


def listening() -> bool:
    """Whether anyone receives this context's events (worth streaming a model's answer for)."""
    return _listener.get() is not None


TOKENS_EVERY = 16
TOKENS_EVERY_S = 0.25


def token_progress(**data: Any) -> Callable[[int], None]:
    """A counter for one model's decoding that emits ``model_tokens`` (with ``data``) on its first
    token, then every ``TOKENS_EVERY`` tokens or ``TOKENS_EVERY_S`` seconds, whichever comes first:
    a live stream without an event per token."""
    began = time.monotonic()
    last_tokens, last_at = 0, 0.0

    def counted(tokens: int) -> None:
        nonlocal last_tokens, last_at
        now = time.monotonic()
        if last_tokens and tokens - last_tokens < TOKENS_EVERY and now - last_at < TOKENS_EVERY_S:
            return
        last_tokens, last_at = tokens, now
        elapsed = now - began
        emit(
            "model_tokens",
            **data,
            tokens=tokens,
            tokens_per_s=round(tokens / elapsed, 1) if elapsed else None,
        )

    return counted
