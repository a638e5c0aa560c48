"""The embedded backend: one SQLite file, so results survive a restart with no server to run.

sqlite3 is blocking, so every operation runs on one thread of the store's own: one connection,
no lock to take, and the event loop never waits on the disk. WAL mode lets several processes on
one machine share the file, and the lock table (a row with a lease) works across them too.
``synchronous=NORMAL`` (safe in WAL mode: a power cut can lose the last commits, never corrupt the
file) spares an fsync per write; a result lost that way is recomputed, never wrong.

The file is bounded: a write that takes the store over ``STORE_MAX_BYTES`` evicts expired entries
first, then the oldest, in bounded batches; expired rows are also swept every so many writes or
seconds, never with a scan (see ``app/store/sqlite_schema.py``).
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app.store import sqlite_schema as schema
from app.store.base import StoredResult, StoreLimits, StoreSize, StoreUnavailable, fits

T = TypeVar("T")
WAL_LIMIT_BYTES = 16 * 2**20
"""The write-ahead log is cut back to this after a checkpoint, so it cannot keep a burst's size."""


@dataclass(frozen=True, slots=True)
class Upkeep:
    """How often expired rows are swept and how many rows one statement may touch."""

    every_writes: int = 256
    every_s: float = 30.0
    batch: int = 256
    rounds: int = 8
    """Batches one write may evict to get back under the cap."""


class _Worker:
    """The store's thread and the one connection only that thread uses (opened on first use)."""

    def __init__(self, opener: Callable[[], sqlite3.Connection]) -> None:
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._opener = opener
        self._db: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._opener()
        return self._db

    def shut(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class SQLiteStore:
    backend = "sqlite"

    def __init__(
        self, path: Path, *, limits: StoreLimits | None = None, upkeep: Upkeep | None = None
    ) -> None:
        self.path = path
        self.limits = limits or StoreLimits()
        self.upkeep = upkeep or Upkeep()
        self._worker: _Worker | None = None
        self._size = StoreSize()
        self._writes = 0
        self._swept_at = time.monotonic()

    def size(self) -> StoreSize:
        return self._size

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        schema.migrate(db)
        self._size = schema.totals(db)
        return db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._worker is None:  # one thread: statements run in order, on the one connection
            self._worker = _Worker(self._open)
        worker = self._worker
        try:
            return await asyncio.get_running_loop().run_in_executor(worker.thread, lambda: work(worker.db()))
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
        if not fits(key, result, self.limits, self.backend):
            return
        row = (key, result.fingerprint, result.status, result.body, result.created_at, time.time() + ttl_s)
        await self._run(lambda db: self._write(db, row))

    def _write(self, db: sqlite3.Connection, row: tuple[str, str, int, bytes, float, float]) -> None:
        """The upsert, and the upkeep it is due, in one transaction (one commit per write)."""
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(schema.UPSERT, row)
            if self._sweep_due():
                schema.sweep_expired(db, now, self.upkeep.batch)
            size = schema.make_room(db, self.limits.max_bytes, now, self.upkeep.batch, self.upkeep.rounds)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._size = size

    def _sweep_due(self) -> bool:
        """Every ``every_writes`` writes or ``every_s`` seconds, whichever comes first."""
        self._writes += 1
        if (
            self._writes < self.upkeep.every_writes
            and time.monotonic() - self._swept_at < self.upkeep.every_s
        ):
            return False
        self._writes, self._swept_at = 0, time.monotonic()
        return True

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
        """Close the connection and stop the thread; a later call opens both again.

        The worker is detached first, so an operation that starts meanwhile gets a thread and a
        connection of its own, never the one being closed (closing a connection another thread
        uses can crash the process, not just fail).
        """
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.get_running_loop().run_in_executor(worker.thread, worker.shut)
            worker.thread.shutdown(wait=False)
