"""What a provider budget costs one model call: Redis round trips and time per gate, beside the pause
check alone (what every call paid before budgets).

    PYTHONPATH=$PWD .venv/bin/python bench/budget_gate.py [--calls 2000] [--redis-url redis://...]

Starts its own redis-server on a free loopback port unless ``--redis-url`` is given. Each row runs
``--calls`` gates one after another (no contention: the common path), counting the commands the
client sends (each a round trip; a script's inner commands are not).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.resilience.budgets import Scope  # noqa: E402 (the service's own gate is measured)
from app.resilience.gate import BudgetGate  # noqa: E402
from app.resilience.guard import Limiter  # noqa: E402
from app.resilience.pause import SharedPauses  # noqa: E402
from app.resilience.shared_ledger import SharedLedger  # noqa: E402

ROWS: dict[str, tuple[Scope, ...] | None] = {
    "pause check alone (before budgets)": None,
    "gate, no budget (the pause check)": (),
    "gate, per-minute budget": (Scope("bench/m", None, 10**9),),
    "gate, in-flight budget": (Scope("bench/m", 10**6, None),),
    "gate, provider in-flight + model per-minute": (
        Scope("bench", 10**6, None),
        Scope("bench/m", None, 10**9),
    ),
}


def counting(pauses: SharedPauses) -> list[int]:
    """Counts the commands ``pauses``' client sends (each one a round trip), in a one-item list."""
    sent = [0]
    client = pauses._redis  # benchmark-only peek: the service never needs this count
    execute = client.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        sent[0] += 1
        return await execute(*args, **options)

    client.execute_command = counted  # type: ignore[method-assign]
    return sent


def pause_check(pauses: SharedPauses) -> Callable[[], Awaitable[None]]:
    async def one() -> None:
        await pauses.remaining_s("bench/m")

    return one


def gate_call(pauses: SharedPauses, scopes: tuple[Scope, ...]) -> Callable[[], Awaitable[None]]:
    ledger = SharedLedger(pauses)
    gate = BudgetGate(Limiter(16), ledger, provider="bench", model_id="m", scopes=scopes, pauses=pauses)

    async def one() -> None:
        async with gate.within(30.0):
            pass

    return one


async def timed(calls: int, one: Callable[[], Awaitable[None]]) -> float:
    for _ in range(50):  # warm up: the script is loaded, the connection open
        await one()
    began = time.perf_counter()
    for _ in range(calls):
        await one()
    return (time.perf_counter() - began) / calls * 1e6


async def measure(url: str, calls: int) -> None:
    print(f"{'row':<46} {'µs per call':>12} {'round trips':>12}")
    for name, scopes in ROWS.items():
        pauses = SharedPauses(url)
        sent = counting(pauses)
        one = pause_check(pauses) if scopes is None else gate_call(pauses, scopes)
        await one()
        before = sent[0]
        micros = await timed(calls, one)
        per_call = (sent[0] - before) / (calls + 50)
        print(f"{name:<46} {micros:>12.0f} {per_call:>12.2f}")
        await pauses.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(measure(args.redis_url, args.calls))
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (apt-get install redis-server), or pass --redis-url")
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(  # noqa: S603 (the redis-server found on PATH)
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
        )
        try:
            url = f"redis://127.0.0.1:{port}/0"
            give_up = time.monotonic() + 10
            while True:
                try:
                    Redis.from_url(url).ping()
                    break
                except RedisError:  # still starting
                    if time.monotonic() > give_up:
                        raise
                    time.sleep(0.05)
            asyncio.run(measure(url, args.calls))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
