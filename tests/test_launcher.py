"""``python -m app`` as ``make run`` starts it: it says where it listens, on which roster, and gives a
curl that works; SIGTERM stops it cleanly. (tests/local_model/ does the same with the real model.)"""

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
        self.before_banner: list[str] = []
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
            if line is None:
                # Its stderr closed: it is exiting (not polled here, since the exit can lag the
                # close by a moment, and the next get() would then wait for a line never coming).
                self.process.wait(timeout=30)
                return []
            if line.startswith("orchestrator: listening on "):
                return [line, self.lines.get(timeout=5) or "", self.lines.get(timeout=5) or ""]
            self.before_banner.append(line)


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


def test_without_the_local_extra_it_names_the_fix_and_serves(
    environment: dict[str, str], tmp_path: Path
) -> None:
    # As on a `.[dev]`-only install: xllamacpp cannot be imported (a None entry in sys.modules,
    # set by a sitecustomize on the service's path), and autostart is on.
    blocker = tmp_path / "without_local_extra"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['xllamacpp'] = None\n")
    environment |= {"LOCAL_MODEL_AUTOSTART": "true", "PYTHONPATH": f"{blocker}:{ROOT}"}
    service = Launched(environment, tmp_path)
    try:
        listening, roster, _ = service.banner()
        assert listening.startswith("orchestrator: listening on ")
        assert roster.startswith("  roster: local (offline: no provider key is set;")
        assert service.before_banner == [
            "local model: cannot start it, xllamacpp (llama.cpp's server) is not installed; "
            f"phases will answer 503 until a server answers at {environment['LOCAL_MODEL_URL']}",
            "  hint: pip install -e '.[local]' (make run does this)",
        ]
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=30) == 0
    finally:
        service.close()


def forwarded_statuses(origin: str, count: int) -> list[int]:
    """``count`` requests from 127.0.0.1, each claiming another client in X-Forwarded-For."""
    return [
        httpx.get(f"{origin}/phases", headers={"X-Forwarded-For": f"10.0.0.{n}"}, timeout=10).status_code
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        # uvicorn's own default trusts loopback: every spoofed address would get a fresh allowance.
        (None, [200, 200, 429, 429]),
        ("10.9.9.9", [200, 200, 429, 429]),  # a proxy elsewhere: this peer's header still ignored
        ("127.0.0.1", [200, 200, 200, 200]),  # the configured proxy: each forwarded client counts
    ],
    ids=["default", "other-proxy", "loopback-trusted"],
)
def test_x_forwarded_for_names_the_caller_only_from_a_trusted_proxy(
    environment: dict[str, str], tmp_path: Path, trusted: str | None, expected: list[int]
) -> None:
    environment |= {"RATE_LIMIT": "2/minute"}
    if trusted is not None:
        environment["FORWARDED_ALLOW_IPS"] = trusted
    service = Launched(environment, tmp_path)
    try:
        assert service.banner(), service.before_banner
        assert forwarded_statuses(f"http://127.0.0.1:{environment['PORT']}", 4) == expected
    finally:
        service.close()


def test_a_malformed_proxy_address_stops_start_up(environment: dict[str, str], tmp_path: Path) -> None:
    environment |= {"FORWARDED_ALLOW_IPS": "127.0.0.1,10.0.0.300"}
    service = Launched(environment, tmp_path)
    try:
        assert service.banner() == []
        assert service.process.wait(timeout=30) != 0
        assert any("10.0.0.300" in line for line in service.before_banner), service.before_banner
    finally:
        service.close()
