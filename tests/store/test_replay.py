"""The replayer hands later readers the body a run rendered for them, byte for byte."""

from __future__ import annotations

import asyncio

import pytest

from app.store.base import StoredResult
from app.store.replay import Finished, Replayer, StillRunning


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


class Gated:
    """A compute that waits for ``release``, and says whether it finished or was cancelled."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.ended: str | None = None

    async def __call__(self, waited_s: float = 0.0) -> Finished:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.ended = "cancelled"
            raise
        self.ended = "finished"
        return Finished(200, b"done", keep=False)


async def leave(task: asyncio.Task[Finished]) -> None:
    """The caller behind ``task`` hangs up."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_run_outlives_a_caller_who_leaves_while_another_waits(keyed: bool) -> None:
    replayer, compute = Replayer(MemoryStore()), Gated()
    first = asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30, keyed=keyed))
    await compute.started.wait()
    second = asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30, keyed=keyed))
    await asyncio.sleep(0)
    await leave(first)
    compute.release.set()
    assert (await second).body == b"done" and compute.ended == "finished"


async def test_an_unkeyed_run_stops_when_its_last_caller_leaves() -> None:
    replayer, compute = Replayer(MemoryStore()), Gated()
    callers = [asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30)) for _ in range(2)]
    await compute.started.wait()
    await leave(callers[0])
    assert compute.ended is None  # the other caller still waits
    await leave(callers[1])
    assert compute.ended == "cancelled"


async def test_a_caller_arriving_while_an_abandoned_run_closes_starts_its_own() -> None:
    # The last caller of an unkeyed run hangs up, and the run takes a while to close its upstream
    # calls. A caller with the same request arriving meanwhile must get an answer, not the
    # abandoned run's cancellation (seen as a 499 for a caller still connected, under load).
    replayer = Replayer(MemoryStore())
    closing, closed = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def compute(waited_s: float = 0.0) -> Finished:
        runs.append("started")
        if len(runs) == 1:
            try:
                await asyncio.Event().wait()  # the first run goes on until it is cancelled
            except asyncio.CancelledError:
                closing.set()
                await closed.wait()  # closing its calls
                raise
        return Finished(200, b"done")

    first = asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30))
    await asyncio.sleep(0.01)
    first.cancel()  # the only caller hangs up
    await closing.wait()
    second = asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30))
    await asyncio.sleep(0.01)
    closed.set()
    assert (await second).body == b"done"
    assert runs == ["started", "started"]
    await asyncio.gather(first, return_exceptions=True)


async def test_a_keyed_run_finishes_and_keeps_even_an_unkeepable_200_when_everyone_left() -> None:
    store = MemoryStore()
    replayer, compute = Replayer(store), Gated()
    caller = asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30, keyed=True))
    await compute.started.wait()
    await leave(caller)
    compute.release.set()
    for _ in range(100):
        if "k" in store.results:
            break
        await asyncio.sleep(0.01)
    assert compute.ended == "finished" and store.results["k"].body == b"done"


async def test_a_waiter_gives_up_at_its_own_deadline_and_the_run_goes_on() -> None:
    replayer, compute = Replayer(MemoryStore()), Gated()
    runner = asyncio.create_task(replayer.run("k", "p", compute, ttl_s=60, wait_s=30, keyed=True))
    await compute.started.wait()
    with pytest.raises(StillRunning) as still:
        await replayer.run("k", "p", compute, ttl_s=60, wait_s=0.1, keyed=True)
    assert still.value.waited_s >= 0.1 and compute.ended is None
    compute.release.set()
    assert (await runner).body == b"done"


class LeasedStore(MemoryStore):
    """Records lease renewals."""

    def __init__(self) -> None:
        super().__init__()
        self.renewals = 0

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        self.renewals += 1
        return True


async def test_the_holder_renews_its_lease_while_it_runs() -> None:
    store = LeasedStore()
    replayer = Replayer(store, lease_s=0.06)

    async def slow(waited_s: float = 0.0) -> Finished:
        await asyncio.sleep(0.2)
        return Finished(200, b"done")

    await replayer.run("k", "p", slow, ttl_s=60, wait_s=30)
    assert store.renewals >= 2  # every third of the lease, for as long as it ran
