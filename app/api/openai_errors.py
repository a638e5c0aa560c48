"""Every error under /v1/ in OpenAI's shape, whoever raised it: the gate (401, 413, 429), a route,
a validation error or the run. Pure ASGI around the gate, so the service's handlers stay the one
place errors are made and this only re-words them."""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.openai_present import openai_error

OPENAI_PREFIX = "/v1/"


class OpenAIErrorShape:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(OPENAI_PREFIX):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def reshaping(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message  # held until the whole (small) error body is in
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _send_reshaped(send, start, b"".join(chunks))

        await self.app(scope, receive, reshaping)


async def _send_reshaped(send: Send, start: Message, raw: bytes) -> None:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        await send(start)
        await send({"type": "http.response.body", "body": raw})
        return
    status, shaped, extra = openai_error(start["status"], body)
    encoded = json.dumps(shaped, ensure_ascii=False).encode()
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    headers["content-length"] = str(len(encoded))
    headers["content-type"] = "application/json"
    for name, value in extra.items():
        headers[name] = value
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": encoded})
