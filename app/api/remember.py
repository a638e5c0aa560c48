"""Idempotency-Key and the response cache, in HTTP terms, around one orchestrate run.

- ``Idempotency-Key: <key>``: the first request runs, its 200 is kept for IDEMPOTENCY_TTL_S; a
  repeat gets the same body back with ``Idempotent-Replayed: true`` and no model is called. The
  key reused with another body is a 409. Concurrent requests with one key share one run.
- No key: identical requests (phase, body, effective config) within CACHE_TTL_S are answered from
  the cache with ``"cached": true``; ``Cache-Control: no-cache`` forces a fresh run. Only
  undegraded 200s are cached; failures never are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable

from fastapi import Request

from app.api.deps import Services
from app.api.schemas import OrchestrateRequest
from app.errors import IdempotencyConflict, InvalidOptions
from app.store.replay import Finished, KeyConflict

MAX_KEY_LENGTH = 255
WAIT_MARGIN_S = 10.0
"""How much longer than the phase deadline a replica waits for another's run of the same key."""


def fingerprint(phase: str, body: OrchestrateRequest) -> str:
    """The request's identity: phase and body, independent of key order and whitespace."""
    canonical = json.dumps([phase, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def remembered(
    request: Request,
    services: Services,
    phase: str,
    body: OrchestrateRequest,
    run: Callable[[], Awaitable[Finished]],
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
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    finished = await replayer.run(
        f"cache:{cache_key}", cache_key, run, ttl_s=settings.cache_ttl_s, wait_s=wait_s, read=not fresh
    )
    if finished.replayed and finished.status == 200:
        answer = json.loads(finished.body)
        answer["cached"] = True
        return Finished(200, json.dumps(answer).encode(), replayed=True), {"X-Cache": "hit"}
    return finished, {"X-Cache": "miss"}
