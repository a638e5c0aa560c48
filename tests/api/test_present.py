"""The presenter maps and computes nothing: one public shape per outcome, the pipeline's review as is."""

from __future__ import annotations

import json

from starlette.requests import Request

from app.api.errors import service_error_response
from app.api.present import records, response, upstream_output
from app.domain import Completion, Failure, ModelRef, Outcome, Success, Usage
from app.errors import AllModelsFailed
from app.results import PhaseResult
from app.synthesis.agreement import AgreementReport, FieldAgreement
from app.synthesis.review import Review
from app.timing import Stopwatch

QWEN = ModelRef("qwen3", "workers_ai", "@cf/qwen/qwen3-30b-a3b-fp8")
MINIMAX = ModelRef("minimax", "minimax", "MiniMax-M2.7")
CLAUDE = ModelRef("claude-sonnet", "anthropic", "claude-sonnet-5-5")
OUTCOMES: list[Outcome] = [
    Success(
        QWEN,
        "parallel",
        Completion('{"verdict": "GO"}', Usage(120, 30)),
        latency_ms=812.4,
        cost_usd=0.000123456789,
        output_errors=("verdict: not one of GO, KILL",),
        attempts=2,
    ),
    Failure(MINIMAX, "parallel", "timeout", "no answer in 30s", latency_ms=30000.2, error_kind="timeout"),
    Success(CLAUDE, "synthesizer", Completion('{"verdict": "KILL"}', Usage(900, 60, estimated=True)), 1500.0),
]


def result(review: Review, outcomes: list[Outcome] = OUTCOMES) -> PhaseResult:
    return PhaseResult(
        "kill-test",
        {"verdict": "KILL"},
        "orchestrated",
        CLAUDE,
        list(outcomes),
        Stopwatch(),
        labels={"A": "qwen3", "B": "minimax"},
        review=review,
        author=CLAUDE,
    )


def test_the_error_body_and_the_success_body_list_models_in_one_shape() -> None:
    failed = service_error_response(Request({"type": "http"}), AllModelsFailed("no", outcomes=OUTCOMES))
    in_error = json.loads(bytes(failed.body))["error"]["models"]
    answer = response(result(Review()), request_id="r", include_raw=False, roster="cloud")
    in_success = answer.model_dump(mode="json")["models"]
    for records_ in (in_error, in_success):
        assert [(m["model"], m["status"], m["latency_ms"]) for m in records_] == [
            ("qwen3", "ok", 812),
            ("minimax", "timeout", 30000),
            ("claude-sonnet", "ok", 1500),
        ]
    # Only the judge's labels tell them apart: the error body has none to give.
    assert [m["answer_label"] for m in in_success] == ["A", None, None]
    assert [{**m, "answer_label": None} for m in in_success] == in_error


def test_upstream_model_outputs_are_a_view_of_the_records() -> None:
    answer = response(result(Review()), request_id="r", include_raw=False, roster="cloud")
    outputs = [o.model_dump() for o in answer.orchestration.modelOutputs]
    assert outputs == [
        {
            "model": QWEN.model_id,
            "text": '{"verdict": "GO"}',
            "durationMs": 812,
            "tokensUsed": 150,
            "error": None,
        },
        {
            "model": MINIMAX.model_id,
            "text": "",
            "durationMs": 30000,
            "tokensUsed": 0,
            "error": "no answer in 30s",
        },
    ]
    assert outputs == [upstream_output(r).model_dump() for r in records(OUTCOMES, include_raw=True)[:2]]
    assert all(m.raw is None for m in answer.models)  # the text only with include_raw


def test_include_raw_keeps_each_answers_text() -> None:
    answer = response(result(Review()), request_id="r", include_raw=True, roster="cloud")
    assert [m.raw for m in answer.models] == ['{"verdict": "GO"}', None, '{"verdict": "KILL"}']


def test_the_pipelines_review_is_mapped_not_recomputed() -> None:
    # The result carries no answers: a presenter that analysed them itself would find nothing.
    field = FieldAgreement("verdict", {"GO": 1, "KILL": 1}, "KILL", unanimous=False, resolved=True)
    review = Review(AgreementReport([field], [], [], 0.5), ("verdict: the judge chose KILL",), degrades=True)
    answered = [o for o in OUTCOMES if isinstance(o, Success)]  # nothing else degrades the answer
    answer = response(result(review, answered), request_id="r", include_raw=False, roster="cloud")
    assert answer.warnings == ["verdict: the judge chose KILL"]
    assert answer.degraded is True
    assert answer.agreement is not None
    assert answer.agreement.model_dump() == {
        "fields": [
            {
                "path": "verdict",
                "distribution": {"GO": 1, "KILL": 1},
                "final": "KILL",
                "unanimous": False,
                "resolved": True,
            }
        ],
        "models": [],
        "disagreements": [],
        "overall": 0.5,
    }
    plain = response(result(Review(), answered), request_id="r", include_raw=False, roster="cloud")
    assert plain.agreement is None and plain.warnings == [] and plain.degraded is False
