"""What a run leaves behind: a table (terminal and Markdown) and a JSON file with every raw answer."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from app.errors import DatasetError
from evaluation.datasets import Item
from evaluation.runner import Answer, Ledger, Run
from evaluation.scoring import is_correct
from evaluation.summary import ModeSummary

HEADERS = (
    "mode",
    "items",
    "accuracy",
    "95% CI",
    "mean s",
    "p95 s",
    "tokens/item",
    "USD/item",
    "failed",
    "fallback",
)


def cells(row: ModeSummary) -> list[str]:
    """One table row as text; the same strings in the terminal and in Markdown."""
    items = f"{row.items}" + (f" (+{row.not_run} not run)" if row.not_run else "")
    return [
        row.mode,
        items,
        f"{row.accuracy:.0%} ({row.correct}/{row.items})",
        f"{row.interval.low:.0%}–{row.interval.high:.0%}",
        f"{row.mean_latency_s:.1f}",
        f"{row.p95_latency_s:.1f}",
        f"{row.tokens_per_item:.0f}",
        f"{row.cost_per_item_usd:.4g}",
        str(row.failed),
        str(row.fallbacks),
    ]


def table(rows: list[ModeSummary], *, title: str | None = None) -> Table:
    """The results for the terminal."""
    out = Table(title=title)
    for i, header in enumerate(HEADERS):
        out.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        out.add_row(*cells(row))
    return out


def markdown(rows: list[ModeSummary]) -> str:
    """The results as a Markdown table, ready to paste into EVAL.md."""
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_json(path: Path, run: Run, rows: list[ModeSummary], meta: dict[str, Any]) -> None:
    """Everything: the settings of the run, the summary and each answer with its model calls."""
    document = {
        "meta": {**meta, "spent_usd": run.ledger.spent_usd, "max_cost_usd": run.ledger.cap_usd},
        "summary": [_summary(row) for row in rows],
        "not_run": run.not_run,
        "answers": [_answer(a) for a in run.answers],
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _summary(row: ModeSummary) -> dict[str, Any]:
    data = asdict(row)
    data["interval"] = [row.interval.low, row.interval.high]
    data["tokens_per_item"] = row.tokens_per_item
    return data


def _answer(answer: Answer) -> dict[str, Any]:
    item = answer.item
    return {
        "mode": answer.mode,
        "item": {
            "id": item.id,
            "kind": item.kind,
            "question": item.question,
            "expected": item.answer,
            "accept": list(item.accept),
            **({"meta": item.meta} if item.meta else {}),
        },
        "answer": answer.answer,
        "correct": answer.correct,
        "latency_ms": round(answer.latency_ms, 1),
        "tokens_in": answer.tokens_in,
        "tokens_out": answer.tokens_out,
        "cost_usd": answer.cost_usd,
        "result_mode": answer.result_mode,
        "output": answer.output,
        "error": answer.error,
        "warnings": answer.warnings,
        "outcomes": answer.outcomes,
    }


def read_json(path: Path) -> tuple[Run, dict[str, Any]]:
    """A run written by ``write_json``, every answer scored again with the current rules.

    For fixing a dataset's answer or the scoring after an expensive run: nothing is asked again."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        meta: dict[str, Any] = document["meta"]
        run = Run(
            answers=[_answer_from(raw) for raw in document["answers"]],
            not_run={mode: list(ids) for mode, ids in document["not_run"].items()},
            ledger=Ledger(meta.get("max_cost_usd"), meta.get("spent_usd", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"cannot rescore {path}: {type(exc).__name__}: {exc}",
            hint="point --rescore at a directory a previous python -m evaluation run wrote",
        ) from None
    return run, meta


def _answer_from(raw: dict[str, Any]) -> Answer:
    item_raw = raw["item"]
    item = Item(
        id=item_raw["id"],
        question=item_raw["question"],
        answer=item_raw["expected"],
        kind=item_raw["kind"],
        accept=tuple(item_raw["accept"]),
        meta=item_raw.get("meta", {}),
    )
    return Answer(
        mode=raw["mode"],
        item=item,
        answer=raw["answer"],
        correct=is_correct(raw["answer"], item),
        latency_ms=raw["latency_ms"],
        tokens_in=raw["tokens_in"],
        tokens_out=raw["tokens_out"],
        cost_usd=raw["cost_usd"],
        result_mode=raw["result_mode"],
        output=raw["output"],
        error=raw["error"],
        warnings=raw["warnings"],
        outcomes=raw["outcomes"],
    )
