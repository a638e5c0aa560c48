"""The walk of one request from the route to the wire, measured: how many of the service's functions
it enters, in how many modules, and how many of its own types it builds on the way.

The service runs in-process against ``bench/fake_llm.py`` (its own process on 127.0.0.1) with the
benchmark's phase config, so the real adapters and the real HTTP client are used. One kill-test
orchestration is traced with ``sys.setprofile``:

- *to the wire*: from the route handler's entry to the first outbound send (aiohttp or httpx);
- *whole request*: every ``app`` function entered until the response is built.

Run it on two checkouts to compare a restructuring (it reads only public entry points)::

    .venv/bin/python bench/request_walk.py            # prints a small table
    .venv/bin/python bench/request_walk.py --list     # and every function on the way to the wire
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compare import PHASES_TOML, Fake, free_port, service_env, wait_http  # noqa: E402

IDEA = "A marketplace where retired engineers mentor first-time hardware founders, paid per session."
_WIRE_MODULES = ("aiohttp.client",)
"""The production send (HTTP_BACKEND=aiohttp, the default); the test client itself is httpx."""


_NOT_A_STEP = re.compile(r"<(?:listcomp|dictcomp|setcomp|genexpr|lambda)>|__create_fn__")
"""Comprehensions and generated dataclass constructors: counted as types built, not as steps."""


@dataclass
class Walk:
    """What one traced request entered, in order of first entry."""

    to_wire: list[str] = field(default_factory=list)
    whole: list[str] = field(default_factory=list)
    types_to_wire: list[str] = field(default_factory=list)
    reached_wire: bool = False

    def enter(self, frame: FrameType) -> None:
        module = frame.f_globals.get("__name__", "")
        if not self.reached_wire and module.startswith(_WIRE_MODULES):
            self.reached_wire = True
            return
        if not module.startswith("app."):
            return
        name = f"{module}:{frame.f_code.co_qualname}"
        if frame.f_code.co_name == "__init__" and "self" in frame.f_locals:
            built = type(frame.f_locals["self"])
            if built.__module__.startswith("app.") and not self.reached_wire:
                label = f"{built.__module__}.{built.__qualname__}"
                if label not in self.types_to_wire:
                    self.types_to_wire.append(label)
        if _NOT_A_STEP.search(name):
            return
        if name not in self.whole:
            self.whole.append(name)
        if not self.reached_wire and name not in self.to_wire:
            self.to_wire.append(name)


def _modules(names: list[str]) -> int:
    return len({name.split(":", 1)[0] for name in names})


@contextmanager
def fake_upstream() -> Iterator[Fake]:
    fake = Fake("walk", latency_ms=0, pad_bytes=0)
    proc = subprocess.Popen(fake.args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        wait_http(f"{fake.origin}/health", proc)
        yield fake
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def traced_request(walk: Walk) -> int:
    from app.main import create_app  # after the environment is set: Settings read it

    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://walk") as client:
            body = {"idea": IDEA}
            warm = await client.post("/phases/kill-test/orchestrate", json=body)  # imports, caches
            warm.raise_for_status()

            def profiler(frame: FrameType, event: str, _arg: Any) -> None:
                if event == "call":
                    walk.enter(frame)

            sys.setprofile(profiler)
            try:
                response = await client.post("/phases/kill-test/orchestrate", json=body)
            finally:
                sys.setprofile(None)
            return response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--list", action="store_true", help="print every function on the way to the wire")
    args = parser.parse_args()
    walk = Walk()
    with fake_upstream() as fake, tempfile.TemporaryDirectory() as tmp:
        phases = Path(tmp) / "phases.toml"
        phases.write_text(PHASES_TOML, encoding="utf-8")
        os.environ.update(service_env(fake, free_port(), phases))
        status = asyncio.run(traced_request(walk))
    print(f"status {status}; reached the wire: {walk.reached_wire}")
    print("| walk | functions | modules |")
    print("|---|---:|---:|")
    print(f"| route -> first outbound send | {len(walk.to_wire)} | {_modules(walk.to_wire)} |")
    print(f"| whole request | {len(walk.whole)} | {_modules(walk.whole)} |")
    print(f"\nservice types built on the way to the wire: {len(walk.types_to_wire)}")
    for name in walk.types_to_wire:
        print(f"  {name}")
    if args.list:
        print("\nfunctions on the way to the wire, in order of first entry:")
        for name in walk.to_wire:
            print(f"  {name}")


if __name__ == "__main__":
    main()
