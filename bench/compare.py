"""What the service adds to the models' own time and CPU, against two floors and LiteLLM, in one run.

    .venv/bin/python bench/compare.py            # about 8 minutes on 2 cores; writes BENCHMARKS.md
    .venv/bin/python bench/compare.py --profile /tmp/profiles   # the same, with py-spy profiles

Three fake upstreams (``bench/fake_llm.py``, each in its own process on 127.0.0.1) answer after L ms:
L=0, L=50, and L=50 with ~8 KB answers. For each system and each fake the system is started afresh in
its own process (uvicorn, one worker, log level warning) and driven by one load generator (aiohttp,
in this process, on uvloop):

- overhead at concurrency 1: 4 parallel models + 1 synthesizer, ideal latency 2·L; p50/p99 of
  (latency − 2·L), at L=0 and L=50;
- load at concurrency 64, L=50: req/s, p50/p99 latency, the server process's CPU ms per orchestration
  (psutil ``cpu_times()`` user+system, before/after), peak RSS (``VmHWM`` of the process);
- the same load with ~8 KB answers.

Systems: the service (``python -m app``, every provider pointed at the fake, kill-test with 4 parallel
OpenAI-compatible models and one synthesizer, no wild ideas, no store/cache/rate limit), floor-httpx,
floor-aiohttp and litellm (``bench/floors.py``). LiteLLM is a benchmark-only dependency
(``.venv/bin/pip install -e '.[bench]'``); when it cannot be imported its row is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from sampling import Profile, group_table, markdown, sampling, top_entries
from store_rows import MODES, StoreRow, file_mb, prefill, shipped_max_bytes, store_env
from store_rows import markdown as store_markdown

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
PATH = "/phases/kill-test/orchestrate"
IDEA = "An AI agent that reconciles freight invoices for small brokers"
FLOOR = "floor-aiohttp"
KEPT_MARKER = "<!-- Written by hand below this line; bench/compare.py keeps it when it rewrites the file. -->"

PHASES_TOML = """
[models.bench-m1]
provider = "openai_compat"
model_id = "bench-m1"
[models.bench-m2]
provider = "openai_compat"
model_id = "bench-m2"
[models.bench-m3]
provider = "openai_compat"
model_id = "bench-m3"
[models.bench-m4]
provider = "openai_compat"
model_id = "bench-m4"
[models.bench-judge]
provider = "openai_compat"
model_id = "bench-judge"

[phases.kill-test]
parallel = [
    { model = "bench-m1", temperature = 0.5, max_tokens = 4096 },
    { model = "bench-m2", temperature = 0.5, max_tokens = 4096 },
    { model = "bench-m3", temperature = 0.5, max_tokens = 4096 },
    { model = "bench-m4", temperature = 0.5, max_tokens = 4096 },
]
wild_ideas_model = ""
[phases.kill-test.synthesis]
models = ["bench-judge"]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


@contextmanager
def process(args: list[str], health: str, env: dict[str, str] | None = None) -> Iterator[psutil.Process]:
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and scripts)
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_http(health, proc)
        yield psutil.Process(proc.pid)
    except RuntimeError:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        raise
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Fake:
    name: str
    latency_ms: float
    pad_bytes: int
    port: int = field(default_factory=free_port)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        return [
            PYTHON,
            str(BENCH / "fake_llm.py"),
            f"--port={self.port}",
            f"--latency-ms={self.latency_ms}",
            f"--pad-bytes={self.pad_bytes}",
        ]


