"""Issue #18's target table for a kill-test on the local model, measured in one run on this machine.

    .venv/bin/python bench/local_kill_test.py [--runs 3] [--also merge,synthesize] [--set NAME=VALUE ...]

It starts the service as `make run` does (`python -m app`, no cloud key, which starts the bundled
llama.cpp server), warms it with one single-model and one orchestrated kill-test, then times back to
back, `--runs` times each: one model alone (`options.single_model`) and the shipped orchestration
(the local default, strategy ballot), plus each `--also` strategy (`merge`: every member writes a
whole answer; `synthesize`: the LLM judge). The same again while a CPU burner it starts (one busy
process, about one core) runs, then stops it. Orchestrated runs are read as server-sent events
(`Accept: text/event-stream`), which also gives the time to the first progress event.

Each run asks about its own idea (the README's, with the run's number), once per kind, so no run
reuses another run's prompt and both kinds of a run answer the same request (the same prompt: its
fence nonce is derived from its text). The answers still differ in length (the second request
finds the prompt in the server's cache, and arithmetic done in other batches sends a 270M model
down another path), so the order alternates from run to run and the table gives the median of the
runs' own ratios beside the ratio of the medians. The tokens each model wrote are printed per run
(stderr) and as a median total in the table.
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
    decoded: tuple[int, ...] = ()
    """Tokens each model wrote (members, or the single model), from the answer's record."""


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


def single(origin: str, idea: str = IDEA) -> Timed:
    body = {"idea": idea, "options": {"single_model": True}}
    began = time.monotonic()
    response = httpx.post(f"{origin}/phases/kill-test/orchestrate", json=body, timeout=600)
    answered = response.json() if response.status_code == 200 else {}
    return Timed(
        time.monotonic() - began, _status(response.status_code, response.headers), None, _decoded(answered)
    )


def orchestrated(origin: str, idea: str = IDEA, strategy: str | None = None) -> Timed:
    """The run as server-sent events: the first event's time, and the result's (or error's)."""
    body: dict[str, Any] = {"idea": idea}
    if strategy:
        body["options"] = {"strategy": strategy}
    headers = {"Accept": "text/event-stream"}
    decoded: tuple[int, ...] = ()
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
                data = json.loads(line.removeprefix("data:"))
                status, decoded = _streamed_status(event, data), _decoded(data)
                break
    return Timed(time.monotonic() - began, status, first, decoded)


def _decoded(body: dict[str, Any]) -> tuple[int, ...]:
    return tuple(m.get("tokens_out") or 0 for m in body.get("models", []) if m.get("status") == "ok")


def _status(code: int, headers: httpx.Headers) -> str:
    retry = headers.get("retry-after")
    return f"{code}" + (f" Retry-After {retry}" if retry else "")


def _streamed_status(event: str, data: dict[str, Any]) -> str:
    if event == "result":
        return f"200 {data.get('mode')}/{data.get('strategy')}"
    error = data.get("error", data)
    return f"error {error.get('code')}"


def measure(origin: str, runs: int, also: list[str], label: str) -> dict[str, list[Timed]]:
    """Back to back, ``runs`` times, each on its own idea: single, the default orchestration and
    each ``also`` strategy, in that order on even runs and the reverse on odd ones."""
    found: dict[str, list[Timed]] = {"single": [], "default": [], **{name: [] for name in also}}
    for run in range(runs):
        idea = f"{IDEA} ({label} run {run + 1})"
        kinds = list(found) if run % 2 == 0 else list(reversed(found))
        for kind in kinds:
            if kind == "single":
                found[kind].append(single(origin, idea))
            else:
                found[kind].append(orchestrated(origin, idea, None if kind == "default" else kind))
    return found


def paired(over: list[Timed], under: list[Timed]) -> str:
    """The median of the runs' own ratios (each pair: one idea, the same answer)."""
    ratios = [o.wall_s / u.wall_s for o, u in zip(over, under, strict=True) if u.wall_s]
    return f"{statistics.median(ratios):.2f}×" if ratios else "–"


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


def decoded(timed: list[Timed]) -> str:
    totals = [sum(t.decoded) for t in timed if t.decoded]
    return f"{statistics.median(totals):.0f}" if totals else "–"


def per_token(timed: list[Timed]) -> float | None:
    """Median seconds per token of the answer itself (the first model's: single, or the writer):
    the same comparison at equal answer lengths, which each request's nonce otherwise varies."""
    rates = [t.wall_s / t.decoded[0] for t in timed if t.decoded and t.decoded[0]]
    return statistics.median(rates) if rates else None


def table(idle: dict[str, list[Timed]], busy: dict[str, list[Timed]], runs: int) -> list[str]:
    both = (idle, busy)
    rows = [
        (
            "single-model wall time (`options.single_model`)",
            *(seconds(median(m["single"])) for m in both),
            "–",
        ),
        (
            "orchestrated wall time (default: ballot)",
            *(seconds(median(m["default"])) for m in both),
            "≤ 20 s idle",
        ),
        (
            "orchestrated ÷ single",
            *(ratio(median(m["default"]), median(m["single"])) for m in both),
            "≤ 1.5×",
        ),
        ("orchestrated ÷ single, per run (median)", *(paired(m["default"], m["single"]) for m in both), "–"),
        (
            "the same per token of the answer (single's, or the writer's)",
            *(ratio(per_token(m["default"]), per_token(m["single"])) for m in both),
            "–",
        ),
        ("tokens written per run, single (median)", *(decoded(m["single"]) for m in both), "–"),
        ("tokens written per run, orchestrated (median)", *(decoded(m["default"]) for m in both), "–"),
        ("single-model answers", statuses(idle["single"]), statuses(busy["single"]), "–"),
        (
            "orchestrated answers",
            statuses(idle["default"]),
            statuses(busy["default"]),
            "200, or 503 + Retry-After ≤ 1 s",
        ),
        ("first progress event (SSE)", *(seconds(first_event(m["default"])) for m in both), "≤ 1 s"),
    ]
    for name in [k for k in idle if k not in ("single", "default")]:
        rows += [
            (f"`options.strategy: {name}` wall time", *(seconds(median(m[name])) for m in both), "–"),
            (f"{name} ÷ single", *(ratio(median(m[name]), median(m["single"])) for m in both), "–"),
            (f"tokens written per run, {name} (median)", *(decoded(m[name]) for m in both), "–"),
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
    parser.add_argument(
        "--also", default="", metavar="NAMES", help="strategies timed beside the default: merge,synthesize"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for a tuned row"
    )
    args = parser.parse_args()
    also = [name for name in args.also.split(",") if name]
    tuning = dict(item.split("=", 1) for item in args.set)
    if tuning:
        print(f"tuned: {tuning}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp, service(Path(tmp), tuning) as origin:
        began = time.monotonic()
        single(origin)  # warm: model loaded, prompt cache primed
        orchestrated(origin)
        print(f"warm-up (cold start's first runs): {time.monotonic() - began:.1f} s", file=sys.stderr)
        idle = measure(origin, args.runs, also, "idle")
        with cpu_burner():
            busy = measure(origin, args.runs, also, "busy")
    for name, found in (("idle", idle), ("busy", busy)):
        for kind, timed in found.items():
            for t in timed:
                print(
                    f"{name} {kind}: {t.wall_s:.1f} s {t.status} first event {seconds(t.first_event_s)}"
                    f" tokens written {'/'.join(map(str, t.decoded)) or '–'}",
                    file=sys.stderr,
                )
    print("\n".join(table(idle, busy, args.runs)))


if __name__ == "__main__":
    main()
