"""The embedded backend: one SQLite file, so results survive a restart with no server to run.

sqlite3 is blocking, so each operation runs in a worker thread; WAL mode lets several processes
on one machine share the file, and the lock table (a row with a lease) works across them too.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from app.store.base import StoredResult, StoreUnavailable

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body BLOB NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL);
"""


class SQLiteStore:
    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._mutex:
                return work(self._connection())

        try:
            return await asyncio.to_thread(locked)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"sqlite store at {self.path}: {exc}") from exc

    async def get(self, key: str) -> StoredResult | None:
        def read(db: sqlite3.Connection) -> StoredResult | None:
            row = db.execute(
                "SELECT fingerprint, status, body, created_at FROM results WHERE key = ? AND expires_at > ?",
                (key, time.time()),
            ).fetchone()
            return None if row is None else StoredResult(row[0], row[1], bytes(row[2]), row[3])

        return await self._run(read)

    async def put(self, key: str, result: StoredResult, ttl_s: float) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)",
                (key, result.fingerprint, result.status, result.body, result.created_at, time.time() + ttl_s),
            )
            db.execute("DELETE FROM results WHERE expires_at <= ?", (time.time(),))

        await self._run(write)

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)

        def acquire(db: sqlite3.Connection) -> str | None:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")  # one writer decides, across processes too
            try:
                db.execute("DELETE FROM locks WHERE key = ? AND expires_at <= ?", (key, now))
                taken = db.execute("INSERT OR IGNORE INTO locks VALUES (?, ?, ?)", (key, token, now + ttl_s))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return token if taken.rowcount == 1 else None

        return await self._run(acquire)

    async def unlock(self, key: str, token: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM locks WHERE key = ? AND token = ?", (key, token)))

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        def renew(db: sqlite3.Connection) -> bool:
            renewed = db.execute(
                "UPDATE locks SET expires_at = ? WHERE key = ? AND token = ?",
                (time.time() + ttl_s, key, token),
            )
            return renewed.rowcount == 1

        return await self._run(renew)

    async def locked(self, key: str) -> bool:
        def check(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT 1 FROM locks WHERE key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
            return row is not None

        return await self._run(check)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def shut() -> None:
            with self._mutex:
                if self._db is not None:
                    self._db.close()
                    self._db = None

        await asyncio.to_thread(shut)
