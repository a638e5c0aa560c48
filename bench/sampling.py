"""Sample a server process with py-spy during a load run and name the functions that dominate.

``bench/compare.py --profile DIR`` wraps each system's c=64 load run in ``sampling(pid, file)``: py-spy
attaches to the running server (no restart, no instrumentation, so the figures it perturbs least) and
writes collapsed stacks. ``top_entries`` then folds them into the two views a fix needs:

- self: where the CPU is actually spent (the leaf frame of each sample);
- inclusive: which of our own functions or which library entry points own that time.

Samples of an idle event loop (the selector's wait) are counted apart, so the percentages are of busy
time.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

IDLE_LEAVES = (
    "select (selectors.py",
    "poll (selectors.py",
    "run_once (uvloop",
    "_run_once (asyncio",
    "Condition.wait (threading.py",
)
"""Leaf frames of a loop with nothing to do, or of an idle worker thread."""
ENTRY_FRAMES = (
    "_run_code (",
    "_run_module_as_main (",
    "<module> (",
    "main (",
    "run (uvicorn",
    "asyncio_run (",
    "Server.run (",
    "Runner.run (",
    "Thread.",
    "_worker (concurrent",
)
"""Frames under every sample of a thread: as inclusive entries they say nothing."""


@contextmanager
def sampling(pid: int, output: Path, rate_hz: int = 250) -> Iterator[None]:
    """Record ``pid`` with py-spy for the duration of the block into ``output`` (collapsed stacks)."""
    exe = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy")
    args = [exe, "record", "--pid", str(pid), "--rate", str(rate_hz), "--format", "raw"]
    args += ["--nonblocking", "--output", str(output)]
    proc = subprocess.Popen(  # noqa: S603 (a known tool on our own child process)
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # py-spy attaches before the load starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes the file on SIGINT
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


GROUPS = (
    ("aiohttp/", "aiohttp: outbound HTTP"),
    ("httpcore/", "httpcore: httpx's connection pool"),
    ("httpx/", "httpx: request/response objects"),
    ("litellm/", "litellm"),
    ("openai/", "openai SDK (under litellm)"),
    ("httpx_aiohttp/", "httpx: request/response objects"),
    ("uvicorn/", "uvicorn: inbound HTTP"),
    ("anyio/", "thread hand-offs (anyio)"),
    ("concurrent/", "thread hand-offs (anyio)"),
    ("threading.py", "thread hand-offs (anyio)"),
    ("starlette/", "starlette/fastapi: routing, middleware"),
    ("fastapi/", "starlette/fastapi: routing, middleware"),
    ("pydantic", "pydantic: models"),
    ("tenacity/", "tenacity: retries"),
    ("structlog/", "logging"),
    ("logging/", "logging"),
    ("prometheus_client/", "metrics"),
    ("json/", "json: encode/decode"),
    ("app/providers/", "app: provider adapters"),
    ("app/synthesis/", "app: extract, validate, judge prompt, agreement"),
    ("app/api/", "app: api (gate, request id, presenting)"),
    ("app/", "app: pipeline, fan-out, guards"),
    ("floors.py", "floor's own code"),
    ("asyncio/", "event loop, tasks, timeouts"),
    ("uvloop", "event loop, tasks, timeouts"),
)
"""Leaf frames by where they live: the first matching path prefix names the group."""


@dataclass
class Profile:
    samples: int
    idle: int
    self_top: list[tuple[str, float]]
    inclusive_top: list[tuple[str, float]]
    groups: dict[str, float]
    """Share of busy samples whose leaf frame lives in each group (GROUPS), largest first."""


def _group(frame: str) -> str:
    where = _location(frame)[1]
    for prefix, group in GROUPS:
        if where.startswith(prefix):
            return group
    return "other (stdlib, C)"


def _location(text: str) -> tuple[str, str]:
    """``func (…/site-packages/pkg/mod.py:123)`` → ``("func", "pkg/mod.py")``: the path from the
    package down (lines would split one function's time)."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif "app" in parts:
        parts = parts[parts.index("app") :]
    return name, "/".join(parts) if parts else path


def _frame(text: str) -> str:
    name, path = _location(text)
    return f"{name} ({'/'.join(path.split('/')[-3:])})"


def top_entries(collapsed: Path, n: int = 15) -> Profile:
    """Self and inclusive shares of busy samples from a py-spy ``--format raw`` file."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        if frames[-1].startswith(IDLE_LEAVES):
            idle += count
            continue
        self_counts[_frame(frames[-1])] += count
        groups[_group(frames[-1])] += count
        for name in {_frame(f) for f in frames if not f.startswith(ENTRY_FRAMES)}:
            inclusive[name] += count
    busy = max(1, total - idle)

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * c / busy) for name, c in counter.most_common(n)]

    shares = {name: 100 * c / busy for name, c in groups.most_common()}
    return Profile(total, idle, share(self_counts), share(inclusive), shares)


def group_table(profiles: dict[str, tuple[Profile, float]]) -> list[str]:
    """CPU ms per orchestration by group for each system (``system -> (profile, cpu ms/orch)``):
    each group's share of busy samples times the measured CPU."""
    names = list(profiles)
    order = Counter[str]()
    for profile, cpu_ms in profiles.values():
        for group, pct in profile.groups.items():
            order[group] += pct * cpu_ms
    lines = ["| where (leaf frame) | " + " | ".join(f"{n} ms/orch" for n in names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for group, _ in order.most_common():
        cells = [f"{profiles[n][0].groups.get(group, 0.0) * profiles[n][1] / 100:.2f}" for n in names]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    totals = [f"**{profiles[n][1]:.2f}**" for n in names]
    lines.append("| **total (measured)** | " + " | ".join(totals) + " |")
    return [*lines, ""]


def markdown(system: str, profile: Profile) -> list[str]:
    busy = profile.samples - profile.idle
    busy_pct = 100 * busy / max(1, profile.samples)
    lines = [
        f"#### {system}: {profile.samples} samples, {busy} busy ({busy_pct:.0f}%)",
        "",
        "| self % of busy | function | | inclusive % of busy | function |",
        "|---|---|---|---|---|",
    ]
    for (s_name, s_pct), (i_name, i_pct) in zip(profile.self_top, profile.inclusive_top, strict=False):
        lines.append(f"| {s_pct:.1f} | `{s_name}` | | {i_pct:.1f} | `{i_name}` |")
    return [*lines, ""]
