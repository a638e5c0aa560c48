"""The one seam between the service and the network: send a request, get status, headers and bytes.

Everything that talks HTTP to an upstream (the provider adapters, the local model's health probe)
does it through a ``Transport``; production passes aiohttp's (``app.upstream_http``), or httpx's
with ``HTTP_BACKEND=httpx``; tests pass a function (``tests.fakes.transport``). A transport reports a network
fault as one of httpx's ``TransportError`` classes, whichever library it uses: that is the
vocabulary the adapters translate into provider errors, once (``app.providers.http``).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, NamedTuple, Protocol, runtime_checkable

import orjson


@dataclass(frozen=True, slots=True)
class Timeout:
    """How long one request may take to connect, and to answer once connected (each read)."""

    read_s: float
    connect_s: float


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream's whole answer. ``headers`` look names up case-insensitively."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    @property
    def text(self) -> str:
        """The body as text, in the charset the upstream declared (UTF-8 if none or unknown)."""
        return self.content.decode(_charset(self.headers.get("content-type")), errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` when it is not JSON."""
        try:
            return orjson.loads(self.content)  # a fraction of json's CPU on every model answer
        except orjson.JSONDecodeError:
            # What orjson refuses and json accepts (NaN, a BOM, huge integers, lone surrogates,
            # UTF-16) still parses as it did through httpx's json.loads.
            return json.loads(self.content)


class Outgoing(NamedTuple):
    """One request as it leaves the service (a tuple: one is built on every model call)."""

    method: str
    url: str
    headers: Mapping[str, str]
    timeout: Timeout
    content: bytes = b""
    params: Mapping[str, str | int] | None = None
    """The query string, for the transport to encode."""

    def json(self) -> Any:
        return orjson.loads(self.content)


def json_post(url: str, headers: Mapping[str, str], body: Any, timeout: Timeout) -> Outgoing:
    """A POST of ``body`` as compact UTF-8 JSON: the bytes httpx's ``json=`` writes.

    orjson writes them at a fraction of json's CPU; prompts are several KB per call, and encoding
    them was 6% of the CPU under load."""
    return Outgoing("POST", url, {"Content-Type": "application/json", **headers}, timeout, orjson.dumps(body))


class Transport(Protocol):
    """Carries the service's requests to upstreams; faults raise ``httpx.TransportError``s."""

    async def send(self, request: Outgoing) -> Answer:
        """Send ``request``; the answer read whole."""
        ...

    async def aclose(self) -> None:
        """Close the connections it holds."""
        ...


OnData = Callable[[bytes], None]
"""Receives each piece of a body as it arrives."""


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    """A transport that can also hand a body over piece by piece while it arrives (streamed
    answers: progress while a model decodes)."""

    async def send_streamed(self, request: Outgoing, on_data: OnData) -> Answer:
        """Send ``request``; every piece of the body goes to ``on_data`` as it comes; the answer whole."""
        ...


def _charset(content_type: str | None) -> str:
    if content_type:
        message = Message()
        message["content-type"] = content_type
        charset = message.get_param("charset")
        if isinstance(charset, str):
            try:
                return codecs.lookup(charset).name
            except LookupError:
                pass
    return "utf-8"