def service_env(
    fake: Fake, port: int, phases_file: Path, extra: dict[str, str | None] | None = None
) -> dict[str, str]:
    origin = fake.origin
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC", "MINIMAX"))}
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
            "WORKERS_AI_BASE_URL": f"{origin}/client/v4/accounts/{{account_id}}/ai/run",
            "WORKERS_AI_ACCOUNT_ID": "fake-account",
            "WORKERS_AI_API_TOKEN": "fake-key",
            "ANTHROPIC_BASE_URL": f"{origin}/anthropic",
            "ANTHROPIC_API_KEY": "fake-key",
            "MINIMAX_BASE_URL": f"{origin}/minimax/v1",
            "MINIMAX_API_KEY": "fake-key",
            "OPENAI_COMPAT_BASE_URL": f"{origin}/openai/v1",
            "OPENAI_COMPAT_MODEL": "local-model",
            "PHASES_CONFIG_FILE": str(phases_file),
            "STORE_BACKEND": "none",
            # Empty means "no limit" to the service, but pydantic-settings ignores empty variables
            # (env_ignore_empty), so a blank value is what actually turns the limit off.
            "RATE_LIMIT": "off",
            "CACHE_TTL_S": "0",
            "LOCAL_MODEL_ENABLED": "false",
            # Not the service's defaults (16 calls per provider, 200 connections): at concurrency 64
            # x 5 calls they would queue the calls, which measures a setting, not the code.
            "DEFAULT_PROVIDER_CONCURRENCY": "1024",
            "MAX_CONNECTIONS": "1024",
        }
    )
    for name, value in (extra or {}).items():  # None: leave the service's default
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@contextmanager
def system(
    name: str, fake: Fake, phases_file: Path, extra: dict[str, str | None] | None = None
) -> Iterator[tuple[psutil.Process, str]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    if name == "service":
        env = service_env(fake, port, phases_file, extra)
        with process([PYTHON, "-m", "app"], f"{origin}/healthz", env) as proc:
            yield proc, origin
        return
    kind = name.removeprefix("floor-")
    args = [PYTHON, str(BENCH / "floors.py"), f"--kind={kind}", f"--port={port}"]
    args.append(f"--base-url={fake.origin}/openai/v1")
    with process(args, f"{origin}/healthz") as proc:
        yield proc, origin


@dataclass
class Run:
    latencies_ms: list[float]
    errors: int
    wall_s: float
    cpu_ms: float = 0.0
    rss_mb: float = 0.0
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    def pct(self, q: float, minus_ms: float = 0.0) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index] - minus_ms

    @property
    def rps(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_per_orch(self) -> float:
        return self.cpu_ms / self.ok if self.ok else float("nan")


async def drive(origin: str, requests: int, concurrency: int, *, unique: bool = False) -> Run:
    """``requests`` orchestrations, ``concurrency`` at a time; latency of each 200, others counted.

    ``unique``: every request a body of its own, so each one the store keeps is a new entry."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    left = requests
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                body = {"idea": f"{IDEA} #{time.time_ns()}-{left}" if unique else IDEA}
                start = time.perf_counter()
                try:
                    async with session.post(origin + PATH, json=body) as response:
                        data = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    kind = type(exc).__name__
                    errors[kind] = errors.get(kind, 0) + 1
                    continue
                if status == 200:
                    latencies.append((time.perf_counter() - start) * 1000)
                    if b'"degraded":true' in data or b'"degraded": true' in data:  # a fallback answered
                        errors["degraded 200"] = errors.get("degraded 200", 0) + 1
                else:
                    errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    failed = sum(n for k, n in errors.items() if k != "degraded 200")
    return Run(latencies, failed, wall, error_kinds=errors)


def peak_rss_mb(proc: psutil.Process) -> float:
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    rss: int = proc.memory_info().rss
    return rss / 2**20


async def measured(
    proc: psutil.Process, origin: str, requests: int, concurrency: int, *, unique: bool = False
) -> Run:
    before = proc.cpu_times()
    run = await drive(origin, requests, concurrency, unique=unique)
    after = proc.cpu_times()
    run.cpu_ms = ((after.user - before.user) + (after.system - before.system)) * 1000
    run.rss_mb = peak_rss_mb(proc)
    return run


@dataclass
class Plan:
    c1_requests: int
    load_requests: int
    concurrency: int
    warmup: int
    profile_dir: Path | None = None
    """When set, py-spy samples each system during its c=64 L=50 load run."""


@dataclass
class Results:
    overhead0: Run | None = None
    overhead50: Run | None = None
    load: Run | None = None
    load8k: Run | None = None
    profile: Profile | None = None


async def bench_system(name: str, fakes: dict[str, Fake], phases_file: Path, plan: Plan) -> Results:
    results = Results()
    with system(name, fakes["L0"], phases_file) as (proc, origin):
        await drive(origin, plan.warmup, 1)
        results.overhead0 = await measured(proc, origin, plan.c1_requests, 1)
    report(name, "c=1 L=0", results.overhead0, 0)
    with system(name, fakes["L50"], phases_file) as (proc, origin):
        await drive(origin, plan.warmup, 1)
        results.overhead50 = await measured(proc, origin, plan.c1_requests, 1)
        report(name, "c=1 L=50", results.overhead50, 100)
        await drive(origin, plan.concurrency * 2, plan.concurrency)
        if plan.profile_dir is None:
            results.load = await measured(proc, origin, plan.load_requests, plan.concurrency)
        else:
            raw = plan.profile_dir / f"{name}.collapsed.txt"
            with sampling(proc.pid, raw):
                results.load = await measured(proc, origin, plan.load_requests, plan.concurrency)
            results.profile = top_entries(raw)
    report(name, f"c={plan.concurrency} L=50", results.load, 0)
    with system(name, fakes["L50-8k"], phases_file) as (proc, origin):
        await drive(origin, plan.warmup, 1)
        await drive(origin, plan.concurrency * 2, plan.concurrency)
        results.load8k = await measured(proc, origin, plan.load_requests, plan.concurrency)
    report(name, f"c={plan.concurrency} L=50 8KB", results.load8k, 0)
    return results


def report(name: str, what: str, run: Run, ideal_ms: float) -> None:
    print(
        f"  {name:<14} {what:<16} ok={run.ok:<5} errors={run.errors:<4} p50={run.pct(50, ideal_ms):8.2f} ms "
        f"p99={run.pct(99, ideal_ms):8.2f} ms  {run.rps:7.1f} req/s  cpu/orch={run.cpu_per_orch:6.2f} ms  "
        f"rss={run.rss_mb:6.1f} MB {run.error_kinds or ''}",
        flush=True,
    )


# ---- the table -----------------------------------------------------------------------------------


def ratio(value: float, floor: float) -> str:
    if floor != floor or value != value or floor <= 0:  # NaN or zero
        return "–"
    return f"{value / floor:.2f}×"


def cell(value: float, floor: float, fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(value)} ({ratio(value, floor)})"


def table(results: dict[str, Results], concurrency: int) -> list[str]:
    floor = results[FLOOR]
    assert floor.overhead0 and floor.overhead50 and floor.load and floor.load8k
    head = (
        "| system | p50 / p99 overhead L=0 (ms) | p50 / p99 overhead L=50 (ms) "
        f"| req/s c={concurrency} | p50 / p99 c={concurrency} (ms) | CPU ms/orch | peak RSS MB "
        f"| 8 KB: req/s | 8 KB: p50 / p99 (ms) | 8 KB: CPU ms/orch | 8 KB: peak RSS MB | errors |"
    )
    lines = [head, "|" + "---|" * 12]
    for name, r in results.items():
        assert r.overhead0 and r.overhead50 and r.load and r.load8k
        errors = r.overhead0.errors + r.overhead50.errors + r.load.errors + r.load8k.errors
        kinds: dict[str, int] = {}
        for run in (r.overhead0, r.overhead50, r.load, r.load8k):
            for k, n in run.error_kinds.items():
                kinds[k] = kinds.get(k, 0) + n
        shown = f"{errors}" + (f" ({', '.join(f'{k}: {n}' for k, n in kinds.items())})" if kinds else "")
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    f"{cell(r.overhead0.pct(50), floor.overhead0.pct(50))} / "
                    f"{cell(r.overhead0.pct(99), floor.overhead0.pct(99))}",
                    f"{cell(r.overhead50.pct(50, 100), floor.overhead50.pct(50, 100))} / "
                    f"{cell(r.overhead50.pct(99, 100), floor.overhead50.pct(99, 100))}",
                    cell(r.load.rps, floor.load.rps, "{:.0f}"),
                    f"{r.load.pct(50):.0f} / {r.load.pct(99):.0f}",
                    cell(r.load.cpu_per_orch, floor.load.cpu_per_orch),
                    cell(r.load.rss_mb, floor.load.rss_mb, "{:.0f}"),
                    cell(r.load8k.rps, floor.load8k.rps, "{:.0f}"),
                    f"{r.load8k.pct(50):.0f} / {r.load8k.pct(99):.0f}",
                    cell(r.load8k.cpu_per_orch, floor.load8k.cpu_per_orch),
                    cell(r.load8k.rss_mb, floor.load8k.rss_mb, "{:.0f}"),
                    shown,
                ]
            )
            + " |"
        )
    return lines


def targets(results: dict[str, Results]) -> list[str]:
    service, floor = results["service"], results[FLOOR]
    assert service.overhead0 and service.overhead50 and service.load and service.load8k
    assert floor.overhead0 and floor.overhead50 and floor.load and floor.load8k

    def row(what: str, value: float, limit: float, unit: str, ok: bool) -> str:
        return f"| {what} | {value:.2f}{unit} | {limit:.2f}{unit} | {'met' if ok else '**not met**'} |"

    p50_0 = service.overhead0.pct(50) / floor.overhead0.pct(50)
    p50_50 = service.overhead50.pct(50, 100) / floor.overhead50.pct(50, 100)
    cpu = service.load.cpu_per_orch / floor.load.cpu_per_orch
    rps = service.load.rps / floor.load.rps
    rps8k = service.load8k.rps / floor.load8k.rps
    rss = max(service.load.rss_mb, service.load8k.rss_mb)
    return [
        "| target (service vs floor-aiohttp) | measured | limit | |",
        "|---|---|---|---|",
        row("p50 overhead at c=1, L=0 (ratio)", p50_0, 1.3, "×", p50_0 <= 1.3),
        row("p50 overhead at c=1, L=50 (ratio)", p50_50, 1.3, "×", p50_50 <= 1.3),
        row("CPU ms per orchestration at c=64 (ratio)", cpu, 2.0, "×", cpu <= 2.0),
        row("throughput at c=64 (ratio, at least)", rps, 0.5, "×", rps >= 0.5),
        row("throughput at c=64 with 8 KB answers (ratio, at least)", rps8k, 0.5, "×", rps8k >= 0.5),
        row("peak RSS under c=64 (MB)", rss, 150, " MB", rss <= 150),
    ]


def versions() -> str:
    names = ["fastapi", "starlette", "uvicorn", "uvloop", "httptools", "httpx", "aiohttp", "litellm"]
    names += ["openai", "pydantic", "psutil"]
    found = []
    for name in names:
        with suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def litellm_importable() -> str | None:
    """``None`` when LiteLLM imports; else why not."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    try:
        done = subprocess.run(  # noqa: S603
            [PYTHON, "-c", "import litellm"], env=env, capture_output=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired:
        return "importing litellm took over 120 s"
    return None if done.returncode == 0 else done.stderr.decode(errors="replace").strip().splitlines()[-1]


def write_markdown(
    path: Path, results: dict[str, Results], plan: Plan, took_s: float, notes: list[str]
) -> None:
    cpu = platform.processor() or platform.machine()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        "# Benchmarks: what orchestration adds to the models' own time and CPU",
        "",
        "Reproduce: `.venv/bin/python bench/compare.py --profile /tmp/profiles` (benchmark-only",
        "dependencies: `.venv/bin/pip install -e '.[bench]'`; see the docstrings of `bench/compare.py`,",
        "`bench/floors.py` and `bench/fake_llm.py`).",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"the whole run took {took_s / 60:.1f} min.",
        f"- Machine: {os.cpu_count()} cores (`nproc` = {os.cpu_count()}), {model or cpu}, shared and noisy: "
        "the fake upstream, the system under test and the load generator share the same 2 cores, so absolute "
        "figures move from run to run; compare the ratios.",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}.",
        f"- Versions: {versions()}.",
        f"- Requests: {plan.c1_requests} per overhead run (c=1, after {plan.warmup} warm-up), "
        f"{plan.load_requests} per load run (c={plan.concurrency}, after {plan.concurrency * 2} warm-up).",
        "",
        "Every system: 4 parallel chat completions at L ms, then 1 synthesis call at L ms (ideal latency",
        "2·L), against one fake upstream on 127.0.0.1 (`bench/fake_llm.py`, aiohttp.web, its own process)",
        "answering a valid kill-test output (2.4 KB; ~8 KB in the 8 KB runs). Each system runs in its own",
        "process (uvicorn, one worker). Overhead = latency − 2·L at concurrency 1. CPU ms/orch = user+system",
        "CPU of the server process during the load run ÷ successful orchestrations. Peak RSS = `VmHWM` of",
        "the server process. In parentheses: the ratio to floor-aiohttp.",
        "",
        "- **service**: `python -m app`, all four providers pointed at the fake; kill-test configured",
        "  (PHASES_CONFIG_FILE) with 4 parallel OpenAI-compatible models and 1 synthesizer, wild ideas off,",
        "  `STORE_BACKEND=none`, no rate limit, `CACHE_TTL_S=0`, `LOCAL_MODEL_ENABLED=false`, default",
        "  retries, and `DEFAULT_PROVIDER_CONCURRENCY=1024`, `MAX_CONNECTIONS=1024` (the defaults, 16 and",
        "  200, would queue 64 × 5 calls and measure the setting instead of the code).",
        "- **floor-httpx** / **floor-aiohttp**: a Starlette endpoint, `asyncio.gather` of 4 chat completions",
        "  with one shared `httpx.AsyncClient` / `aiohttp.ClientSession`, one synthesis call, `json.loads`.",
        "- **litellm**: the same with `litellm.acompletion(model='openai/<id>', api_base=<fake>)`.",
        "",
        "## Results",
        "",
        *table(results, plan.concurrency),
        "",
        "## Targets (issue 9)",
        "",
        *targets(results),
        "",
    ]
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    profiled = {name: r.profile for name, r in results.items() if r.profile is not None}
    if profiled:
        lines += [
            f"## Profiles (py-spy, c={plan.concurrency} L=50 load run)",
            "",
            "py-spy sampled each server process at 250 Hz while the load ran. Self: the leaf frame, where",
            "the CPU goes. Inclusive: every frame on the stack. Shares are of busy samples (an idle event",
            "loop's wait is left out).",
            "",
        ]
        lines += [
            "### Where the CPU goes",
            "",
            "Each group's share of busy samples (by the leaf frame's package) times the system's measured",
            "CPU ms per orchestration in the same load run.",
            "",
        ]
        cpu = {name: r.load.cpu_per_orch for name, r in results.items() if r.load is not None}
        lines += group_table({name: (prof, cpu[name]) for name, prof in profiled.items()})
        lines += ["### Top entries", ""]
        for name, prof in profiled.items():
            lines += markdown(name, prof)
    kept = ""
    if path.exists():
        _, marker, kept = path.read_text(encoding="utf-8").partition(KEPT_MARKER)
        kept = kept if marker else ""
    lines += [KEPT_MARKER + kept.rstrip("\n"), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def print_summary(results: dict[str, Results], plan: Plan) -> None:
    print()
    for line in table(results, plan.concurrency):
        print(line)
    print()
    for line in targets(results):
        print(line)
    for name, r in results.items():
        if r.profile is not None:
            print()
            for line in markdown(name, r.profile):
                print(line)


async def bench_store(mode: str, fake: Fake, phases_file: Path, plan: Plan, max_bytes: int) -> StoreRow:
    """The service at c=64 L=50 with the store ``mode`` (off, on, prefilled), unique bodies."""
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        path = Path(tmp) / "store.sqlite3"
        rows = await prefill(path, max_bytes) if mode == "prefilled" else 0
        with system("service", fake, phases_file, store_env(mode, path)) as (proc, origin):
            await drive(origin, plan.concurrency * 2, plan.concurrency, unique=True)
            if plan.profile_dir is None:
                run = await measured(proc, origin, plan.load_requests, plan.concurrency, unique=True)
            else:
                with sampling(proc.pid, plan.profile_dir / f"store-{mode}.collapsed.txt"):
                    run = await measured(proc, origin, plan.load_requests, plan.concurrency, unique=True)
        mb = file_mb(path) if path.exists() else 0.0
    report(f"store {mode}", f"c={plan.concurrency} L=50", run, 0)
    return StoreRow(mode, rows, run.ok, run.errors, run.rps, run.pct(50), run.pct(99), run.cpu_per_orch, mb)


async def store_rows_async(args: argparse.Namespace) -> None:
    """Only the store rows: the service with the store off / on / pre-filled, printed as a table."""
    plan = Plan(args.c1_requests, args.load_requests, args.concurrency, args.warmup, args.profile)
    modes = [m for m in args.store.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise SystemExit(f"--store takes {', '.join(MODES)}, not {', '.join(unknown)}")
    max_bytes = args.prefill_bytes or shipped_max_bytes()
    fake = Fake("L50", 50, 0)
    rows: list[StoreRow] = []
    with tempfile.TemporaryDirectory() as tmp, process(fake.args(), f"{fake.origin}/health"):
        phases_file = Path(tmp) / "phases.toml"
        phases_file.write_text(PHASES_TOML, encoding="utf-8")
        for mode in modes:
            rows.append(await bench_store(mode, fake, phases_file, plan, max_bytes))
    print()
    for line in store_markdown(rows, plan.concurrency):
        print(line)


async def main_async(args: argparse.Namespace) -> None:
    if args.store:
        await store_rows_async(args)
        return
    started = time.monotonic()
    plan = Plan(args.c1_requests, args.load_requests, args.concurrency, args.warmup, args.profile)
    notes: list[str] = list(args.note or [])
    if plan.load_requests < 1500:
        notes.append(
            f"Load runs use {plan.load_requests} requests (the issue suggests about 1500) to keep the whole "
            "run near 8 minutes on 2 cores: the slower systems do 10-30 orchestrations per second at c=64."
        )
    systems = ["service", "floor-httpx", "floor-aiohttp", "litellm"]
    if args.systems:
        systems = [s for s in args.systems.split(",") if s]
    if "litellm" in systems:
        why = litellm_importable()
        if why is not None:
            systems.remove("litellm")
            notes.append(f"LiteLLM left out: {why}")
            print(f"LiteLLM left out: {why}", flush=True)
    fakes = {
        "L0": Fake("L0", 0, 0),
        "L50": Fake("L50", 50, 0),
        "L50-8k": Fake("L50-8k", 50, 8192),
    }
    results: dict[str, Results] = {}
    with tempfile.TemporaryDirectory() as tmp:
        phases_file = Path(tmp) / "phases.toml"
        phases_file.write_text(PHASES_TOML, encoding="utf-8")
        with (
            process(fakes["L0"].args(), f"{fakes['L0'].origin}/health"),
            process(fakes["L50"].args(), f"{fakes['L50'].origin}/health"),
            process(fakes["L50-8k"].args(), f"{fakes['L50-8k'].origin}/health"),
        ):
            for name in systems:
                print(f"{name}:", flush=True)
                results[name] = await bench_system(name, fakes, phases_file, plan)
    took = time.monotonic() - started
    if FLOOR in results and "service" in results:
        print_summary(results, plan)
        write_markdown(Path(args.output), results, plan, took, notes)
        print(f"\nwrote {args.output}")
    print(f"took {took:.0f} s")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/compare.py", description=__doc__.splitlines()[0])
    parser.add_argument("--c1-requests", type=int, default=200, help="requests per overhead run (c=1)")
    parser.add_argument("--load-requests", type=int, default=1000, help="requests per load run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--systems", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--note", action="append", help="a line for the Notes section")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample each system with py-spy during its c=64 load run; raw stacks go to DIR",
    )
    parser.add_argument(
        "--store",
        metavar="MODES",
        default="",
        help="only the store rows, e.g. off,on,prefilled (see bench/store_rows.py); prints a table",
    )
    parser.add_argument(
        "--prefill-bytes",
        type=int,
        default=0,
        help="fill the prefilled store to this (default STORE_MAX_BYTES)",
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.profile = Path(args.profile).resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
