"""``python -m app`` as ``make run`` starts it: it says where it listens, on which roster, and gives a
curl that works; SIGTERM stops it cleanly. (tests/local/ does the same with the real model.)"""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]
READY_S = 60.0


class Launched:
    """A running ``python -m app`` whose stderr lines are collected as they come."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=cwd, env=env, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        """stderr's lines, then ``None`` once it is closed."""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Kill it if it still runs, and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def banner(self) -> list[str]:
        """The three banner lines, or [] when the process ended without printing them."""
        while True:
            try:
                line = self.lines.get(timeout=READY_S)
            except queue.Empty:
                raise AssertionError(f"no banner within {READY_S:g}s") from None
            if line is None:  # stderr closed: the process is ending (it may not be reaped yet)
                self.process.wait(timeout=30)
                return []
            if line.startswith("orchestrator: listening on "):
                return [line, self.lines.get(timeout=5) or "", self.lines.get(timeout=5) or ""]


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    # No provider key, and no model server to start: the local roster, reported down.
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PORT": str(free_port()),
        "LOCAL_MODEL_AUTOSTART": "false",
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def launched(environment: dict[str, str], tmp_path: Path) -> Iterator[Launched]:
    service = Launched(environment, tmp_path)
    try:
        yield service
    finally:
        service.close()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_it_says_where_it_listens_and_gives_a_curl_that_reaches_it(
    launched: Launched, environment: dict[str, str], stop: signal.Signals
) -> None:
    listening, roster, curl = launched.banner()
    origin = f"http://localhost:{environment['PORT']}"
    assert listening == f"orchestrator: listening on {origin}  (API docs: {origin}/docs)"
    assert roster.startswith("  roster: local (offline: no provider key is set;")
    assert environment["LOCAL_MODEL_URL"] in roster

    # The curl, as printed, is a request the service understands: here the model server is down,
    # so the documented 503 that names it, not a 404 or a 422.
    words = shlex.split(curl.removeprefix("  try:"))
    assert words[:3] == ["curl", "-X", "POST"]
    url, body = words[3], words[words.index("-d") + 1]
    assert url == f"{origin}/phases/kill-test/orchestrate"
    response = httpx.post(url, content=body.encode(), timeout=30)
    assert response.status_code == 503, response.text
    assert environment["LOCAL_MODEL_URL"].removesuffix("/v1") in json.dumps(response.json())

    launched.process.send_signal(stop)
    assert launched.process.wait(timeout=30) == 0  # a stop that was asked for and completed


def test_a_port_already_taken_is_never_announced(environment: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(environment["PORT"])))
        taken.listen()
        service = Launched(environment, tmp_path)
        try:
            assert service.banner() == []
            assert service.process.wait(timeout=30) != 0
        finally:
            service.close()
