"""What the result store costs: the service at c=64 L=50 with the store off, on and pre-filled.

    PYTHONPATH=$PWD .venv/bin/python bench/compare.py --store off,on,prefilled

- off: ``STORE_BACKEND=none`` (the main table's service row);
- on: the shipped defaults (the SQLite store, ``CACHE_TTL_S`` and the caps as shipped), on a new file;
- prefilled: the same, on a file filled to ``STORE_MAX_BYTES`` with live entries first, so every
  write evicts the oldest.

Every request sends a body of its own, so each answer the store keeps is a new entry (the worst case:
the table grows, or evicts, on every request).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.store.sqlite import SQLiteStore  # noqa: E402 (the service's own store makes the schema)

MODES = ("off", "on", "prefilled")
ENTRY_BYTES = 2600
"""About one kill-test answer as the cache keeps it."""


def store_env(mode: str, path: Path) -> dict[str, str | None]:
    """The service's environment for ``mode``; ``None`` leaves a setting at its shipped default."""
    if mode == "off":
        return {"STORE_BACKEND": "none", "CACHE_TTL_S": "0"}
    return {"STORE_BACKEND": None, "CACHE_TTL_S": None, "STORE_PATH": str(path)}


def shipped_max_bytes() -> int:
    """The shipped ``STORE_MAX_BYTES`` (what "pre-filled to its cap" fills to)."""
    from app.settings import Settings

    field = Settings.model_fields.get("store_max_bytes")
    default = field.default if field is not None else None
    return int(default) if isinstance(default, int) else 256 * 2**20


async def prefill(path: Path, max_bytes: int) -> int:
    """Fill a new store file at ``path`` with live entries up to ``max_bytes``; the number written."""
    store = SQLiteStore(path)
    await store.ping()  # creates the schema, as the service would
    await store.close()
    now = time.time()
    rows = max_bytes // (ENTRY_BYTES + 64)
    body = b"x" * ENTRY_BYTES
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO results (key, fingerprint, status, body, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            (f"cache:prefill-{i:064d}", f"{i:064d}", 200, body, now - rows + i, now + 3600)
            for i in range(rows)
        ),
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the service starts on the filled file, not a log
    db.close()
    return rows


@dataclass
class StoreRow:
    mode: str
    rows_before: int
    ok: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    file_mb: float


def file_mb(path: Path) -> float:
    files = [path, path.with_name(path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def markdown(rows: list[StoreRow], concurrency: int) -> list[str]:
    off = next((r.cpu_ms for r in rows if r.mode == "off"), None)
    lines = [
        f"| store (c={concurrency}, L=50, unique bodies) | entries before | ok | errors | req/s | p50 ms "
        "| p99 ms | CPU ms/orch | store cost ms/orch | file after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cost = "" if off is None or r.mode == "off" else f"{r.cpu_ms - off:+.2f}"
        lines.append(
            f"| {r.mode} | {r.rows_before} | {r.ok} | {r.errors} | {r.rps:.1f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.cpu_ms:.2f} | {cost} | {r.file_mb:.1f} MB |"
        )
    return lines
