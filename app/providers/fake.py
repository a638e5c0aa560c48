"""A provider double that behaves like a real one: scripted replies or a function, calls recorded.

Used by the pipeline, fan-out and API tests (and by anyone trying the service without keys), so
they exercise the real code paths instead of patching them. Like pydantic-ai's ``FunctionModel`` it
sees the call's context: every request the fan-out sends carries a ``CallInfo`` (phase, role,
alias), so scripts and responders answer by role or phase, never by reading the prompt's wording.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from app.domain import CallInfo, Completion, CompletionRequest, Role, Usage


@dataclass(frozen=True, slots=True)
class Delayed:
    """Wait ``seconds`` (cancellably), then behave as ``then``."""

    seconds: float
    then: Reply


Reply = str | Completion | BaseException | Delayed
Responder = Callable[[CompletionRequest], "Reply | Awaitable[Reply]"]


def info(request: CompletionRequest) -> CallInfo:
    """The call's phase, role and alias, as the fan-out stamped them on ``request``."""
    if request.call is None:
        raise AssertionError(
            f"request for {request.model!r} carries no CallInfo: it was not sent by the fan-out"
        )
    return request.call


class FakeProvider:
    """Answers from a per-model (or per-model-and-role) queue, then from ``responder``; records every
    request."""

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
        self._queues: dict[tuple[str, Role | None], deque[Reply]] = defaultdict(deque)
        for model, replies in (script or {}).items():
            self._queues[model, None].extend(replies)
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

    def script(self, model: str, *replies: Reply, role: Role | None = None) -> None:
        """Queue replies for ``model`` (the provider's model id), for its calls in ``role`` only when
        given (a role's queue answers before the model's own)."""
        self._queues[model, role].extend(replies)

    def calls_for(self, model: str | None = None, *, role: Role | None = None) -> list[CompletionRequest]:
        """The recorded requests for ``model`` and/or in ``role`` (either left out: any)."""
        return [
            c
            for c in self.calls
            if (model is None or c.model == model) and (role is None or _role(c) == role)
        ]

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls.append(request)
        role = _role(request)
        queue = self._queues.get((request.model, role)) or self._queues.get((request.model, None))
        if queue:
            reply: Reply = queue.popleft()
        elif self._responder is not None:
            produced = self._responder(request)
            reply = await produced if inspect.isawaitable(produced) else produced
        else:
            raise AssertionError(f"FakeProvider {self.name!r} has no reply for {request.model!r}")
        return await _play(reply)


def _role(request: CompletionRequest) -> Role | None:
    return request.call.role if request.call is not None else None


async def _play(reply: Reply) -> Completion:
    while isinstance(reply, Delayed):
        await asyncio.sleep(reply.seconds)
        reply = reply.then
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, Completion):
        return reply
    return Completion(text=reply, usage=Usage(len(reply) // 4 + 1, len(reply) // 4 + 1))
