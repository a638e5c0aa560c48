"""Idempotency-Key and the response cache, in HTTP terms, around one orchestrate run.

- ``Idempotency-Key: <key>``: the run belongs to the service. The first request runs it; a
  caller hanging up does not cancel it; its 200 (degraded or not) is kept for IDEMPOTENCY_TTL_S
  and a repeat gets the same bytes back with ``Idempotent-Replayed: true`` and no model called.
  Concurrent requests with one key share one run. Errors are not kept: a retry after a 4xx/5xx
  runs again. The key reused with another body is a 409. Keys belong to the caller: with
  API_KEYS on, each API key has its own (stored under a hash of it); an open service has one.
- No key: every request runs, unless the caller asks for a cached answer. ``Cache-Control:
  max-age=N`` answers from an identical earlier request (phase, body, effective config) stored
  less than N seconds ago, with ``"cached": true``, or shares a concurrent identical run (which is
  cancelled when its last caller hangs up); CACHE_DEFAULT=on does the same for requests that send
  no directive (any entry within CACHE_TTL_S); ``no-cache`` always runs on its own. A run's
  undegraded 200 is stored for later callers who ask; degraded answers and failures never are.
- A caller waits on another caller's run (joined here, or a lock held by another replica) for at
  most its own deadline, then gets a 504 saying that run goes on; ``Waited-Ms`` says how long it
  waited. A run that starts after such a wait gets what is left of the deadline.
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
from app.errors import IdempotencyConflict, InvalidOptions, JoinedRunStillRunning
from app.settings import Settings
from app.store.replay import Finished, KeyConflict, Replayer, StillRunning

MAX_KEY_LENGTH = 255
OPEN_SCOPE = "open"
"""The one key scope of a service without API_KEYS: every caller is the same caller."""


@dataclass(frozen=True, slots=True)
class CacheAsk:
    """What the caller's Cache-Control (or CACHE_DEFAULT) allows for this request."""

    read: bool
    """May the answer come from the cache."""
    max_age_s: float | None = None
    """The oldest stored answer acceptable; ``None``: any that CACHE_TTL_S still keeps."""


class Run(Protocol):
    """One run of the phase; ``for_cache`` also renders the body a later cache hit sends."""

    def __call__(self, *, for_cache: bool = False, waited_s: float = 0.0) -> Awaitable[Finished]: ...


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


def caller_scope(request: Request, settings: Settings) -> str:
    """Whose keys these are: a hash of the caller's API key (the gate checked it), never the key."""
    queued = request.scope.get("state", {}).get("caller_scope")
    if queued is not None:  # a queued run's request, rebuilt by a worker: its owner, set server-side
        return str(queued)
    if settings.api_keys is None:
        return OPEN_SCOPE
    presented = request.headers.get("authorization", "").partition(" ")[2]
    return "key-" + hashlib.sha256(presented.strip().encode()).hexdigest()[:32]


def storage_key(scope: str, key: str) -> str:
    """Where a caller's Idempotency-Key lives in the store."""
    return f"idem:{scope}:{key}"


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, checked; ``None`` when absent."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidOptions(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            hint="use a UUID, or the workflow's step id",
            details={"field": "header.Idempotency-Key"},
        )
    return key


async def remembered(
    request: Request,
    services: Services,
    phase: str,
    body: OrchestrateRequest,
    run: Run,
) -> tuple[Finished, dict[str, str]]:
    """``run()``'s result, or an earlier one's; plus the headers that say which."""
    settings, replayer = services.settings, services.replayer
    deadline_s = body.options.deadline_s or services.catalog.get(phase).config.deadline_s
    request_print = fingerprint(phase, body)
    key = idempotency_key(request)
    if key is not None:
        storage = storage_key(caller_scope(request, settings), key)
        return await _keyed(replayer, settings, key, storage, request_print, run, deadline_s)

    if settings.cache_ttl_s <= 0:
        return await run(), {}
    # Scoped like the keys: a caller never gets another caller's answer (nor its request id).
    scope = caller_scope(request, settings)
    cache_key = hashlib.sha256(f"{scope}:{request_print}:{services.config_hash(phase)}".encode()).hexdigest()
    ask = cache_ask(request.headers.get("cache-control", ""), default=settings.cache_default)

    def cacheable(waited_s: float) -> Awaitable[Finished]:
        return run(for_cache=True, waited_s=waited_s)

    if not ask.read:
        # Not asked for: the phase runs on its own, sharing no one's run (a workflow re-running a
        # rejected phase must get a new answer); its result is kept for a later caller who asks.
        return await replayer.fresh(
            f"cache:{cache_key}", cache_key, cacheable, ttl_s=settings.cache_ttl_s
        ), {}
    try:
        finished = await replayer.run(
            f"cache:{cache_key}",
            cache_key,
            cacheable,
            ttl_s=settings.cache_ttl_s,
            wait_s=deadline_s,
            max_age_s=ask.max_age_s,
        )
    except StillRunning as still:
        raise _still_running(still, "retry, or send Cache-Control: no-cache to run it on its own") from None
    if finished.replayed and finished.status == 200:
        # The stored body already says "cached": true (Run's for_cache): sent as it is.
        age = max(0, round(time.time() - finished.created_at)) if finished.created_at else 0
        return finished, {"X-Cache": "hit", "Age": str(age), **_waited(finished)}
    return finished, {"X-Cache": "miss", **_waited(finished)}


async def _keyed(
    replayer: Replayer,
    settings: Settings,
    key: str,
    storage: str,
    request_print: str,
    run: Run,
    deadline_s: float,
) -> tuple[Finished, dict[str, str]]:
    """The keyed run: joined, replayed or run here; it goes on whoever hangs up."""
    try:
        finished = await replayer.run(
            storage,
            request_print,
            lambda waited_s: run(waited_s=waited_s),
            ttl_s=settings.idempotency_ttl_s,
            wait_s=deadline_s,
            keyed=True,
        )
    except KeyConflict:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was first used with a different request",
            hint="send the original body again to get its result, or use a new key for this one",
            details={"header": "Idempotency-Key"},
        ) from None
    except StillRunning as still:
        raise _still_running(still, "send the same Idempotency-Key again later to get its result") from None
    replayed = "true" if finished.replayed else "false"
    return finished, {"Idempotent-Replayed": replayed, **_waited(finished)}


def _waited(finished: Finished) -> dict[str, str]:
    return {"Waited-Ms": str(round(finished.waited_s * 1000))}


def _still_running(still: StillRunning, hint: str) -> JoinedRunStillRunning:
    return JoinedRunStillRunning(
        f"waited {still.waited_s:.1f}s, this request's whole deadline, on an identical run that is "
        "still going",
        hint=hint,
        details={"waited_ms": round(still.waited_s * 1000)},
    )
