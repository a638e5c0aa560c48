"""The service started as `make run` starts it, with the real local model beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port, stop_process, wait_ready

ROOT = Path(__file__).resolve().parents[2]
MODEL_TIMEOUT_S = 600.0
DEADLINE_S = 900.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    api_port, model_port = free_port(), free_port()
    env = {
        # Only what a fresh machine has: no provider key reaches the service.
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PORT": str(api_port),
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{model_port}/v1",
        "LOG_LEVEL": "WARNING",
        # Shipped clocks (100 s members, 170 s phase) assume a CPU of its own; a shared 2-core
        # machine under load decodes a tenth as fast. The test checks what the path does, not how
        # fast: it waits longer on a busy machine instead of failing there.
        "LOCAL_MODEL_TIMEOUT_S": str(MODEL_TIMEOUT_S),
        "LOCAL_MODEL_DEADLINE_S": str(DEADLINE_S),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}
    )
    origin = f"http://127.0.0.1:{api_port}"
    try:
        wait_ready(origin, process, timeout_s=180)
        yield origin, env["LOCAL_MODEL_URL"], process
    finally:
        if process.poll() is None:
            stop_process(process, signal.SIGINT)
