"""The replayer hands later readers the body a run rendered for them, byte for byte."""

from __future__ import annotations

import asyncio

from app.store.base import StoredResult
from app.store.replay import Finished, Replayer


class MemoryStore:
    """A ResultStore in a dict: no expiry, no other replicas."""

    backend = "memory"

    def __init__(self) -> None:
        self.results: dict[str, StoredResult] = {}

    async def get(self, key: str) -> StoredResult | None:
        return self.results.get(key)

    async def put(self, key: str, result: StoredResult, ttl_s: float) -> None:
        self.results[key] = result

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        return "token"

    async def unlock(self, key: str, token: str) -> None:
        return None

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        return True

    async def locked(self, key: str) -> bool:
        return False

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_the_store_keeps_the_replay_body_and_a_replay_sends_it_as_is() -> None:
    store = MemoryStore()
    replayer = Replayer(store)

    async def run(waited_s: float = 0.0) -> Finished:
        return Finished(200, b'{"cached":false}', replay=b'{"cached":true}')

    fresh = await replayer.fresh("k", "print", run, ttl_s=60)
    assert fresh.body == b'{"cached":false}' and not fresh.replayed
    assert store.results["k"].body == b'{"cached":true}'
    replayed = await replayer.run("k", "print", run, ttl_s=60, wait_s=1)
    assert replayed.replayed and replayed.body is store.results["k"].body


async def test_a_joined_caller_gets_the_replay_body_and_the_runner_its_own() -> None:
    replayer = Replayer(None)
    release = asyncio.Event()

    async def run(waited_s: float = 0.0) -> Finished:
        await release.wait()
        return Finished(200, b"mine", replay=b"theirs")

    first = asyncio.create_task(replayer.run("k", "print", run, ttl_s=60, wait_s=1))
    await asyncio.sleep(0)  # the first caller is now in flight
    second = asyncio.create_task(replayer.run("k", "print", run, ttl_s=60, wait_s=1))
    await asyncio.sleep(0)
    release.set()
    mine, theirs = await first, await second
    assert (mine.body, mine.replayed) == (b"mine", False)
    assert (theirs.body, theirs.replayed) == (b"theirs", True)


async def test_without_a_replay_body_everyone_gets_the_same_bytes() -> None:
    store = MemoryStore()
    replayer = Replayer(store)

    async def run(waited_s: float = 0.0) -> Finished:
        return Finished(200, b"same")

    assert (await replayer.run("k", "print", run, ttl_s=60, wait_s=1)).body == b"same"
    assert store.results["k"].body == b"same"
    again = await replayer.run("k", "print", run, ttl_s=60, wait_s=1)
    assert again.replayed and again.body == b"same"
