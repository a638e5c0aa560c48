"""A provider double that behaves like a real one: scripted replies or a function, calls recorded.

Used by the pipeline, fan-out and API tests (and by anyone trying the service without keys), so
they exercise the real code paths instead of patching them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from app.domain import Completion, CompletionRequest, Usage


@dataclass(frozen=True, slots=True)
class Delayed:
    """Wait ``seconds`` (cancellably), then behave as ``then``."""

    seconds: float
    then: Reply


Reply = str | Completion | BaseException | Delayed
Responder = Callable[[CompletionRequest], "Reply | Awaitable[Reply]"]


class FakeProvider:
    """Answers from a per-model queue, then from ``responder``; records every request."""

    def __init__(
        self,
        name: str = "fake",
        *,
        responder: Responder | None = None,
        script: Mapping[str, Sequence[Reply]] | None = None,
        available: bool = True,
        default_model: str | None = None,
        missing_settings: tuple[str, ...] = ("FAKE_API_KEY",),
    ) -> None:
        self.name = name
        self._responder = responder
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        for model, replies in (script or {}).items():
            self._queues[model].extend(replies)
        self._available = available
        self._default_model = default_model
        self._missing = missing_settings
        self.calls: list[CompletionRequest] = []

    @property
    def available(self) -> bool:
        return self._available

    @property
    def missing_settings(self) -> tuple[str, ...]:
        return () if self._available else self._missing

    @property
    def default_model(self) -> str | None:
        return self._default_model

    def script(self, model: str, *replies: Reply) -> None:
        """Queue replies for ``model`` (the provider's model id)."""
        self._queues[model].extend(replies)

    def calls_for(self, model: str) -> list[CompletionRequest]:
        return [c for c in self.calls if c.model == model]

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls.append(request)
        queue = self._queues.get(request.model)
        if queue:
            reply: Reply = queue.popleft()
        elif self._responder is not None:
            produced = self._responder(request)
            reply = await produced if inspect.isawaitable(produced) else produced
        else:
            raise AssertionError(f"FakeProvider {self.name!r} has no reply for {request.model!r}")
        return await _play(reply)


async def _play(reply: Reply) -> Completion:
    while isinstance(reply, Delayed):
        await asyncio.sleep(reply.seconds)
        reply = reply.then
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, Completion):
        return reply
    return Completion(text=reply, usage=Usage(len(reply) // 4 + 1, len(reply) // 4 + 1))
