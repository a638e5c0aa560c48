"""Progress events for a phase as it runs (streamed to ``Accept: text/event-stream`` callers).

A context variable carries the listener, so the pipeline, the fan-out and every task they start
report without a listener being passed through each signature; with no listener set (the plain
JSON endpoint) an event costs one lookup.
"""

from __future__ import annotations

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
