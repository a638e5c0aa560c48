"""The store's interface: two backends (SQLite file, Redis) behind the same operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
