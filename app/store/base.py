"""The store's interface: two backends (SQLite file, Redis) behind the same operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

log = structlog.get_logger("store")


class StoreUnavailable(Exception):
    """The backend cannot be reached or failed; the service carries on without it."""


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A finished response: what to send again, and what request produced it."""

    fingerprint: str
    """Hash of the phase and request body; a key reused with another body is a conflict."""
    status: int
    body: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """How much the store may hold: in all, and in one entry (STORE_MAX_BYTES, STORE_MAX_ENTRY_BYTES)."""

    max_bytes: int = 256 * 2**20
    max_entry_bytes: int = 2**20


@dataclass(frozen=True, slots=True)
class StoreSize:
    """What the store holds now, for /metrics."""

    entries: int = 0
    bytes: int = 0


def entry_bytes(key: str, result: StoredResult) -> int:
    """What one entry counts against the caps: its key, fingerprint and body."""
    return len(key.encode()) + len(result.fingerprint.encode()) + len(result.body)


def fits(key: str, result: StoredResult, limits: StoreLimits, backend: str) -> bool:
    """Whether one entry may be stored; a larger one is skipped (its caller still gets the answer)."""
    size = entry_bytes(key, result)
    if size <= limits.max_entry_bytes:
        return True
    log.warning(
        "store_entry_too_large",
        backend=backend,
        entry_bytes=size,
        setting="STORE_MAX_ENTRY_BYTES",
        limit=limits.max_entry_bytes,
        hint="the answer was sent but not kept: no replay or cache hit for it",
    )
    return False


class ResultStore(Protocol):
    backend: str
    """``sqlite`` or ``redis``, for /readyz and logs."""

    async def get(self, key: str) -> StoredResult | None: ...

    async def put(self, key: str, result: StoredResult, ttl_s: float) -> None: ...

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        """A token when this caller now holds ``key``'s lock, ``None`` when someone else does."""
        ...

    async def unlock(self, key: str, token: str) -> None:
        """Release the lock if ``token`` still holds it (an expired lock may belong to another)."""
        ...

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        """Renew the lock's lease to ``ttl_s`` from now if ``token`` still holds it; else ``False``."""
        ...

    async def locked(self, key: str) -> bool: ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the backend answers."""
        ...

    async def close(self) -> None: ...


class SizedStore(ResultStore, Protocol):
    """A store that says how much it holds (kept current by its writes, read at scrape time)."""

    def size(self) -> StoreSize:
        """The last known size: no query, so /metrics costs the store nothing."""
        ...
