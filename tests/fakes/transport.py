"""A transport whose upstream is a function: it sees each outgoing request and answers or raises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from app.transport import Answer, Outgoing

Handler = Callable[[Outgoing], Answer]
"""Answers one request, or raises one of httpx's ``TransportError``s as a network fault would."""


def reply(
    status: int = 200,
    json: Any = None,
    *,
    text: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """An answer with a JSON body (``json``), a raw body (``text``) or none."""
    content = text.encode() if text is not None else b"" if json is None else orjson.dumps(json)
    return Answer(status, httpx.Headers(headers or {}), content)


@dataclass
class FunctionTransport:
    """The ``Transport`` tests inject: ``handler`` answers; every request is kept in ``sent``, its
    headers looked up case-insensitively, as a server reads them."""

    handler: Handler
    sent: list[Outgoing] = field(default_factory=list)

    async def send(self, request: Outgoing) -> Answer:
        request = request._replace(headers=httpx.Headers(dict(request.headers)))
        self.sent.append(request)
        return self.handler(request)

    async def aclose(self) -> None:
        return None

    @property
    def last(self) -> Outgoing:
        return self.sent[-1]


def answering(answer: Answer) -> FunctionTransport:
    """A transport that gives every request the same answer."""
    return FunctionTransport(lambda _: answer)


def failing(error: httpx.TransportError) -> FunctionTransport:
    """A transport on which every request meets the same network fault."""

    def handler(_: Outgoing) -> Answer:
        raise error

    return FunctionTransport(handler)


def at(url: str, answer: Answer, *, method: str = "POST") -> FunctionTransport:
    """A transport that gives ``answer`` to a request to ``url``; any other request fails the test."""

    def handler(request: Outgoing) -> Answer:
        assert (request.method, request.url) == (method, url), f"unexpected {request.method} {request.url}"
        return answer

    return FunctionTransport(handler)
