"""The PNG: accuracy (with its 95% interval) against what each mode cost, one point per mode.

When every mode cost nothing (the local model is free), a cost axis would stack every point at
zero, so the left panel shows tokens per item instead: the work done, and what the same calls
would be billed by on a priced model. The right panel is always mean latency per item.
"""

from __future__ import annotations

from pathlib import Path

from evaluation.summary import ModeSummary


def plot(path: Path, rows: list[ModeSummary], *, title: str) -> str:
    """Write the figure to ``path``; returns what the left panel's x axis shows."""
    # Imported here: the `eval` extra, checked by evaluation/__main__.py before a run starts.
    # The object-oriented API without pyplot: no global figure state and no GUI backend to pick;
    # savefig renders a PNG through Agg on any machine, display or not.
    from matplotlib.figure import Figure

    priced = any(r.cost_per_item_usd > 0 for r in rows)
    if priced:
        first = ("cost per item (USD)", [r.cost_per_item_usd for r in rows])
    else:
        first = ("tokens per item (in + out); every mode cost $0", [r.tokens_per_item for r in rows])
    panels = [first, ("mean latency per item (s)", [r.mean_latency_s for r in rows])]
    figure = Figure(figsize=(13, 5.5))
    axes = figure.subplots(1, 2, sharey=True)
    for axis, (label, xs) in zip(axes, panels, strict=True):
        span = (max(xs) - min(xs)) or 1.0 if xs else 1.0
        for i, (row, x) in enumerate(zip(rows, xs, strict=True)):
            # Modes often tie on accuracy and cost alike: stack their labels instead of overprinting.
            crowd = sum(
                abs(rows[j].accuracy - row.accuracy) < 0.03 and abs(xs[j] - x) < 0.08 * span for j in range(i)
            )
            single = row.mode.startswith("single:")
            axis.errorbar(
                x,
                row.accuracy,
                yerr=[[row.accuracy - row.interval.low], [row.interval.high - row.accuracy]],
                fmt="o" if single else "s",
                color="tab:blue" if single else "tab:orange",
                capsize=3,
                alpha=0.85,
            )
            axis.annotate(
                row.mode.split(":", 1)[1],
                (x, row.accuracy),
                textcoords="offset points",
                xytext=(5, 4 + 10 * crowd),
                fontsize=8,
            )
        axis.set_xlabel(label)
        axis.set_ylim(-0.02, 1.02)
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel("accuracy (95% Wilson interval)")
    axes[0].plot([], [], "o", color="tab:blue", label="one model alone")
    axes[0].plot([], [], "s", color="tab:orange", label="orchestrated (strategy)")
    axes[0].legend(loc="best", fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return first[0]
