"""Provider budgets across replicas: two ``python -m app`` processes sharing a real redis-server
keep a model's combined calls per minute and calls in flight within its MODEL_LIMITS, as counted
by a fake upstream on loopback; a slot held by a process killed with SIGKILL comes back when its
lease ends; an unreachable Redis leaves each replica its own counts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.resilience.budgets import Scope as Budget
from app.resilience.ledger import Answer, Ticket
from app.resilience.pause import SharedPauses
from app.resilience.shared_ledger import SharedLedger
from tests.fakes.upstream import FakeUpstream, Reply, running
from tests.store.conftest import RedisServer, start_redis
from tests.support import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
LIMITED = "budget-m1"
CONCURRENCY, PER_MINUTE = 2, 6
REQUESTS_PER_REPLICA = 5
PHASES_TOML = """
[models.budget-m1]
provider = "openai_compat"
model_id = "budget-m1"
[models.budget-m2]
provider = "minimax"
model_id = "budget-m2"
[models.budget-judge]
provider = "minimax"
model_id = "budget-judge"

[phases.kill-test]
parallel = [
    { model = "budget-m1", temperature = 0.5, max_tokens = 4096 },
    { model = "budget-m2", temperature = 0.5, max_tokens = 4096 },
]
single_model = ["budget-m2"]
min_successes = 1
wild_ideas_model = ""
[phases.kill-test.synthesis]
models = ["budget-judge"]
"""


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server: RedisServer = start_redis(tmp_path)
    yield server.url
    server.stop()


class CountingUpstream(FakeUpstream):
    """The fake upstream, also noting when each call to the limited model (the only model on the
    OpenAI-compatible wire) began and how many were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[float] = []
        self.peak = 0
        self._now = 0
        self._count_lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        counted = scope["type"] == "http" and scope["path"] == "/openai/v1/chat/completions"
        if counted:
            with self._count_lock:
                self.starts.append(time.monotonic())
                self._now += 1
                self.peak = max(self.peak, self._now)
        try:
            await super().__call__(scope, receive, send)
        finally:
            if counted:
                with self._count_lock:
                    self._now -= 1

    def most_in_a_minute(self) -> int:
        return max((sum(1 for t in self.starts if s <= t < s + 60.0) for s in self.starts), default=0)


