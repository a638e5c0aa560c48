"""The per-caller rate limit across replicas: with REDIS_URL set, two app instances served by uvicorn
share one allowance (a real redis-server); without it, each counts its own; a dead Redis degrades
to the per-replica count instead of failing requests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis import Redis

from app.api.run_engine import RUNS_CLIENT
from app.main import create_app
from tests.store.conftest import RedisServer, start_redis
from tests.support import fake_providers, free_port, make_settings, serve

KEYS = SecretStr("replica-key-1,replica-key-2")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server: RedisServer = start_redis(tmp_path)
    yield server.url
    server.stop()


@contextmanager
def replicas(count: int, **settings: Any) -> Iterator[list[str]]:
    """``count`` apps, each under its own uvicorn on loopback; yields their origins."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                serve(create_app(make_settings(store_backend="none", **settings), providers=fake_providers()))
            )
            for _ in range(count)
        ]


def statuses(origins: list[str], each: int, headers: dict[str, str] | None = None) -> list[int]:
    """``each`` requests to every replica in turn, as a load balancer would spread them."""
    seen = []
    for _ in range(each):
        for origin in origins:
            seen.append(httpx.get(f"{origin}/phases", headers=headers, timeout=10).status_code)
    return seen


@pytest.mark.needs_redis
def test_two_replicas_sharing_redis_allow_one_allowance(redis_url: str) -> None:
    with replicas(2, rate_limit="5/minute", redis_url=SecretStr(redis_url)) as origins:
        seen = statuses(origins, each=4)
    assert seen.count(200) == 5 and seen.count(429) == 3, seen
    assert seen[:5] == [200] * 5  # the first five, wherever they landed, then none


@pytest.mark.needs_redis
def test_a_caller_key_is_one_caller_on_every_replica(redis_url: str) -> None:
    settings = {"rate_limit": "3/minute", "redis_url": SecretStr(redis_url), "api_keys": KEYS}
    with replicas(2, **settings) as origins:
        first = statuses(origins, each=3, headers={"Authorization": "Bearer replica-key-1"})
        second = statuses(origins, each=1, headers={"Authorization": "Bearer replica-key-2"})
    assert first == [200, 200, 200, 429, 429, 429]
    assert second == [200, 200]  # another key has its own allowance, shared too


def test_without_redis_each_replica_counts_its_own() -> None:
    # The contrast that shows the shared test can fail: the same traffic, twice the allowance.
    with replicas(2, rate_limit="5/minute") as origins:
        seen = statuses(origins, each=4)
    assert seen.count(200) == 8, seen


def test_an_unreachable_redis_limits_per_replica_and_fails_nothing() -> None:
    dead = SecretStr(f"redis://127.0.0.1:{free_port()}/0")
    with replicas(1, rate_limit="3/minute", redis_url=dead) as origins:
        seen = statuses(origins, each=5)
    assert seen == [200, 200, 200, 429, 429]


@pytest.mark.needs_redis
def test_a_stopped_replica_leaves_no_redis_connection_behind(redis_url: str) -> None:
    with Redis.from_url(redis_url) as observer:
        with replicas(1, rate_limit="5/minute", redis_url=SecretStr(redis_url)) as origins:
            assert statuses(origins, each=1) == [200]
            clients = observer.client_list()
            # The replica's (the allowance's) and ours, beside the run queue's own (named) ones.
            assert len([c for c in clients if c["name"] != RUNS_CLIENT]) == 2
            assert any(c["name"] == RUNS_CLIENT for c in clients)
        # Ours alone: the lifespan closed the allowance's pool (Redis may see the close a moment
        # after the replica stopped, hence the short wait; a leaked connection stays forever).
        assert wait_until(lambda: len(observer.client_list()) == 1)


def wait_until(condition: Callable[[], bool], within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
