"""Issue #18's target table for a kill-test on the local model, measured in one run on this machine.

    .venv/bin/python bench/local_kill_test.py [--runs 3] [--judge] [--set LOCAL_MODEL_MEMBERS=2 ...]

It starts the service as `make run` does (`python -m app`, no cloud key, which starts the bundled
llama.cpp server), warms it with one single-model and one orchestrated kill-test, then times back to
back, `--runs` times each: one model alone (`options.single_model`) and the shipped orchestration
(the local default, strategy merge; `--judge` adds the LLM judge, `options.strategy: synthesize`).
The same again while a CPU burner it starts (one busy process, about one core) runs, then stops it.
Orchestrated runs are read as server-sent events (`Accept: text/event-stream`), which also gives
the time to the first progress event. Figures are medians; a shared machine makes them noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import free_port, stop_process, wait_ready  # noqa: E402

IDEA = "An AI agent that reconciles freight invoices against rate confirmations for brokers"
BURNER = "while True: pass"


@dataclass(frozen=True, slots=True)
class Timed:
    """One request: its wall time, status and (streamed) the first progress event's time."""

    wall_s: float
    status: str
    first_event_s: float | None = None


@contextmanager
def service(tmp: Path, tuning: dict[str, str]) -> Iterator[str]:
    """`python -m app` on free ports with no provider key; stopped with SIGINT, as Ctrl-C does.
    ``tuning``: settings beside the shipped defaults (``--set``), for a tuned row."""
    api_port, model_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp)),
        "PYTHONPATH": str(ROOT),
        "PORT": str(api_port),
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{model_port}/v1",
        "LOG_LEVEL": "WARNING",
        "STORE_BACKEND": "none",
        "RATE_LIMIT": "off",
        **tuning,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    origin = f"http://127.0.0.1:{api_port}"
    try:
        wait_ready(origin, process, timeout_s=240)
        yield origin
    finally:
        stop_process(process, signal.SIGINT)


@contextmanager
def cpu_burner() -> Iterator[None]:
    """One process spinning on a core for as long as the block runs."""
    burner = subprocess.Popen([sys.executable, "-c", BURNER])  # noqa: S603
    try:
        yield
    finally:
        burner.terminate()
        burner.wait(timeout=10)


def single(origin: str) -> Timed:
    body = {"idea": IDEA, "options": {"single_model": True}}
    began = time.monotonic()
    response = httpx.post(f"{origin}/phases/kill-test/orchestrate", json=body, timeout=600)
    return Timed(time.monotonic() - began, _status(response.status_code, response.headers))


def orchestrated(origin: str, strategy: str | None = None) -> Timed:
    """The run as server-sent events: the first event's time, and the result's (or error's)."""
    body: dict[str, Any] = {"idea": IDEA}
    if strategy:
        body["options"] = {"strategy": strategy}
    headers = {"Accept": "text/event-stream"}
    began, first, status = time.monotonic(), None, "no result"
    url = f"{origin}/phases/kill-test/orchestrate"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=600) as response:
        if response.status_code != 200:
            response.read()
            return Timed(time.monotonic() - began, _status(response.status_code, response.headers))
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
                first = first if first is not None else time.monotonic() - began
            elif line.startswith("data:") and event in ("result", "error"):
                status = _streamed_status(event, json.loads(line.removeprefix("data:")))
                break
    return Timed(time.monotonic() - began, status, first)


def _status(code: int, headers: httpx.Headers) -> str:
    retry = headers.get("retry-after")
    return f"{code}" + (f" Retry-After {retry}" if retry else "")


def _streamed_status(event: str, data: dict[str, Any]) -> str:
    if event == "result":
        return f"200 {data.get('mode')}/{data.get('strategy')}"
    error = data.get("error", data)
    return f"error {error.get('code')}"


