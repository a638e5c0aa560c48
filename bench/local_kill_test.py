"""Times one full kill-test orchestration on the local model, cold and warm, and prints the figures.

    .venv/bin/python bench/local_kill_test.py [--warm-runs 3]

Cold = a freshly started model server (model load included, prompt cache empty); warm = the same
server again. Members and synthesis run exactly as in production: this drives the real app
in-process against the real llama.cpp server on 127.0.0.1, with no cloud key set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.main import create_app
from app.settings import LocalModelSettings, Settings

IDEA = {"idea": "An AI agent that reconciles freight invoices against rate confirmations for brokers"}
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_healthy(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"model server not healthy at {url} within {timeout_s}s")


def start_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "local_model", "--port", str(port)]
    return subprocess.Popen(command, stderr=subprocess.DEVNULL, cwd=ROOT)  # noqa: S603 (our module)


async def run_phase(client: httpx.AsyncClient) -> dict[str, Any]:
    began = time.monotonic()
    response = await client.post("/phases/kill-test/orchestrate", json=IDEA, timeout=300)
    elapsed = time.monotonic() - began
    body: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise SystemExit(f"kill-test failed: {response.status_code} {body}")
    return {"wall_s": elapsed, **body}


def describe(label: str, run: dict[str, Any]) -> str:
    timings, usage = run["timings"], run["usage"]
    statuses = ",".join(m["status"] for m in run["models"])
    return (
        f"{label:<6} wall {run['wall_s']:6.1f}s  fan-out {timings['fanout_ms'] / 1000:5.1f}s  "
        f"synthesis {timings['synthesis_ms'] / 1000:5.1f}s  tokens in/out {usage['tokens_in']}/"
        f"{usage['tokens_out']}  mode {run['mode']}  models {statuses}  verdict {run['output']['verdict']}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    local = LocalModelSettings(_env_file=None, url=url)  # type: ignore[call-arg]
    started = time.monotonic()
    server = start_server(port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health")
        load_s = time.monotonic() - started
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, local_model=local, log_level="WARNING", store_backend="none"
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                cold = await run_phase(client)
                warm = [await run_phase(client) for _ in range(args.warm_runs)]
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"machine: {sys.platform}, {len(os.sched_getaffinity(0))} cores; members {local.members}")
    print(f"model server start to healthy: {load_s:.1f}s")
    print(describe("cold", cold))
    for i, run in enumerate(warm, 1):
        print(describe(f"warm{i}", run))
    if warm:
        median = statistics.median(r["wall_s"] for r in warm)
        print(f"cold start + first phase: {load_s + cold['wall_s']:.1f}s; warm median: {median:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
