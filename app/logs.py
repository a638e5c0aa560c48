"""structlog set-up: JSON lines (or a console renderer) with bound request context."""

from __future__ import annotations

import logging
import sys

import structlog

_configured: tuple[str, str] | None = None


class _CurrentStdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of the record, not at set-up: logging is
    configured once per process, and stdout may be swapped later (test capture, daemonizers)."""

    @property
    def stream(self) -> object:
        return sys.stdout

    @stream.setter
    def stream(self, _: object) -> None:
        pass


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the stdlib loggers (uvicorn's included) through one renderer.

    Idempotent: reconfiguring swaps global handlers under any thread that is logging, so an app
    built beside a running one (tests, a second app in one process) leaves them alone."""
    global _configured
    if _configured == (level, fmt):
        return
    _configured = (level, fmt)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    handler = _CurrentStdout()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; URLs carry no keys here, but the noise drowns events.
    logging.getLogger("httpx").setLevel(logging.WARNING)
