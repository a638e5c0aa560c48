"""Is the local model server up? Asked by /readyz and before every local-roster phase.

llama.cpp's server answers ``GET /health`` with 200 once the model is loaded and 503 while it is
still loading, so one short request tells "down", "loading" and "ready" apart without waiting
on a model call that would hang until its timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from app.transport import Outgoing, Timeout, Transport

ServerState = Literal["ready", "loading", "down"]
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class LocalHealth:
    """The server's state, the URL asked and, unless ready, why not."""

    state: ServerState
    url: str
    detail: str | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def health_url(api_url: str) -> str:
    """``http://host:port/v1`` -> ``http://host:port/health`` (llama.cpp serves it at the root)."""
    root = api_url.rstrip("/")
    return f"{root.removesuffix('/v1')}/health"


async def probe(client: Transport, api_url: str) -> LocalHealth:
    url = health_url(api_url)
    try:
        response = await client.send(Outgoing("GET", url, {}, Timeout(PROBE_TIMEOUT_S, PROBE_TIMEOUT_S)))
    except httpx.TimeoutException:
        return LocalHealth("down", url, f"no answer within {PROBE_TIMEOUT_S:g}s")
    except httpx.HTTPError as exc:
        return LocalHealth("down", url, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if response.status_code == 200:
        return LocalHealth("ready", url)
    if response.status_code == 503:
        return LocalHealth("loading", url, "the server is still loading the model")
    return LocalHealth("down", url, f"HTTP {response.status_code} from the health endpoint")
