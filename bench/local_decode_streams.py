"""How fast the bundled llama.cpp server decodes one stream, and several at once, on this machine.

    .venv/bin/python bench/local_decode_streams.py [--streams 1,3] [--tokens 150]

It starts `python -m local_model` on a free port, sends kill-test's prompt with each stream its own
perspective (as the local roster's members), primes every slot's prompt cache, then for each
count N sends N requests at once, each made to write exactly `--tokens` tokens (``ignore_eos``),
and prints the tokens per second each stream decoded and all of them together (llama.cpp's own
``timings``). Why it matters: when N streams decode no faster together than one alone, N whole
answers cost N answers' time, which is why the local default votes in ballots (README).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.prompts import phase_prompt  # noqa: E402
from tests.support import catalog_for, free_port, stop_process  # noqa: E402

IDEA = "An AI agent that reconciles freight invoices against rate confirmations for brokers"


def messages(voice: int) -> list[dict[str, str]]:
    prompt = phase_prompt(catalog_for().get("kill-test"), idea=IDEA, context={}, instructions=None).full()
    return [
        {"role": "system", "content": f"{prompt.system}\n\nYour perspective: analyst {voice}"},
        {"role": "user", "content": prompt.user},
    ]


async def decode(http: httpx.AsyncClient, url: str, voice: int, tokens: int) -> dict[str, Any]:
    body = {"messages": messages(voice), "max_tokens": tokens, "ignore_eos": True, "seed": voice}
    answer = (await http.post(f"{url}/chat/completions", json=body, timeout=600)).json()
    timings: dict[str, Any] = answer["timings"]
    return timings


async def measure(url: str, counts: list[int], tokens: int) -> list[str]:
    lines = []
    async with httpx.AsyncClient() as http:
        for voice in range(max(counts)):  # every voice's prompt in a slot's cache
            await decode(http, url, voice, 1)
        for count in counts:
            began = time.monotonic()
            found = await asyncio.gather(*(decode(http, url, v, tokens) for v in range(count)))
            wall = time.monotonic() - began
            each = ", ".join(f"{t['predicted_per_second']:.1f}" for t in found)
            lines.append(
                f"{count} stream(s) x {tokens} tokens: {wall:.1f} s, {count * tokens / wall:.1f} tokens/s "
                f"together; each stream {each} tokens/s; prompt tokens read {[t['prompt_n'] for t in found]}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--streams", default="1,3", help="stream counts to time, in order")
    parser.add_argument("--tokens", type=int, default=150, help="tokens each stream writes")
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")]
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOCAL_MODEL_URL": url}
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "local_model"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 240
            while not _ready(port):  # llama.cpp answers /health 503 while it loads
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the local model server did not start (python -m local_model)")
                time.sleep(0.5)
            print(f"{len(os.sched_getaffinity(0))} cores, load average before {os.getloadavg()[0]:.1f}")
            print("\n".join(asyncio.run(measure(url, counts, args.tokens))))
        finally:
            stop_process(server, signal.SIGINT)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
