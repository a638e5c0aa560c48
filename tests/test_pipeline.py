"""The whole orchestrate() flow on fake providers: modes, fallbacks, failures, the judge's input."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from app.domain import CompletionRequest, Failure, Success
from app.errors import AllModelsFailed, DeadlineExceeded, InvalidOptions, NoUsableProvider
from app.phases.catalog import Phase
from app.phases.output import OutputSchema
from app.pipeline import Orchestrator
from app.providers.errors import RateLimited, UpstreamServerError
from app.providers.fake import Delayed, FakeProvider, Reply, info
from app.providers.registry import ProviderRegistry
from app.results import PhaseRequest, PhaseResult
from app.roster import Roster
from app.synthesis.validate import Parsed, parse_output
from tests.support import PROVIDERS, catalog_for, fake_providers, fixture, fixture_responder

REASONER = "@cf/zai-org/glm-4.7-flash"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
LLAMA70 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
CATALOG = catalog_for()
CLAUDE = CATALOG.models["claude-sonnet"].model_id


def kill_test(**changes: Any) -> Phase:
    phase = CATALOG.get("kill-test")
    return dataclasses.replace(phase, config=phase.config.model_copy(update=changes))


def run(
    fakes: dict[str, FakeProvider],
    phase: Phase | None = None,
    *,
    enabled: bool = True,
    **request: Any,
) -> PhaseResult:
    import asyncio

    roster = Roster(CATALOG.models, ProviderRegistry(fakes))
    orchestrator = Orchestrator(roster, orchestration_enabled=enabled, rng=random.Random(7))
    phase = phase or CATALOG.get("kill-test")
    return asyncio.run(orchestrator.orchestrate(phase, PhaseRequest(idea="Freight invoice agent", **request)))


def verdict_answers(verdicts: dict[str, str]) -> Callable[[CompletionRequest], Reply]:
    """Parallel models answer kill-test with the given verdict per model id; others as fixtures."""

    def respond(request: CompletionRequest) -> Reply:
        if request.model in verdicts and info(request).role == "parallel":
            return json.dumps({**fixture("kill-test"), "verdict": verdicts[request.model]})
        return fixture_responder(request)

    return respond


def statuses(result: PhaseResult) -> list[tuple[str, str, str]]:
    return [(o.model.alias, o.role, o.status) for o in result.outcomes]


def test_orchestrated_run_asks_every_model_then_claude_judges() -> None:
    fakes = fake_providers()
    result = run(fakes)
    assert result.mode == "orchestrated"
    assert result.synthesizer is not None and result.synthesizer.alias == "claude-sonnet"
    assert result.output == fixture("kill-test")
    parallel = [s for s in statuses(result) if s[1] == "parallel"]
    assert parallel == [
        (a, "parallel", "ok") for a in ("reasoner", "llama-scout", "qwen3", "minimax", "openai-compat")
    ]
    assert ("claude-sonnet", "synthesizer", "ok") in statuses(result)
    assert ("llama-8b-fast", "wild_ideas", "ok") in statuses(result)
    assert sorted(result.labels) == ["A", "B", "C", "D", "E"]
    assert sorted(result.labels.values()) == sorted(a for a, _, _ in parallel)
    assert result.warnings == []


def test_without_anthropic_the_backup_synthesizer_judges() -> None:
    fakes = fake_providers(unavailable=("anthropic",))
    result = run(fakes)
    assert result.synthesizer is not None and result.synthesizer.alias == "minimax"
    assert fakes["anthropic"].calls == []


def test_a_failed_model_is_recorded_and_the_phase_still_succeeds() -> None:
    fakes = fake_providers()
    fakes["workers_ai"].script(
        REASONER,
        RateLimited("Capacity temporarily exceeded", provider="workers_ai", status_code=429, code="3040"),
    )
    result = run(fakes)
    assert result.mode == "orchestrated"
    failure = next(o for o in result.outcomes if o.model.alias == "reasoner")
    assert isinstance(failure, Failure) and failure.status == "error"
    assert "Capacity temporarily exceeded" in failure.error and "429" in failure.error
    assert any("Capacity temporarily exceeded" in w for w in result.warnings)
    assert "reasoner" not in result.labels.values()


def test_a_slow_model_times_out_without_holding_its_siblings() -> None:
    fakes = fake_providers()
    fakes["workers_ai"].script(QWEN3, Delayed(30, "{}"))
    result = run(fakes, kill_test(model_timeout_s=0.2))
    slow = next(o for o in result.outcomes if o.model.alias == "qwen3")
    assert isinstance(slow, Failure) and slow.status == "timeout"
    assert slow.latency_ms < 15_000  # its 0.2 s timeout, not the 30 s the model takes
    assert result.mode == "orchestrated"


def test_invalid_synthesis_is_repaired_once_with_the_validation_errors() -> None:
    fakes = fake_providers()
    bad = json.dumps({**fixture("kill-test"), "verdict": "MAYBE"})
    fakes["anthropic"].script(CLAUDE, bad, role="synthesizer")  # the repair gets the fixture
    result = run(fakes)
    assert result.mode == "orchestrated"
    assert ("claude-sonnet", "repair", "ok") in statuses(result)
    [repair] = fakes["anthropic"].calls_for(CLAUDE, role="repair")
    assert "$.verdict" in repair.prompt.user and "MAYBE" in repair.prompt.user


def test_synthesis_invalid_twice_falls_back_to_the_majority_parallel_answer() -> None:
    verdicts = {REASONER: "KILL", SCOUT: "GO", QWEN3: "GO", "MiniMax-M2.7": "GO", "local-model": "PIVOT"}
    fakes = fake_providers(verdict_answers(verdicts))
    fakes["anthropic"].script("claude-sonnet-5-5", "not json at all", "still not json")
    result = run(fakes)
    assert result.mode == "fallback"
    assert result.synthesizer is None
    assert result.output["verdict"] == "GO"  # GO 3 beats KILL 2 (one KILL weighs two) and PIVOT 1
    assert any("did not validate" in w for w in result.warnings)
    assert CATALOG.get("kill-test").output.is_valid(result.output)


def test_when_every_parallel_model_fails_a_single_model_answers() -> None:
    def down(request: CompletionRequest) -> Reply:
        if request.model == LLAMA70:
            return fixture_responder(request)
        return UpstreamServerError("upstream exploded", provider="x", status_code=500)

    fakes = fake_providers(down)
    result = run(fakes)
    assert result.mode == "fallback"
    assert ("llama-70b", "fallback", "ok") in statuses(result)
    assert result.output == fixture("kill-test")


def test_when_everything_fails_the_error_carries_every_models_error() -> None:
    def broken(request: CompletionRequest) -> Reply:
        return UpstreamServerError(f"boom from {request.model}", provider="x", status_code=503)

    with pytest.raises(AllModelsFailed) as caught:
        run(fake_providers(broken))
    errors = [o.error for o in caught.value.outcomes if isinstance(o, Failure)]
    assert any(REASONER in e for e in errors) and any(LLAMA70 in e for e in errors)
    assert all(not isinstance(o, Success) for o in caught.value.outcomes)


def test_no_configured_provider_is_503_naming_the_variables() -> None:
    with pytest.raises(NoUsableProvider) as caught:
        run(fake_providers(unavailable=PROVIDERS))
    assert caught.value.hint is not None
    for variable in ("WORKERS_AI_API_KEY", "ANTHROPIC_API_KEY", "MINIMAX_API_KEY"):
        assert variable in caught.value.hint


def test_the_phase_deadline_bounds_everything() -> None:
    slow = fake_providers(lambda request: Delayed(30, fixture_responder(request)))
    with pytest.raises(DeadlineExceeded) as caught:
        run(slow, kill_test(deadline_s=0.3, model_timeout_s=0.3))
    assert caught.value.outcomes and all(isinstance(o, Failure) for o in caught.value.outcomes)


@pytest.mark.parametrize(("enabled", "single"), [(True, True), (False, False)])
def test_single_model_mode_asks_one_model(enabled: bool, single: bool) -> None:
    fakes = fake_providers()
    result = run(fakes, enabled=enabled, single_model=single)
    assert result.mode == "single"
    assert statuses(result) == [("llama-70b", "single", "ok")]
    assert [c.model for c in fakes["workers_ai"].calls] == [LLAMA70]


def test_a_subset_of_models_can_be_chosen() -> None:
    fakes = fake_providers()
    result = run(fakes, models=("reasoner", "minimax"))
    assert [a for a, role, _ in statuses(result) if role == "parallel"] == ["reasoner", "minimax"]


def test_an_unconfigured_model_in_options_is_rejected() -> None:
    with pytest.raises(InvalidOptions) as caught:
        run(fake_providers(), models=("reasoner", "gpt-9"))
    assert "gpt-9" in caught.value.message and caught.value.details["allowed"]


def test_kill_test_votes_reach_the_judge_with_the_kill_weighted() -> None:
    fakes = fake_providers(verdict_answers({REASONER: "KILL", SCOUT: "GO", QWEN3: "PIVOT"}))
    result = run(fakes, models=("reasoner", "llama-scout", "qwen3"))
    assert result.tally is not None
    assert result.tally.weighted == {"GO": 1.0, "PIVOT": 1.0, "KILL": 2.0}
    assert result.tally.leader == "KILL"
    judge_prompt = fakes["anthropic"].calls_for(role="synthesizer")[0].prompt.user
    reasoner_label = next(label for label, alias in result.labels.items() if alias == "reasoner")
    assert f"Answer {reasoner_label}: KILL" in judge_prompt
    assert "weighted majority: KILL" in judge_prompt


def test_reasoning_and_model_names_never_reach_the_judge() -> None:
    def thinking(request: CompletionRequest) -> Reply:
        text = fixture_responder(request)
        if request.model == REASONER and isinstance(text, str) and info(request).role == "parallel":
            return "<think>PRIVATE-CHAIN-OF-THOUGHT</think>\n" + text
        return text

    fakes = fake_providers(thinking)
    run(fakes)
    judge_prompt = fakes["anthropic"].calls_for(role="synthesizer")[0].prompt.user
    assert "PRIVATE-CHAIN-OF-THOUGHT" not in judge_prompt
    for model_id in (REASONER, SCOUT, QWEN3, "MiniMax-M2.7"):
        assert model_id not in judge_prompt


def test_an_answer_the_schema_rejects_is_a_warning_not_a_silent_loss() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if request.model == QWEN3 and info(request).role == "parallel":
            return json.dumps({"verdict": "MAYBE"})
        return fixture_responder(request)

    result = run(fake_providers(respond))
    assert result.mode == "orchestrated"
    assert any(
        w.startswith("qwen3 (parallel) answered, but its JSON did not validate: ") for w in result.warnings
    )


def test_a_hung_member_under_the_shipped_config_leaves_the_judge_its_time() -> None:
    # The shipped kill-test config: 90 s model timeout, timeouts retried, no quorum. With a 4 s
    # deadline the fan-out ends 2 s in (half is kept for the judge): the reasoner is cut off there, once,
    # never retried, and the judge still synthesizes the other four answers.
    fakes = fake_providers()
    fakes["workers_ai"].script(REASONER, Delayed(1000, "never"))
    result = run(fakes, deadline_s=4)
    assert result.mode == "orchestrated"
    r1 = next(o for o in result.outcomes if o.model.alias == "reasoner")
    assert isinstance(r1, Failure)
    assert (r1.status, r1.error_kind, r1.attempts) == ("timeout", "timeout", 1)
    assert "fan-out's end" in r1.error
    assert len(fakes["workers_ai"].calls_for(REASONER)) == 1
    assert ("claude-sonnet", "synthesizer", "ok") in statuses(result)


def test_a_cut_off_judge_is_re_asked_then_the_next_judge_answers() -> None:
    from app.domain import Completion, Usage

    fakes = fake_providers()
    cut = Completion(text='{"verdict": "GO", "fatal', usage=Usage(10, 10), finish_reason="length")
    fakes["anthropic"].script(CLAUDE, cut, cut)
    result = run(fakes)
    assert result.mode == "orchestrated"
    assert result.synthesizer is not None and result.synthesizer.alias == "minimax"
    claude = [o for o in result.outcomes if o.model.alias == "claude-sonnet"]
    assert len(claude) == 1 and isinstance(claude[0], Failure)
    assert claude[0].error_kind == "truncated" and claude[0].attempts == 2
    assert [c.max_tokens for c in fakes["anthropic"].calls_for(CLAUDE)] == [6144, 12288]
    assert any("claude-sonnet (synthesizer) error" in w and "max_tokens=6144" in w for w in result.warnings)


@pytest.mark.parametrize(
    "strategy", ["synthesize", "vote", "self_consistency", "rank", "route", "self_moa", "moa"]
)
def test_each_answer_is_parsed_once_and_carried_parsed(
    strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []

    def counting(text: str, schema: OutputSchema) -> Parsed:
        parsed.append(text)
        return parse_output(text, schema)

    monkeypatch.setattr("app.synthesis.answers.parse_output", counting)
    monkeypatch.setattr("app.calls.validated.parse_output", counting)
    result = run(fake_providers(), strategy=strategy)
    answers = [o for o in result.outcomes if isinstance(o, Success) and o.role in ("parallel", "refiner")]
    written = [o for o in result.outcomes if isinstance(o, Success) and o.role in ("synthesizer", "repair")]
    assert result.mode == "orchestrated" and written
    final_layer = [o for o in answers if o.model.alias in result.answers]
    # Every answer the judge read was parsed once (the parallel ones or moa's last layer), plus
    # each output a synthesizer wrote: no path parses an answer a second time.
    assert len(parsed) == len(final_layer) + len(written)
