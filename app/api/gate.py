"""The door: caller keys, the body-size cap and the per-caller rate limit, before any route runs.

Pure ASGI, like the request-id middleware, so a rejected request costs no body read, no task and
no route. Every rejection uses the service's one error shape and names the setting involved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

from limits import RateLimitItem, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.allowance import Allowance
from app.api.docs import is_docs_path
from app.settings import Settings

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


RATE_LIMIT_OFF = frozenset({"", "off", "none", "0"})


def rate_limit(settings: Settings) -> RateLimitItem | None:
    """The per-caller limit, or ``None`` for RATE_LIMIT=off (an empty variable counts as unset)."""
    spec = settings.rate_limit.strip().lower()
    return None if spec in RATE_LIMIT_OFF else parse(spec)


def caller_keys(settings: Settings) -> list[bytes]:
    if settings.api_keys is None:
        return []
    return [k.strip().encode() for k in settings.api_keys.get_secret_value().split(",") if k.strip()]


class Gate:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.keys = caller_keys(settings)
        limit = rate_limit(settings)
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        # Shared by every replica when Redis is configured, else this process's own window.
        self.allowance = (
            None
            if limit is None
            else Allowance(limit, redis_url=redis_url, timeout_s=settings.redis_timeout_s)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = dict(scope.get("headers") or [])
        caller = self._caller(headers, scope)
        if self._needs_key(path) and caller is None:
            await _reject(
                scope, send, 401, "unauthorized",
                "a valid caller key is required",
                "send Authorization: Bearer <key> with one of the keys in API_KEYS",
                {"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
            return
        if self.allowance is not None and path not in OPEN_PATHS:
            # The client address is the peer's, or X-Forwarded-For's only when the peer is one of
            # FORWARDED_ALLOW_IPS (uvicorn rewrites it; app/__main__.py), so a header cannot mint
            # a fresh allowance.
            wait = await self.allowance.take(caller or _client(scope))
            if wait is not None:
                await _reject(
                    scope, send, 429, "rate_limited",
                    f"too many requests: the limit is {self.settings.rate_limit} per caller",
                    f"retry after {wait}s, or raise RATE_LIMIT",
                    {"Retry-After": str(wait)},
                )  # fmt: skip
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            await _too_large(scope, send, self.settings.max_body_bytes)
            return
        await self.app(scope, self._capped(receive, scope, send), send)

    def _closing_on_shutdown(self, send: Send) -> Send:
        """Closes the allowance's Redis connections as the app's lifespan ends."""

        async def closing(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown") and self.allowance is not None:
                await self.allowance.close()
            await send(message)

        return closing

    def _needs_key(self, path: str) -> bool:
        if not self.keys or path in OPEN_PATHS:
            return False
        if is_docs_path(path):
            return self.settings.docs_require_key
        if path == "/metrics":
            return self.settings.metrics_require_key
        return True

    def _caller(self, headers: dict[bytes, bytes], scope: Scope) -> str | None:
        """A stable, secret-free id of the caller's key, or ``None`` when it has none valid."""
        scheme, _, presented = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"bearer" or not presented:
            return None
        matched = [hmac.compare_digest(presented, key) for key in self.keys]  # every key, always
        if not any(matched):
            return None
        return "key:" + hashlib.sha256(presented).hexdigest()[:12]

    def _capped(self, receive: Receive, scope: Scope, send: Send) -> Receive:
        """Counts body bytes as they arrive, for bodies sent without a Content-Length."""
        limit, seen = self.settings.max_body_bytes, 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return capped


class BodyTooLarge(Exception):
    """Raised from ``receive``; the app's error handler turns it into the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than MAX_BODY_BYTES={limit}")
        self.limit = limit


def _client(scope: Scope) -> str:
    client: Sequence[object] | None = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await _reject(
        scope, send, 413, "body_too_large",
        f"the request body is larger than MAX_BODY_BYTES={limit}",
        "send less context (only the phases this one reads), or raise MAX_BODY_BYTES",
    )  # fmt: skip


async def _reject(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    hint: str,
    headers: dict[str, str] | None = None,
) -> None:
    request_id = (scope.get("state") or {}).get("request_id")
    body = json.dumps(
        {"error": {"code": code, "message": message, "hint": hint, "request_id": request_id,
                   "details": {}, "models": []}}
    ).encode()  # fmt: skip
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
