"""Closing the SQLite store while operations are in flight: each one answers or says the store is
unavailable, and the next call opens a fresh connection. (Closing a connection another thread is
using can crash the interpreter, so a regression here fails as a dead test process.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from app.store.base import StoredResult, StoreUnavailable
from app.store.sqlite import SQLiteStore


async def test_close_amid_reads_and_writes_loses_nothing_and_reopens(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    result = StoredResult("f", 200, b"{}", time.time())
    await store.put("kept", result, ttl_s=60)

    for _ in range(20):
        before = [asyncio.ensure_future(store.get("kept")) for _ in range(25)]
        writes = [asyncio.ensure_future(store.put(f"k{i}", result, ttl_s=60)) for i in range(5)]
        closing = asyncio.ensure_future(store.close())
        after = [asyncio.ensure_future(store.get("kept")) for _ in range(25)]
        outcomes = await asyncio.gather(*before, *writes, closing, *after, return_exceptions=True)
        for outcome in outcomes:
            assert outcome is None or isinstance(outcome, StoredResult | StoreUnavailable), outcome
        reads = [o for o in outcomes[:25] + outcomes[-25:] if isinstance(o, StoredResult)]
        assert reads, "every read failed: the store never answered around a close"

    assert (await store.get("kept")) == result
    assert (await store.get("k4")) == result
    await store.close()
