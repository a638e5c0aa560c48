"""Runs queued on Redis (saq): any replica answers, cancels and streams any run; a worker killed
with SIGKILL mid-run loses nothing. Real redis-server, real sockets, real worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from saq import Queue
from starlette.requests import Request

from app.api.run_engine import QUEUE_NAME
from app.api.run_work import order_of
from app.api.schemas import OrchestrateRequest
from app.jobs.board import Board
from app.main import create_app
from app.providers.fake import FakeProvider
from tests.api.test_runs import ASYNC, hanging, slow_fan_out
from tests.fakes.upstream import FakeUpstream, Reply, running
from tests.store.conftest import RedisServer
from tests.store.keyed_apps import FAN_OUT, IDEA, URL, key, parallel_calls
from tests.support import fake_providers, make_settings, serve, upstream_settings

pytestmark = pytest.mark.needs_redis
ROOT = Path(__file__).parents[2]
FAN_OUT_MODELS = (  # kill-test's parallel members in the shipped config, by provider model id
    "@cf/zai-org/glm-4.7-flash",
    "@cf/meta/llama-4-scout-17b-16e-instruct",
    "@cf/qwen/qwen3-30b-a3b-fp8",
    "MiniMax-M2.7",
    "local-gemma",
)


@contextmanager
def replica(redis: RedisServer, fakes: dict[str, FakeProvider], *, works: bool) -> Iterator[str]:
    """An API replica on ``redis``; ``works``: it also executes queued runs."""
    settings = make_settings(redis_url=SecretStr(redis.url), run_workers_in_process=works, run_lease_s=3)
    with serve(create_app(settings, providers=fakes)) as origin:
        yield origin


async def until_ended(client: httpx.AsyncClient, location: str, timeout_s: float = 60) -> httpx.Response:
    for _ in range(int(timeout_s / 0.1)):
        polled = await client.get(location)
        if polled.headers.get("run-state") not in ("queued", "running"):
            return polled
        await asyncio.sleep(0.1)
    raise AssertionError(f"{location} still {polled.headers.get('run-state')} after {timeout_s} s")


async def test_one_replica_queues_another_answers_and_the_first_serves_the_result(
    own_redis: RedisServer,
) -> None:
    front, back = fake_providers(slow_fan_out), fake_providers(slow_fan_out)
    with replica(own_redis, front, works=False) as a, replica(own_redis, back, works=True) as b:
        async with httpx.AsyncClient(base_url=a, timeout=30) as on_a, httpx.AsyncClient(base_url=b) as on_b:
            started = await on_a.post(URL, json=IDEA, headers=ASYNC)
            assert started.status_code == 202, started.text
            location = started.headers["location"]
            ended = await until_ended(on_a, location)
            assert ended.status_code == 200 and ended.headers["run-state"] == "succeeded"
            assert ended.json()["output"] and ended.json()["request_id"]
            assert (await on_b.get(location)).content == ended.content  # any replica, same bytes
            events = await on_a.get(f"{location}/events")
            resumed = await on_b.get(f"{location}/events", headers={"Last-Event-ID": "2"})
            synchronous = await on_a.post(URL, json=IDEA)  # a run underneath, kept on the board
            kept = await on_b.get(f"/runs/{synchronous.headers['run-id']}")
    assert parallel_calls(back) == FAN_OUT  # the worker ran the queued run; the front its own call
    assert kept.status_code == 200 and kept.content == synchronous.content
    ids = [int(line[3:]) for line in events.text.splitlines() if line.startswith("id:")]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > 3
    assert [line for line in events.text.splitlines() if line.startswith("event: r")] == ["event: result"]
    assert [int(line[3:]) for line in resumed.text.splitlines() if line.startswith("id:")] == ids[2:]


async def test_delete_on_one_replica_cancels_the_run_another_is_working(own_redis: RedisServer) -> None:
    cancelled: list[str] = []
    with (
        replica(own_redis, fake_providers(), works=False) as a,
        replica(own_redis, fake_providers(hanging(cancelled)), works=True) as b,
    ):
        async with httpx.AsyncClient(base_url=a, timeout=30) as on_a, httpx.AsyncClient(base_url=b) as on_b:
            location = (await on_a.post(URL, json=IDEA, headers=ASYNC)).headers["location"]
            for _ in range(300):
                if (await on_b.get(location)).headers["run-state"] == "running":
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the fan-out is under way
            deleted = await on_a.delete(location)
            assert deleted.status_code == 200 and deleted.json()["state"] == "cancelled"
            for _ in range(100):  # saq's abort reaches the worker within its abort timer (1 s)
                if len(cancelled) == FAN_OUT:
                    break
                await asyncio.sleep(0.1)
            polled = await on_b.get(location)
            again = await on_b.delete(location)
    assert sorted(cancelled) and len(cancelled) == FAN_OUT
    assert polled.headers["run-state"] == "cancelled"
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_finished"


async def test_the_same_key_on_two_replicas_attaches_to_one_queued_run(own_redis: RedisServer) -> None:
    front, back = fake_providers(slow_fan_out), fake_providers(slow_fan_out)
    with replica(own_redis, front, works=False) as a, replica(own_redis, back, works=True) as b:
        async with httpx.AsyncClient(base_url=a, timeout=30) as on_a, httpx.AsyncClient(base_url=b) as on_b:
            headers = {**ASYNC, **key()}
            first = await on_a.post(URL, json=IDEA, headers=headers)
            second = await on_b.post(URL, json=IDEA, headers=headers)
            done = await until_ended(on_a, first.headers["location"])
            later = await on_b.post(URL, json=IDEA, headers=headers)  # ended: a run replaying it
            replayed = await until_ended(on_b, later.headers["location"])
    assert second.status_code == 202 and second.headers["location"] == first.headers["location"]
    assert later.headers["location"] != first.headers["location"]
    assert done.status_code == replayed.status_code == 200 and replayed.content == done.content
    assert parallel_calls(front, back) == FAN_OUT


@contextmanager
def workers(redis: RedisServer, origin: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` worker processes (``app.worker.serve``) against the fake upstream at ``origin``."""
    processes = [
        subprocess.Popen(  # noqa: S603 (this interpreter, a module of the tests)
            [sys.executable, "-m", "tests.jobs.worker_process", redis.url, origin],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)


async def test_a_worker_killed_mid_run_loses_nothing_and_one_result_is_stored(own_redis: RedisServer) -> None:
    upstream = FakeUpstream()
    for model in FAN_OUT_MODELS:  # the first take's fan-out never answers: the kill lands mid-run
        upstream.script(model, Reply(hang=True))
    board = Board(Redis.from_url(own_redis.url), ttl_s=600)
    with running(upstream) as upstream_origin, workers(own_redis, upstream_origin, 2) as processes:
        settings = upstream_settings(
            upstream.base_urls(), redis_url=SecretStr(own_redis.url), run_workers_in_process=False
        )
        with serve(create_app(settings)) as api:
            # Both working before the run is queued: a worker's first sweep can race its own first
            # dequeue (saq then aborts and retries the run), which is not what this test is about.
            await _working(own_redis, 2)
            async with httpx.AsyncClient(base_url=api, timeout=30) as client:
                started = await client.post(URL, json=IDEA, headers=ASYNC)
                run_id = started.json()["id"]
                first = await _taken(board, run_id, processes, upstream)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                ended = await until_ended(client, started.headers["location"], timeout_s=120)
                events = await client.get(f"{started.headers['location']}/events")
            second = await board.worker(run_id)
    await board.close()
    assert ended.status_code == 200 and ended.headers["run-state"] == "succeeded", ended.text
    assert ended.json()["request_id"] == started.headers["x-request-id"]
    survivor = next(p for p in processes if p is not first)
    assert second is not None and second.endswith(f":{survivor.pid}")
    # The fan-out ran twice (the killed take's hung calls, then the take-over's), the judge once.
    assert sorted(len(upstream.calls_for(m)) for m in FAN_OUT_MODELS) == [2] * FAN_OUT
    assert len(upstream.calls_for("claude-sonnet-5-5")) == 1
    endings = [line for line in events.text.splitlines() if line in ("event: result", "event: error")]
    assert endings == ["event: result"]


async def _working(redis: RedisServer, count: int) -> None:
    queue = Queue.from_url(redis.url, name=QUEUE_NAME)
    try:
        for _ in range(600):
            if len((await queue.info())["workers"]) >= count:
                return
            await asyncio.sleep(0.05)
    finally:
        await queue.disconnect()
    raise AssertionError(f"{count} workers did not start")


async def _taken(
    board: Board, run_id: str, processes: list[subprocess.Popen[bytes]], upstream: FakeUpstream
) -> subprocess.Popen[bytes]:
    """The worker process that took the run, once its whole fan-out is waiting upstream."""
    for _ in range(600):
        worker = await board.worker(run_id)
        if worker is not None and upstream.in_flight >= FAN_OUT:
            pid = int(worker.rpartition(":")[2])
            return next(p for p in processes if p.pid == pid)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no worker took run {run_id} (or its fan-out did not start)")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_python_m_app_worker_stops_cleanly_on(signum: int, own_redis: RedisServer, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": own_redis.url, "LOG_FORMAT": "json"}
    assert _health_check(env, tmp_path) == 1  # no worker yet
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert worker.stdout is not None
    seen = []
    for line in worker.stdout:
        seen.append(line.decode(errors="replace"))
        if "worker_ready" in seen[-1]:
            break
    assert any("worker_ready" in line for line in seen), "".join(seen)
    assert _health_check(env, tmp_path) == 0
    worker.send_signal(signum)
    assert worker.wait(timeout=30) == 0
    rest = worker.stdout.read().decode(errors="replace")
    worker.stdout.close()
    assert "worker_stopping" in rest and "Traceback" not in rest, rest


def _health_check(env: dict[str, str], cwd: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "app.worker", "--check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


def test_python_m_app_worker_without_redis_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "app.worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"REDIS_URL" in done.stderr, done.stderr


def test_the_order_a_worker_gets_is_json_and_carries_no_api_key() -> None:
    headers = [(b"authorization", b"Bearer secret-key"), (b"idempotency-key", b"k-1"), (b"accept", b"*/*")]
    request = Request({"type": "http", "method": "POST", "path": URL, "headers": headers, "state": {}})
    order = order_of(request, "r1", "kill-test", OrchestrateRequest.model_validate(IDEA), "key-abc")
    assert json.loads(json.dumps(order.as_kwargs())) == order.as_kwargs()
    assert order.headers == {"idempotency-key": "k-1"} and "secret-key" not in json.dumps(order.as_kwargs())
