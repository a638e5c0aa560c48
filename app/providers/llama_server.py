"""Is a llama.cpp server that did not answer in time still alive and working? Its ``/health`` and
``/slots`` say, in two short local requests.

llama.cpp serves both at the root (beside ``/v1``): ``/health`` is 200 once the model is loaded and
``/slots`` lists each slot with ``is_processing`` (the bundled xllamacpp build shows id, n_ctx and
is_processing; a server started with ``--no-slots`` answers 501, which leaves "alive" alone).
"""

from __future__ import annotations

from typing import Any

import httpx

from app.transport import Answer, Outgoing, Timeout, Transport

PEEK_S = 1.0
"""A local server that cannot answer /health this fast is not one to wait on."""


def root_of(api_url: str) -> str:
    """``http://host:port/v1`` -> ``http://host:port``."""
    return api_url.rstrip("/").removesuffix("/v1")


async def decoding(transport: Transport, api_url: str) -> str | None:
    """Why the server is alive and decoding ("/health ok, 3 of 4 slots decoding"), or ``None``
    when it is down, loading, or alive with every slot idle."""
    root = root_of(api_url)
    health = await _peek(transport, f"{root}/health")
    if health is None or health.status_code != 200:
        return None
    slots = await _peek(transport, f"{root}/slots")
    states = _slot_states(slots)
    if states is None:
        return "its /health is ok (slot states not exposed)"
    busy = sum(states)
    if not busy:
        return None
    return f"its /health is ok and {busy} of {len(states)} slots are decoding"


async def _peek(transport: Transport, url: str) -> Answer | None:
    try:
        return await transport.send(Outgoing("GET", url, {}, Timeout(PEEK_S, PEEK_S)))
    except httpx.HTTPError:
        return None


def _slot_states(answer: Answer | None) -> list[bool] | None:
    if answer is None or answer.status_code != 200:
        return None
    try:
        body: Any = answer.json()
    except ValueError:
        return None
    if not isinstance(body, list):
        return None
    return [bool(slot.get("is_processing")) for slot in body if isinstance(slot, dict)]
