"""Idempotency-Key and the response cache, in HTTP terms, around one orchestrate run.

- ``Idempotency-Key: <key>``: the first request runs, its 200 is kept for IDEMPOTENCY_TTL_S; a
  repeat gets the same body back with ``Idempotent-Replayed: true`` and no model is called. The
  key reused with another body is a 409. Concurrent requests with one key share one run.
- No key: every request runs, unless the caller asks for a cached answer. ``Cache-Control:
  max-age=N`` answers from an identical earlier request (phase, body, effective config) stored
  less than N seconds ago, with ``"cached": true``; CACHE_DEFAULT=on does the same for requests
  that send no directive (any entry within CACHE_TTL_S); ``no-cache`` always runs. A run's
  undegraded 200 is stored for later callers who ask; degraded answers and failures never are.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from app.api.deps import Services
from app.api.schemas import OrchestrateRequest
from app.errors import IdempotencyConflict, InvalidOptions
from app.store.replay import Finished, KeyConflict

MAX_KEY_LENGTH = 255
WAIT_MARGIN_S = 10.0
"""How much longer than the phase deadline a replica waits for another's run of the same key."""


@dataclass(frozen=True, slots=True)
class CacheAsk:
    """What the caller's Cache-Control (or CACHE_DEFAULT) allows for this request."""

    read: bool
    """May the answer come from the cache."""
    max_age_s: float | None = None
    """The oldest stored answer acceptable; ``None``: any that CACHE_TTL_S still keeps."""


class Run(Protocol):
    """One run of the phase; ``for_cache`` also renders the body a later cache hit sends."""

    def __call__(self, *, for_cache: bool = False) -> Awaitable[Finished]: ...


def cache_ask(header: str, *, default: bool) -> CacheAsk:
    """Read ``Cache-Control``: no-cache wins, then max-age=N; without either, ``default``."""
    directives = [d.strip().lower() for d in header.split(",") if d.strip()]
    if "no-cache" in directives:
        return CacheAsk(read=False)
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            seconds = value.strip().strip('"')
            if not seconds.isdigit():
                raise InvalidOptions(
                    f"Cache-Control max-age must be a whole number of seconds, not {seconds!r}",
                    hint="send Cache-Control: max-age=600 to accept an answer up to 10 minutes old",
                    details={"field": "header.Cache-Control"},
                )
            return CacheAsk(read=True, max_age_s=float(seconds))
    return CacheAsk(read=default)


def fingerprint(phase: str, body: OrchestrateRequest) -> str:
    """The request's identity: phase and body, independent of key order and whitespace."""
    canonical = json.dumps([phase, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def remembered(
    request: Request,
    services: Services,
    phase: str,
    body: OrchestrateRequest,
    run: Run,
) -> tuple[Finished, dict[str, str]]:
    """``run()``'s result, or an earlier one's; plus the headers that say which."""
    settings, replayer = services.settings, services.replayer
    config = services.catalog.get(phase).config
    wait_s = (body.options.deadline_s or config.deadline_s) + WAIT_MARGIN_S
    request_print = fingerprint(phase, body)
    key = request.headers.get("idempotency-key")
    if key is not None:
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidOptions(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                hint="use a UUID, or the workflow's step id",
                details={"field": "header.Idempotency-Key"},
            )
        try:
            finished = await replayer.run(
                f"idem:{key}", request_print, run, ttl_s=settings.idempotency_ttl_s, wait_s=wait_s
            )
        except KeyConflict:
            raise IdempotencyConflict(
                f"Idempotency-Key {key!r} was first used with a different request",
                hint="send the original body again to get its result, or use a new key for this one",
                details={"header": "Idempotency-Key"},
            ) from None
        return finished, {"Idempotent-Replayed": "true" if finished.replayed else "false"}

    if settings.cache_ttl_s <= 0:
        return await run(), {}
    cache_key = hashlib.sha256(f"{request_print}:{services.config_hash(phase)}".encode()).hexdigest()
    ask = cache_ask(request.headers.get("cache-control", ""), default=settings.cache_default)

    def cacheable() -> Awaitable[Finished]:
        return run(for_cache=True)

    if not ask.read:
        # Not asked for: the phase runs (a workflow re-running a rejected phase must get a new
        # answer), and its result is kept for a later caller who does ask.
        return await replayer.fresh(
            f"cache:{cache_key}", cache_key, cacheable, ttl_s=settings.cache_ttl_s
        ), {}
    finished = await replayer.run(
        f"cache:{cache_key}",
        cache_key,
        cacheable,
        ttl_s=settings.cache_ttl_s,
        wait_s=wait_s,
        max_age_s=ask.max_age_s,
    )
    if finished.replayed and finished.status == 200:
        # The stored body already says "cached": true (Run's for_cache): sent as it is.
        age = max(0, round(time.time() - finished.created_at)) if finished.created_at else 0
        return finished, {"X-Cache": "hit", "Age": str(age)}
    return finished, {"X-Cache": "miss"}
