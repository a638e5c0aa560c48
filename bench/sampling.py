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


@dataclass
class Profile:
    samples: int
    idle: int
    self_top: list[tuple[str, float]]
    inclusive_top: list[tuple[str, float]]


def _frame(text: str) -> str:
    """``func (path/to/module.py:123)`` → ``func (module.py)``: lines split one function's time."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif "app" in parts:
        parts = parts[parts.index("app") :]
    short = "/".join(parts[-3:]) if parts else path
    return f"{name} ({short})"


def top_entries(collapsed: Path, n: int = 15) -> Profile:
    """Self and inclusive shares of busy samples from a py-spy ``--format raw`` file."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
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
        for name in {_frame(f) for f in frames}:
            inclusive[name] += count
    busy = max(1, total - idle)

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * c / busy) for name, c in counter.most_common(n)]

    return Profile(total, idle, share(self_counts), share(inclusive))


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
