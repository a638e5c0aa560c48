"""A transport whose upstream is a function: it sees each outgoing request and answers or raises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from app.transport import JSON_HEADERS, Answer, Timeout, encode_json


@dataclass(frozen=True, slots=True)
class Sent:
    """One request as it left the adapter."""

    method: str
    url: str
    headers: Mapping[str, str]
    """Case-insensitive, as a server reads them."""
    params: Mapping[str, str | int]
    content: bytes
    timeout: Timeout

    def json(self) -> Any:
        return orjson.loads(self.content)


Handler = Callable[[Sent], Answer]
"""Answers one request, or raises one of httpx's ``TransportError``s as a network fault would."""


def reply(
    status: int = 200,
    json: Any = None,
    *,
    text: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """An answer with a JSON body (``json``), a raw body (``text``) or none."""
    content = text.encode() if text is not None else b"" if json is None else encode_json(json)
    return Answer(status, httpx.Headers(headers or {}), content)


@dataclass
class FunctionTransport:
    """The ``Transport`` tests inject: ``handler`` answers; every request is kept in ``sent``."""

    handler: Handler
    sent: list[Sent] = field(default_factory=list)

    async def post_json(self, url: str, *, headers: Mapping[str, str], body: Any, timeout: Timeout) -> Answer:
        return self._answer(
            Sent("POST", url, httpx.Headers({**JSON_HEADERS, **headers}), {}, encode_json(body), timeout)
        )

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        timeout: Timeout,
    ) -> Answer:
        return self._answer(Sent("GET", url, httpx.Headers(headers or {}), dict(params or {}), b"", timeout))

    async def aclose(self) -> None:
        return None

    @property
    def last(self) -> Sent:
        return self.sent[-1]

    def _answer(self, request: Sent) -> Answer:
        self.sent.append(request)
        return self.handler(request)


def answering(answer: Answer) -> FunctionTransport:
    """A transport that gives every request the same answer."""
    return FunctionTransport(lambda _: answer)


def failing(error: httpx.TransportError) -> FunctionTransport:
    """A transport on which every request meets the same network fault."""

    def handler(_: Sent) -> Answer:
        raise error

    return FunctionTransport(handler)


def at(url: str, answer: Answer, *, method: str = "POST") -> FunctionTransport:
    """A transport that gives ``answer`` to a request to ``url``; any other request fails the test."""

    def handler(request: Sent) -> Answer:
        assert (request.method, request.url) == (method, url), f"unexpected {request.method} {request.url}"
        return answer

    return FunctionTransport(handler)
