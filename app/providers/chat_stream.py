"""OpenAI's streamed chat completion (``chat.completion.chunk`` server-sent events): counted as it
arrives, then put back together into the body a non-streamed call returns.

Streaming changes only how the bytes arrive: the assembled body goes through the same
``parse_chat_completion`` as a plain answer, so usage, ``finish_reason`` (a cut-off answer's
``length``) and llama.cpp's ``timings`` are read exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

DONE = b"[DONE]"


class ChunkReader:
    """Splits arriving bytes into events and tells ``on_tokens`` how many tokens came so far
    (llama.cpp sends one token per chunk)."""

    def __init__(self, on_tokens: Callable[[int], None]) -> None:
        self.tokens = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._on_tokens = on_tokens
        self._rest = b""

    def feed(self, piece: bytes) -> None:
        *lines, self._rest = (self._rest + piece).split(b"\n")
        for chunk in _chunks(lines):
            if _delta_text(chunk):
                self.tokens += 1
                self.last_at = time.monotonic()
                self.first_at = self.first_at or self.last_at
                self._on_tokens(self.tokens)

    @property
    def decode_s(self) -> float:
        """Seconds between the first and the last token seen."""
        return (self.last_at - self.first_at) if self.first_at and self.last_at else 0.0


def assembled(content: bytes) -> Any:
    """The whole answer as one ``chat.completion`` body. A server that answered with plain JSON
    (it ignored ``stream``) is read as it is; an in-stream error object is returned as the body."""
    if content.lstrip()[:1] == b"{":
        return orjson.loads(content)
    text: list[str] = []
    reasoning: list[str] = []
    body: dict[str, Any] = {}
    finish: str | None = None
    for chunk in _chunks(content.split(b"\n")):
        if "error" in chunk:
            return chunk
        for key in ("id", "usage", "timings", "model"):
            if chunk.get(key) is not None:
                body[key] = chunk[key]
        choice = _choice(chunk)
        delta = choice.get("delta") if choice else None
        if isinstance(delta, Mapping):
            text.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
        if choice and isinstance(choice.get("finish_reason"), str):
            finish = choice["finish_reason"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if "".join(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    return {**body, "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def _chunks(lines: list[bytes]) -> Iterator[Mapping[str, Any]]:
    for line in lines:
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if not data or data == DONE:
            continue
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(chunk, Mapping):
            yield chunk


def _choice(chunk: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, Mapping) else None


def _delta_text(chunk: Mapping[str, Any]) -> bool:
    choice = _choice(chunk)
    delta = choice.get("delta") if choice else None
    return isinstance(delta, Mapping) and bool(delta.get("content") or delta.get("reasoning_content"))
