"""The SQLite store stays bounded and cheap: indexed, batched expiry; a size cap; an entry cap."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from app.store import sqlite_schema as schema
from app.store.base import StoredResult, StoreLimits, StoreSize, entry_bytes
from app.store.sqlite import SQLiteStore, Upkeep

BODY = b"x" * 1000


def result(body: bytes = BODY) -> StoredResult:
    return StoredResult("print", 200, body, time.time())


def insert_rows(path: Path, rows: int, *, expired: bool, start: float = 0.0) -> None:
    """Rows written behind the store's back (another process, or an old file), oldest first."""
    now = time.time()
    expires = now - 10 if expired else now + 3600
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO results (key, fingerprint, status, body, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((f"old-{start + i}", "print", 200, BODY, now - 1000 + start + i, expires) for i in range(rows)),
        )
        db.execute("COMMIT")


def actual_size(path: Path) -> StoreSize:
    """What the table holds, counted the slow way."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, fingerprint, body FROM results").fetchall()
    return StoreSize(len(rows), sum(len(k.encode()) + len(f.encode()) + len(b) for k, f, b in rows))


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "store.sqlite3", upkeep=Upkeep(every_writes=1, batch=100))
    await store.ping()
    yield store
    await store.close()


@pytest.mark.parametrize("statement", [schema.SWEEP_EXPIRED, schema.SWEEP_LOCKS, schema.EVICT_OLDEST])
async def test_upkeep_statements_use_an_index_never_a_table_scan(opened: SQLiteStore, statement: str) -> None:
    arguments = (1.0, 10) if statement.count("?") == 2 else (10,)
    with sqlite3.connect(opened.path) as db:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", arguments)]
    # Every read of a table goes through an index (a SCAN in index order stops after LIMIT rows);
    # a SCAN without one would read the whole table.
    reads = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
    assert any("INDEX results_" in s or "INDEX locks_" in s for s in reads), plan
    assert all("INDEX" in step or "PRIMARY KEY" in step for step in reads), plan


async def test_a_write_on_a_store_full_of_expired_rows_deletes_one_batch(opened: SQLiteStore) -> None:
    insert_rows(opened.path, 5000, expired=True)
    statements: list[str] = []
    await opened._run(lambda db: db.set_trace_callback(statements.append))
    await opened.put("new", result(), ttl_s=60)
    await opened._run(lambda db: db.set_trace_callback(None))
    # sqlite3 reports a statement again for each trigger it fires (one per row deleted): count once.
    statements = [text for text, _ in itertools.groupby(statements)]
    assert actual_size(opened.path).entries == 1 + 5000 - 100  # one batch swept, not the table
    assert len(statements) <= 6, statements  # begin, upsert, sweep, stale locks, totals, commit


async def test_expired_rows_are_swept_every_so_many_writes_not_on_each(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", upkeep=Upkeep(every_writes=3, every_s=3600, batch=100))
    await store.ping()
    insert_rows(store.path, 500, expired=True)
    left = []
    for i in range(6):
        await store.put(f"k{i}", result(), ttl_s=60)
        left.append(actual_size(store.path).entries - (i + 1))
    await store.close()
    assert left == [500, 500, 400, 400, 400, 300]


async def test_over_the_cap_expired_entries_go_first_then_the_oldest(tmp_path: Path) -> None:
    one = entry_bytes("k-0000", result())
    limits = StoreLimits(max_bytes=10 * one, max_entry_bytes=2 * one)
    store = SQLiteStore(tmp_path / "s.sqlite3", limits=limits, upkeep=Upkeep(every_writes=10**6, batch=2))
    for i in range(8):
        await store.put(f"k-{i:04d}", StoredResult("print", 200, BODY, 1000.0 + i), ttl_s=60)
    insert_rows(store.path, 2, expired=True, start=5000)  # the newest rows, but expired
    await store.put("k-0008", StoredResult("print", 200, BODY, 1008.0), ttl_s=60)  # 11 entries: over
    with sqlite3.connect(store.path) as db:
        keys = sorted(k for (k,) in db.execute("SELECT key FROM results"))
    assert keys == [f"k-{i:04d}" for i in range(9)]  # the expired went, every live one stayed
    await store.put("k-0009", StoredResult("print", 200, BODY, 1009.0), ttl_s=60)
    await store.put("k-0010", StoredResult("print", 200, BODY, 1010.0), ttl_s=60)  # over: the oldest go
    with sqlite3.connect(store.path) as db:
        keys = sorted(k for (k,) in db.execute("SELECT key FROM results"))
    await store.close()
    assert keys == [f"k-{i:04d}" for i in range(2, 11)]


async def test_a_flood_of_unique_entries_stays_under_the_cap(tmp_path: Path) -> None:
    limits = StoreLimits(max_bytes=100_000, max_entry_bytes=10_000)
    store = SQLiteStore(tmp_path / "s.sqlite3", limits=limits, upkeep=Upkeep(batch=16))
    for i in range(1000):
        await store.put(f"cache:{i:08d}", result(b"y" * (500 + i % 700)), ttl_s=3600)
        assert store.size().bytes <= limits.max_bytes
    await store.close()
    assert actual_size(store.path) == store.size()
    assert store.path.stat().st_size < 2 * 2**20  # pages are reused: the file does not grow on


async def test_an_entry_over_its_cap_is_not_stored_and_the_warning_names_the_setting(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", limits=StoreLimits(max_entry_bytes=2000))
    with capture_logs() as logs:
        await store.put("big", result(b"z" * 2000), ttl_s=60)
        await store.put("small", result(b"z" * 100), ttl_s=60)
    assert await store.get("big") is None
    assert await store.get("small") is not None
    await store.close()
    warnings = [e for e in logs if e["event"] == "store_entry_too_large"]
    assert len(warnings) == 1 and warnings[0]["setting"] == "STORE_MAX_ENTRY_BYTES"


async def test_the_size_follows_inserts_overwrites_and_deletes(opened: SQLiteStore) -> None:
    await opened.put("a", result(b"1" * 300), ttl_s=60)
    await opened.put("b", result(b"2" * 500), ttl_s=60)
    await opened.put("a", result(b"3" * 100), ttl_s=60)  # an overwrite counts its new size only
    assert opened.size() == actual_size(opened.path) == StoreSize(2, 2 + 2 * 5 + 600)
    insert_rows(opened.path, 3, expired=True)
    await opened.put("c", result(b"4"), ttl_s=60)  # the sweep's deletes come off the totals too
    assert opened.size() == actual_size(opened.path)


OLD_SCHEMA = """
CREATE TABLE results (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body BLOB NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE locks (key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL);
"""


async def test_a_file_of_the_first_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    insert_rows(path, 40, expired=False)
    store = SQLiteStore(path)
    kept = await store.get("old-7.0")
    await store.put("new", result(), ttl_s=60)
    await store.close()
    assert kept is not None and kept.body == BODY
    with sqlite3.connect(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert version == schema.SCHEMA_VERSION
    assert {"results_expires_at", "results_created_at", "locks_expires_at"} <= indexes
    assert store.size() == actual_size(path) and store.size().entries == 41
    again = SQLiteStore(path)  # a second opening migrates nothing and counts nothing twice
    await again.ping()
    await again.close()
    assert again.size() == store.size()
