"""The SQLite store's schema, its migrations, and the bounded upkeep: expiry sweep and eviction.

Every statement here touches at most ``batch`` rows through an index, so a write costs the same
with ten rows or a full store. The running totals (entries, bytes) live in one row kept by
triggers, so reading the store's size is one primary-key lookup and stays right across processes
that share the file.
"""

from __future__ import annotations

import sqlite3

from app.store.base import StoreSize

SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of a file this code made or migrated (0: the first, unindexed schema)."""


_TABLES = [
    """CREATE TABLE IF NOT EXISTS results (
        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
        body BLOB NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL)",
]

# Version 0 -> 1: indexes for expiry and eviction, and the totals row with the triggers that keep it.
# An entry's size is counted as app/store/base.entry_bytes counts it: key, fingerprint, body, in bytes.
_TO_V1 = [
    "CREATE INDEX IF NOT EXISTS results_expires_at ON results (expires_at)",
    "CREATE INDEX IF NOT EXISTS results_created_at ON results (created_at)",
    "CREATE INDEX IF NOT EXISTS locks_expires_at ON locks (expires_at)",
    """CREATE TABLE IF NOT EXISTS store_totals (
        id INTEGER PRIMARY KEY CHECK (id = 0), entries INTEGER NOT NULL, bytes INTEGER NOT NULL
    )""",
    """INSERT OR REPLACE INTO store_totals SELECT 0, COUNT(*), COALESCE(SUM(
        length(CAST(results.key AS BLOB))
            + length(CAST(results.fingerprint AS BLOB)) + length(results.body)), 0) FROM results""",
    """CREATE TRIGGER IF NOT EXISTS results_added AFTER INSERT ON results BEGIN
        UPDATE store_totals SET entries = entries + 1, bytes = bytes
            + length(CAST(NEW.key AS BLOB))
            + length(CAST(NEW.fingerprint AS BLOB)) + length(NEW.body) WHERE id = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS results_removed AFTER DELETE ON results BEGIN
        UPDATE store_totals SET entries = entries - 1, bytes = bytes
            - (length(CAST(OLD.key AS BLOB))
            + length(CAST(OLD.fingerprint AS BLOB)) + length(OLD.body)) WHERE id = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS results_changed AFTER UPDATE ON results BEGIN
        UPDATE store_totals SET bytes = bytes
            + length(CAST(NEW.key AS BLOB))
            + length(CAST(NEW.fingerprint AS BLOB)) + length(NEW.body)
            - (length(CAST(OLD.key AS BLOB))
            + length(CAST(OLD.fingerprint AS BLOB)) + length(OLD.body)) WHERE id = 0;
    END""",
]

UPSERT = """
INSERT INTO results (key, fingerprint, status, body, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
    body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at
"""
"""An update, not a REPLACE: a REPLACE's implicit delete would not fire the totals trigger."""

SWEEP_EXPIRED = """
DELETE FROM results WHERE rowid IN (
    SELECT rowid FROM results WHERE expires_at <= ? ORDER BY expires_at LIMIT ?
)"""
SWEEP_LOCKS = """
DELETE FROM locks WHERE rowid IN (SELECT rowid FROM locks WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
"""
EVICT_OLDEST = """
DELETE FROM results WHERE rowid IN (SELECT rowid FROM results ORDER BY created_at LIMIT ?)
"""


def migrate(db: sqlite3.Connection) -> None:
    """Bring the file to ``SCHEMA_VERSION``; one writer does it, whichever process opens it first."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            for statement in [*_TABLES, *_TO_V1]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def totals(db: sqlite3.Connection) -> StoreSize:
    """The totals row: one lookup, no scan."""
    row = db.execute("SELECT entries, bytes FROM store_totals WHERE id = 0").fetchone()
    return StoreSize(row[0], row[1]) if row is not None else StoreSize()


def sweep_expired(db: sqlite3.Connection, now: float, batch: int) -> int:
    """Delete at most ``batch`` expired results (and as many stale locks); how many results went."""
    deleted = db.execute(SWEEP_EXPIRED, (now, batch)).rowcount
    db.execute(SWEEP_LOCKS, (now, batch))
    return deleted


def make_room(db: sqlite3.Connection, max_bytes: int, now: float, batch: int, rounds: int) -> StoreSize:
    """Over ``max_bytes``: expired entries go first, then the oldest, ``batch`` at a time.

    Evicting a batch rather than one entry leaves headroom, so the next writes do not evict again.
    """
    size = totals(db)
    for _ in range(rounds):
        if size.bytes <= max_bytes:
            break
        if sweep_expired(db, now, batch) == 0:
            db.execute(EVICT_OLDEST, (batch,))
        size = totals(db)
    return size
