"""``stream: true``: the run as chat.completion.chunk events, then ``data: [DONE]``.

Progress (phase_started, model_finished, …) goes out as chunks with empty ``choices`` and an
``orchestration_event`` field, which OpenAI clients skip as they skip a usage chunk. The stream
opens on the run's first progress event: what fails before it (no usable provider, a conflicting
Idempotency-Key, a replayed error) is a plain error response with its own status, so clients raise
their usual exception and retry as usual; a failure after it is a ``data: {"error": …}`` event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request, Response
from jsonschema import Draft202012Validator
from sse_starlette import EventSourceResponse

from app.api.disconnect import unless_disconnected
from app.api.errors import service_error_response
from app.api.openai_intake import check_output
from app.api.openai_present import chunk, completion_id, content, delta, openai_error, usage
from app.api.phase_answer import Answer
from app.api.remember import idempotency_key
from app.api.schemas import OrchestrateResponse
from app.api.stream import PING_S
from app.errors import OrchestratorError
from app.progress import listen
from app.store.replay import Finished

Event = tuple[str, dict[str, Any]] | None
"""A progress event, or ``None`` once the run has finished."""


class ChatStream:
    """One streamed chat completion: the run's task, its events, and how to word each one."""

    def __init__(
        self, request: Request, model: str, phase: str,
        validator: Draft202012Validator | None, usage_chunk: bool,
    ) -> None:  # fmt: skip
        self.request, self.model, self.phase = request, model, phase
        self.validator, self.usage_chunk = validator, usage_chunk
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.id = f"chatcmpl-{request.state.request_id}"  # a fresh run's answer has the same id

    def opening(self) -> dict[str, str]:
        return {"data": chunk(self.id, self.model, delta(role="assistant", content=""))}

    async def run(self, answer: Answer) -> tuple[Finished, dict[str, str]]:
        listen(lambda event, data: self.events.put_nowait((event, data)))  # this task and its children
        try:
            return await answer()
        finally:
            self.events.put_nowait(None)

    def progress(self, event: tuple[str, dict[str, Any]]) -> dict[str, str]:
        name, data = event
        return {"data": chunk(self.id, self.model, [], orchestration_event={"event": name, "data": data})}

    def finale(self, answer: OrchestrateResponse, raw: dict[str, Any]) -> list[dict[str, str]]:
        """The content, the stop chunk with the whole record, the usage chunk if asked, [DONE]."""
        self.id = completion_id(answer)
        events = [
            {"data": chunk(self.id, self.model, delta(content=content(answer)))},
            {"data": chunk(self.id, self.model, delta(finish_reason="stop"), orchestration=raw)},
        ]
        if self.usage_chunk:
            events.append({"data": chunk(self.id, self.model, [], usage=usage(answer))})
        return [*events, {"data": "[DONE]"}]

    def outcome(self, task: asyncio.Task[tuple[Finished, dict[str, str]]]) -> list[dict[str, str]]:
        """How the run ended, as the stream's last events (an error is one ``error`` event)."""
        try:
            finished, _ = task.result()
            status, body = finished.status, json.loads(finished.body)
            if status == 200:
                answer = OrchestrateResponse.model_validate(body)
                check_output(self.validator, answer.output, self.phase)
                return self.finale(answer, body)
        except OrchestratorError as exc:
            failed = service_error_response(self.request, exc)
            status, body = failed.status_code, json.loads(bytes(failed.body))
        _, shaped, _ = openai_error(status, body)
        return [{"data": json.dumps(shaped, ensure_ascii=False)}]


async def stream_chat(
    request: Request, answer: Answer, *, model: str, phase: str,
    validator: Draft202012Validator | None, usage_chunk: bool,
) -> Response:  # fmt: skip
    """The SSE response, or the plain response when the run ended before its first event."""
    chat = ChatStream(request, model, phase, validator, usage_chunk)
    task = asyncio.create_task(chat.run(answer))
    keyed = idempotency_key(request) is not None
    try:
        first = await unless_disconnected(request, chat.events.get(), keyed=keyed)
    except BaseException:
        task.cancel()
        raise
    if first is None:  # replayed, cached, or rejected before it started: nothing to narrate
        finished, headers = await task
        if finished.status != 200:
            return Response(finished.body, finished.status, headers=headers, media_type="application/json")
        body = json.loads(finished.body)
        check_output(validator, body["output"], phase)
        events = [chat.opening(), *chat.finale(OrchestrateResponse.model_validate(body), body)]
        return EventSourceResponse(_each(events))

    async def on_close(_: object) -> None:
        task.cancel()  # the client left: the run (or this caller's wait on it) stops at once

    return EventSourceResponse(
        _narrated(chat, first, task), ping=PING_S, client_close_handler_callable=on_close
    )


async def _narrated(
    chat: ChatStream, first: tuple[str, dict[str, Any]], task: asyncio.Task[tuple[Finished, dict[str, str]]]
) -> AsyncIterator[dict[str, str]]:
    try:
        yield chat.opening()
        yield chat.progress(first)
        while (event := await chat.events.get()) is not None:
            yield chat.progress(event)
        for last in chat.outcome(task):
            yield last
    finally:
        if not task.done():
            task.cancel()
            await asyncio.shield(asyncio.gather(task, return_exceptions=True))


async def _each(events: list[dict[str, str]]) -> AsyncIterator[dict[str, str]]:
    for event in events:
        yield event