@contextmanager
def app_process(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """``python -m app`` with ``env``; yields its origin once ``/healthz`` answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=cwd, env=env | {"PORT": str(port)}, stdout=subprocess.DEVNULL
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        give_up = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the app exited with {process.returncode}"
            assert time.monotonic() < give_up, "the app did not answer /healthz within 60 s"
            try:
                if httpx.get(f"{origin}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield origin
    finally:
        stop_process(process, timeout_s=20)


def replica_env(upstream: str, phases: Path, replica: str, redis_url: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(phases.parent),
        "PYTHONPATH": str(ROOT),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "LOCAL_MODEL_ENABLED": "false",
        "STORE_BACKEND": "none",
        "RATE_LIMIT": "off",
        "CACHE_TTL_S": "0",
        "PHASES_CONFIG_FILE": str(phases),
        "OPENAI_COMPAT_BASE_URL": f"{upstream}/openai/v1",
        "OPENAI_COMPAT_API_KEY": f"key-{replica}",  # tells the fake which replica called
        "MINIMAX_BASE_URL": f"{upstream}/minimax/v1",
        "MINIMAX_API_KEY": "fake-key",
        "MODEL_LIMITS": f'{{"openai_compat/{LIMITED}": '
        f'{{"concurrency": {CONCURRENCY}, "per_minute": {PER_MINUTE}}}}}',
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env


async def spread(origins: list[str]) -> list[dict[str, Any]]:
    """Every replica gets its requests at once; returns the limited model's parallel records."""
    body = {"idea": "AI agent that audits freight invoices", "options": {"deadline_s": 30}}
    async with httpx.AsyncClient(timeout=90) as client:
        answers = await asyncio.gather(
            *(
                client.post(f"{origin}/phases/kill-test/orchestrate", json=body)
                for _ in range(REQUESTS_PER_REPLICA)
                for origin in origins
            )
        )
    records = []
    for answer in answers:
        assert answer.status_code == 200, answer.text
        records += [
            m for m in answer.json()["models"] if m["model_id"] == LIMITED and m["role"] == "parallel"
        ]
    return records


def two_replicas(tmp_path: Path, redis_url: str | None) -> tuple[CountingUpstream, list[dict[str, Any]]]:
    upstream = CountingUpstream()
    demand = 2 * REQUESTS_PER_REPLICA
    upstream.script(LIMITED, *[Reply(delay_s=0.3) for _ in range(demand)])  # slow enough to overlap
    phases = tmp_path / "phases.toml"
    phases.write_text(PHASES_TOML, encoding="utf-8")
    with running(upstream) as origin, ExitStack() as stack:
        origins = [
            stack.enter_context(app_process(replica_env(origin, phases, name, redis_url), tmp_path))
            for name in ("a", "b")
        ]
        records = asyncio.run(spread(origins))
    assert upstream.problems == []
    return upstream, records


@pytest.mark.needs_redis
def test_two_processes_sharing_redis_stay_within_the_models_budget(tmp_path: Path, redis_url: str) -> None:
    upstream, records = two_replicas(tmp_path, redis_url)
    calls = upstream.calls_for(LIMITED)
    by_replica = {call.headers["authorization"] for call in calls}
    assert by_replica == {"Bearer key-a", "Bearer key-b"}  # both replicas called it...
    assert len(calls) <= PER_MINUTE and upstream.most_in_a_minute() <= PER_MINUTE  # ...within one budget
    assert upstream.peak <= CONCURRENCY
    refused = [r for r in records if r["error_kind"] == "call_budget_exhausted"]
    assert len(records) == 2 * REQUESTS_PER_REPLICA
    assert len(refused) == len(records) - len(calls)  # every call not made says why in its record
    assert all("on every replica" in r["error"] for r in refused)


def test_without_redis_each_process_spends_its_own_budget(tmp_path: Path) -> None:
    # The contrast that shows the shared test can fail: the same traffic, more calls than the limit.
    upstream, records = two_replicas(tmp_path, None)
    assert len(upstream.calls_for(LIMITED)) == 2 * REQUESTS_PER_REPLICA > PER_MINUTE
    assert all(r["status"] == "ok" for r in records)


CRASHING_HOLDER = """
import asyncio, sys
from app.resilience.budgets import Scope
from app.resilience.ledger import Ticket
from app.resilience.pause import SharedPauses
from app.resilience.shared_ledger import SharedLedger

async def hold() -> None:
    pauses = SharedPauses(sys.argv[1], timeout_s=5.0)
    ticket = Ticket("p/m", [Scope("p/m", 1, None)], "doomed", float(sys.argv[2]))
    print((await SharedLedger(pauses).take(ticket)).answer.name, flush=True)
    await asyncio.sleep(3600)

asyncio.run(hold())
"""


def take_then_die(redis_url: str, lease_s: float) -> None:
    """A process takes the only slot of ``p/m`` and is killed with SIGKILL holding it."""
    holder = subprocess.Popen(  # noqa: S603 (this interpreter, a script of this file)
        [sys.executable, "-c", CRASHING_HOLDER, redis_url, str(lease_s)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "GRANTED"
    holder.send_signal(signal.SIGKILL)  # it never gives its slot back
    holder.wait(timeout=10)
    holder.stdout.close()


@pytest.mark.needs_redis
async def test_a_slot_held_by_a_killed_process_comes_back_when_its_lease_ends(redis_url: str) -> None:
    take_then_die(redis_url, lease_s=2.0)
    pauses = SharedPauses(redis_url, timeout_s=5.0)
    ledger = SharedLedger(pauses)
    ticket = Ticket("p/m", [Budget("p/m", 1, None)], "next", 30.0)
    try:
        answers = [(await ledger.take(ticket)).answer]
        assert answers == [Answer.BUSY]  # the dead holder's slot is still counted...
        give_up = time.monotonic() + 30
        while answers[-1] != Answer.GRANTED and time.monotonic() < give_up:
            await asyncio.sleep(0.1)
            answers.append((await ledger.take(ticket)).answer)
        assert answers[-1] == Answer.GRANTED  # ...until its lease ran out
        assert set(answers[:-1]) == {Answer.BUSY}
    finally:
        await pauses.close()


@pytest.mark.needs_redis
async def test_a_slot_given_back_is_free_at_once_on_every_replica(redis_url: str) -> None:
    first, second = SharedPauses(redis_url, timeout_s=5.0), SharedPauses(redis_url, timeout_s=5.0)
    here, there = SharedLedger(first), SharedLedger(second)
    budget = [Budget("p/m", 1, 2)]
    mine, theirs = (
        Ticket("p/m", budget, "mine", 30.0),
        Ticket("p/m", budget, "theirs", 30.0),
    )
    try:
        granted = await here.take(mine)
        assert granted.shared and granted.answer == Answer.GRANTED
        busy = await there.take(theirs)
        assert busy.answer == Answer.BUSY and busy.scope == budget[0]
        await here.give_back(mine, granted)
        again = await there.take(theirs)
        assert again.answer == Answer.GRANTED
        await there.give_back(theirs, again)
        spent = await there.take(theirs)  # two started this minute: the rate says no, and says when
        assert spent.answer == Answer.RATE and 0 < spent.wait_s <= 60.0
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_redis_counts_per_process_and_fails_nothing() -> None:
    pauses = SharedPauses(f"redis://127.0.0.1:{free_port()}/0")
    ledger = SharedLedger(pauses)
    budget = [Budget("p/m", 1, None)]
    ticket = Ticket("p/m", budget, "t", 30.0)
    try:
        granted = await ledger.take(ticket)
        assert granted.answer == Answer.GRANTED and not granted.shared
        assert (await ledger.take(ticket)).answer == Answer.BUSY  # still limited, in this process
        await ledger.give_back(ticket, granted)
        assert ledger.alone.in_flight("p/m") == 0
    finally:
        await pauses.close()
