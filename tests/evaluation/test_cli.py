"""``python -m evaluation`` end to end on fake providers: the table, results.json, the PNG, the errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.domain import Completion, CompletionRequest, Usage
from app.providers.fake import Reply
from app.settings import LocalModelSettings
from evaluation.cli import load_items, main
from tests.support import fake_providers, free_port, make_settings

pytestmark = pytest.mark.needs_eval

REASONER = "@cf/zai-org/glm-4.7-flash"  # priced 0.0605 in, 0.40 out per million tokens
QUESTIONS = {
    "How many legs does a spider have?": "8",
    "What is the capital of Peru?": "Lima",
    "Is 4 even?": "yes",
}


def respond(request: CompletionRequest) -> Reply:
    """Every model answers right, except reasoner on the spider."""
    question = next(q for q in QUESTIONS if q in request.prompt.user)
    answer = "6" if request.model == REASONER and "spider" in question else QUESTIONS[question]
    return Completion(json.dumps({"reasoning": "known", "answer": answer}), Usage(50, 5))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    lines = [
        json.dumps({"id": f"q{i}", "question": q, "answer": a}) for i, (q, a) in enumerate(QUESTIONS.items())
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_cli(*argv: str) -> int:
    return main(list(argv), settings=make_settings(), providers=fake_providers(respond))


def test_a_run_writes_the_table_the_json_and_the_plot(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    modes = "single:reasoner,single:qwen3,strategy:*"
    assert run_cli("--dataset", str(dataset), "--modes", modes, "--concurrency", "2", "--out", str(out)) == 0

    printed = capsys.readouterr().out
    assert "3 items x 9 modes on the cloud roster" in printed
    assert "not run: strategy:vote" in printed
    for mode in ("single:reasoner", "single:qwen3", "strategy:synthesize", "strategy:moa"):
        assert mode in printed
    document: dict[str, Any] = json.loads((out / "results.json").read_text())
    summary = {row["mode"]: row for row in document["summary"]}
    assert list(summary) == [
        "single:reasoner",
        "single:qwen3",
        "strategy:synthesize",
        "strategy:self_consistency",
        "strategy:rank",
        "strategy:route",
        "strategy:self_moa",
        "strategy:moa",
        "strategy:merge",
    ]
    assert summary["single:reasoner"]["correct"] == 2 and summary["single:reasoner"][
        "accuracy"
    ] == pytest.approx(2 / 3)
    assert summary["single:reasoner"]["cost_per_item_usd"] == pytest.approx((50 * 0.0605 + 5 * 0.40) / 1e6)
    assert summary["single:reasoner"]["tokens_per_item"] == 55
    assert all(row["accuracy"] == 1.0 for mode, row in summary.items() if mode != "single:reasoner")
    assert len(document["answers"]) == 3 * 9
    spider = next(
        a for a in document["answers"] if a["mode"] == "single:reasoner" and a["item"]["id"] == "q0"
    )
    assert (spider["answer"], spider["correct"], spider["item"]["expected"]) == ("6", False, "8")
    assert '"answer": "6"' in spider["outcomes"][0]["text"]
    assert document["meta"]["command"][3:] == [
        "--dataset",
        str(dataset),
        "--modes",
        modes,
        "--concurrency",
        "2",
        "--out",
        str(out),
    ]
    assert document["meta"]["roster"] == "cloud" and document["meta"]["items"] == 3
    png = (out / "accuracy_vs_cost.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "| single:reasoner | 3 | 67% (2/3) |" in (out / "summary.md").read_text()


def test_the_spending_cap_is_reported_plainly(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["--dataset", str(dataset), "--modes", "single:reasoner,single:qwen3", "--concurrency", "1"]
    assert run_cli(*argv, "--max-cost-usd", "0.000004", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "Spending cap reached" in printed and "not started" in printed
    document = json.loads((out / "results.json").read_text())
    assert document["not_run"] == {"single:reasoner": ["q1", "q2"], "single:qwen3": ["q0", "q1", "q2"]}
    assert document["meta"]["max_cost_usd"] == 0.000004


def test_list_modes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--list-modes") == 0
    printed = capsys.readouterr().out
    assert "roster: cloud" in printed and "single:openai-compat" in printed and "strategy:moa" in printed
    assert "strategy:vote: cannot run" in printed


def test_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli("--help")
    assert exited.value.code == 0
    assert "examples:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--modes", "strategy:vote"], "cannot run here: strategy 'vote' needs a decision field"),
        (["--modes", "single:gpt-9"], "'single:gpt-9' matches no mode"),
        (["--max-cost-usd", "0"], "--max-cost-usd must be positive"),
        (["--like-phase", "nope"], "unknown phase 'nope'"),
    ],
)
def test_bad_options_are_one_line_with_a_hint(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(*argv, "--size", "1", "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("eval: ") and message in err and "hint: " in err
    assert "Traceback" not in err


def test_a_bad_dataset_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q", "answer": "a"}\n{"question": "q2"}\n', encoding="utf-8")
    assert run_cli("--dataset", str(path), "--out", str(tmp_path / "out")) == 2
    assert f"{path}:2: answer must be a string or a number" in capsys.readouterr().err


def test_a_local_model_that_is_not_running_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    local = LocalModelSettings(_env_file=None, enabled=True, autostart=False, url=url)  # type: ignore[call-arg]
    code = main(["--size", "1", "--out", str(tmp_path / "out")], settings=make_settings(local_model=local))
    assert code == 2
    err = capsys.readouterr().err
    assert f"the local model server at {url.removesuffix('/v1')}/health is down" in err
    assert "make install" in err and "Traceback" not in err


def test_datasets_combine_and_a_file_can_be_sampled(dataset: Path) -> None:
    items = load_items(["arithmetic", "logic", str(dataset)], size=2, seed=5, limit=2)
    assert [i.kind for i in items] == ["arithmetic", "arithmetic", "logic", "logic", "custom", "custom"]
    assert items[4:] == load_items([str(dataset)], size=2, seed=5, limit=2)  # the same sample for a seed
    assert len(load_items(["facts"], size=1, seed=5)) == 28  # --size is for generated sets only
    assert len(load_items(["facts"], size=1, seed=5, limit=10)) == 10


def test_rescore_scores_saved_answers_again_without_asking_a_model(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run_cli("--dataset", str(dataset), "--modes", "single:reasoner", "--out", str(out)) == 0
    saved = json.loads((out / "results.json").read_text())
    # The dataset's author decides reasoner's "6 legs" was the intended answer after all.
    for answer in saved["answers"]:
        if answer["item"]["id"] == "q0":
            answer["item"]["expected"] = "6"
            answer["correct"] = False
    (out / "results.json").write_text(json.dumps(saved))
    capsys.readouterr()

    # No providers at all: a model call would fail the test.
    assert main(["--rescore", str(out)], settings=make_settings(), providers={}) == 0
    rescored = json.loads((out / "results.json").read_text())
    assert rescored["summary"][0]["correct"] == 3 and rescored["summary"][0]["accuracy"] == 1.0
    assert rescored["meta"]["rescored_at"] and rescored["meta"]["modes"] == ["single:reasoner"]
    assert "100% (3/3)" in capsys.readouterr().out and "100% (3/3)" in (out / "summary.md").read_text()


def test_rescore_of_something_else_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("--rescore", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "cannot rescore" in err and "hint:" in err
