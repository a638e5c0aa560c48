"""A real Redis server on a free loopback port, started by the tests (CI installs redis-server)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.support import free_port


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_redis(directory: Path) -> RedisServer:
    binary = shutil.which("redis-server")
    assert binary is not None, "a test that starts Redis is marked needs_redis (tests/needs.py)"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (the redis-server found on PATH)
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return RedisServer(f"redis://127.0.0.1:{port}/0", process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"redis-server did not answer on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, for tests that stop it."""
    server = start_redis(tmp_path)
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.needs_redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings for each backend; Redis keys get a fresh prefix per test via a fresh database."""
    if request.param == "sqlite":
        return {"store_backend": "sqlite", "store_path": tmp_path / "store.sqlite3"}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"store_backend": "redis", "redis_url": SecretStr(server.url)}
