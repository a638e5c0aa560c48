"""Without Redis: a run live in a process that died reads as failed (interrupted_by_restart), never
as running forever or a 404. A real replica process on the SQLite store, killed with SIGKILL."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.test_runs import ASYNC
from tests.store.keyed_apps import IDEA, URL
from tests.store.test_durable_runs import _answers, crashing_replica, until
from tests.support import fake_app


async def test_a_run_whose_process_died_reads_failed_and_says_to_send_it_again(tmp_path: Path) -> None:
    store = {"store_backend": "sqlite", "store_path": tmp_path / "store.sqlite3"}
    with crashing_replica(store) as (origin, process):
        async with httpx.AsyncClient(base_url=origin, timeout=30) as client:
            await until(lambda: process.poll() is None and _answers(origin), timeout_s=30)
            started = await client.post(URL, json=IDEA, headers=ASYNC)  # its fan-out never answers
            assert started.status_code == 202, started.text
            location = started.headers["location"]
            async with fake_app(**store) as (neighbour, _):  # another process's live run: running
                assert (await neighbour.get(location)).headers["run-state"] == "running"
            process.kill()  # kill -9, mid-run
            process.wait(timeout=10)
    async with fake_app(**store) as (restarted, _):
        polled = await restarted.get(location)
        events = await restarted.get(f"{location}/events")
        again = await restarted.get(location)
    assert polled.status_code == 503 and polled.headers["run-state"] == "failed", polled.text
    error = polled.json()["error"]
    assert error["code"] == "interrupted_by_restart" and "send the request again" in error["hint"]
    assert again.content == polled.content  # stored as failed: the same answer from now on
    assert "event: error" in events.text and "interrupted_by_restart" in events.text