def measure(origin: str, runs: int, judge: bool) -> dict[str, list[Timed]]:
    """Back to back, ``runs`` times: single, orchestrated (and the judge's run, if asked)."""
    found: dict[str, list[Timed]] = {"single": [], "merge": [], "judge": []}
    for _ in range(runs):
        found["single"].append(single(origin))
        found["merge"].append(orchestrated(origin))
        if judge:
            found["judge"].append(orchestrated(origin, "synthesize"))
    return found


def median(timed: list[Timed]) -> float | None:
    return statistics.median(t.wall_s for t in timed) if timed else None


def first_event(timed: list[Timed]) -> float | None:
    firsts = [t.first_event_s for t in timed if t.first_event_s is not None]
    return statistics.median(firsts) if firsts else None


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def ratio(over: float | None, under: float | None) -> str:
    return "–" if over is None or not under else f"{over / under:.2f}×"


def statuses(timed: list[Timed]) -> str:
    counts: dict[str, int] = {}
    for t in timed:
        counts[t.status] = counts.get(t.status, 0) + 1
    return ", ".join(f"{status} ×{n}" for status, n in counts.items()) or "–"


def table(idle: dict[str, list[Timed]], busy: dict[str, list[Timed]], runs: int) -> list[str]:
    rows = [
        (
            "single-model wall time (`options.single_model`)",
            *(seconds(median(m["single"])) for m in (idle, busy)),
            "–",
        ),
        (
            "orchestrated wall time (default: merge)",
            *(seconds(median(m["merge"])) for m in (idle, busy)),
            "≤ 20 s idle",
        ),
        (
            "orchestrated ÷ single",
            *(ratio(median(m["merge"]), median(m["single"])) for m in (idle, busy)),
            "≤ 1.5×",
        ),
        ("single-model answers", statuses(idle["single"]), statuses(busy["single"]), "–"),
        (
            "orchestrated answers",
            statuses(idle["merge"]),
            statuses(busy["merge"]),
            "200, or 503 + Retry-After ≤ 1 s",
        ),
        ("first progress event (SSE)", *(seconds(first_event(m["merge"])) for m in (idle, busy)), "≤ 1 s"),
    ]
    if idle["judge"]:
        rows += [
            (
                "with the LLM judge (`strategy: synthesize`)",
                *(seconds(median(m["judge"])) for m in (idle, busy)),
                "–",
            ),
            ("judge ÷ single", *(ratio(median(m["judge"]), median(m["single"])) for m in (idle, busy)), "–"),
        ]
    head = [
        f"kill-test on the local model, warm, median of {runs}; {len(os.sched_getaffinity(0))} cores, "
        f"load average before {os.getloadavg()[0]:.1f}",
        "",
        "| figure | idle | one core kept busy | target |",
        "| --- | --- | --- | --- |",
    ]
    return head + [f"| {' | '.join(row)} |" for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each kind (median)")
    parser.add_argument("--judge", action="store_true", help="also time the LLM judge (synthesize)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for a tuned row"
    )
    args = parser.parse_args()
    tuning = dict(item.split("=", 1) for item in args.set)
    if tuning:
        print(f"tuned: {tuning}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp, service(Path(tmp), tuning) as origin:
        began = time.monotonic()
        single(origin)  # warm: model loaded, prompt cache primed
        orchestrated(origin)
        print(f"warm-up (cold start's first runs): {time.monotonic() - began:.1f} s", file=sys.stderr)
        idle = measure(origin, args.runs, args.judge)
        with cpu_burner():
            busy = measure(origin, args.runs, args.judge)
    for name, found in (("idle", idle), ("busy", busy)):
        for kind, timed in found.items():
            for t in timed:
                print(
                    f"{name} {kind}: {t.wall_s:.1f} s {t.status} first event {seconds(t.first_event_s)}",
                    file=sys.stderr,
                )
    print("\n".join(table(idle, busy, args.runs)))


if __name__ == "__main__":
    main()
