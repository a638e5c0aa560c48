"""A cut-off answer is never passed on as complete: one re-ask with a larger budget, else a failure
that says so (with its budget and the tokens it cost)."""

from __future__ import annotations

import asyncio

import pytest

from app.calls.call import call_model
from app.calls.guarded import Call
from app.deadline import Deadline
from app.domain import Completion, CompletionRequest, Failure, ModelRef, Prompt, Success, Usage
from app.phases.config import ModelSpec, Price
from app.providers.fake import FakeProvider
from app.resilience.guard import Resilience
from app.roster import Member

FULL = '{"verdict": "GO"}'


def cut(text: str = '{"verdict": "GO", "fatalFlaws": ["a', *, reasoning: bool = False) -> Completion:
    return Completion(
        text="" if reasoning else text,
        usage=Usage(100, 64),
        finish_reason="length",
        reasoning="still weighing it" if reasoning else None,
        reasoning_unfinished=reasoning,
    )


def make_call(fake: FakeProvider, *, context_window: int | None = None, max_tokens: int = 64) -> Call:
    spec = ModelSpec(
        provider=fake.name, model_id="m", price=Price(input=1, output=1), context_window=context_window
    )
    request = CompletionRequest(model="m", prompt=Prompt("s", "u"), max_tokens=max_tokens, timeout_s=5)
    member = Member(ModelRef("m", fake.name, "m"), spec, fake, Resilience.off().guard(fake.name, "m"))
    return Call(member, request, "parallel", "test-phase")


def run(call: Call, deadline_s: float = 10.0) -> object:
    return asyncio.run(call_model(call, deadline=Deadline(deadline_s)))


def test_a_cut_off_answer_is_re_asked_once_with_twice_the_budget() -> None:
    fake = FakeProvider(script={"m": [cut(), FULL]})
    outcome = run(make_call(fake))
    assert isinstance(outcome, Success)
    assert outcome.completion.text == FULL
    assert [c.max_tokens for c in fake.calls] == [64, 128]
    assert outcome.attempts == 2
    # Both calls were paid for: the record bills them both.
    assert outcome.completion.usage.input_tokens == 100 + len(FULL) // 4 + 1


@pytest.mark.parametrize("reasoning", [False, True], ids=["in-the-answer", "while-reasoning"])
def test_cut_off_twice_is_a_truncated_failure_naming_both_budgets(reasoning: bool) -> None:
    fake = FakeProvider(script={"m": [cut(reasoning=reasoning), cut(reasoning=reasoning)]})
    outcome = run(make_call(fake))
    assert isinstance(outcome, Failure)
    assert (outcome.status, outcome.error_kind, outcome.attempts) == ("error", "truncated", 2)
    assert "max_tokens=64" in outcome.error and "max_tokens=128" in outcome.error
    assert ("reasoning" in outcome.error) is reasoning
    assert outcome.usage == Usage(200, 128)
    assert outcome.cost_usd == pytest.approx(328 / 1_000_000)
    assert len(fake.calls) == 2


def test_the_re_ask_stays_inside_the_context_window() -> None:
    fake = FakeProvider(script={"m": [cut(), FULL]})
    run(make_call(fake, context_window=1124, max_tokens=1000))
    assert [c.max_tokens for c in fake.calls] == [1000, 1024]  # 1124 window - 100 prompt tokens


def test_no_re_ask_when_no_larger_budget_fits_the_window() -> None:
    fake = FakeProvider(script={"m": [cut()]})
    outcome = run(make_call(fake, context_window=1100, max_tokens=1000))
    assert isinstance(outcome, Failure) and outcome.error_kind == "truncated"
    assert len(fake.calls) == 1


def test_no_re_ask_when_the_deadline_has_no_room_for_it() -> None:
    async def slow_cut(request: CompletionRequest) -> Completion:
        await asyncio.sleep(0.3)
        return cut()

    fake = FakeProvider(responder=slow_cut)
    # The cut-off call took t >= 0.3 s for 64 tokens; 128 would need 2t, and 0.8 - t are left:
    # never enough, however long a busy machine stretches t (up to the deadline itself).
    outcome = run(make_call(fake), deadline_s=0.8)
    assert isinstance(outcome, Failure) and outcome.error_kind == "truncated"
    assert "no time left" in outcome.error
    assert len(fake.calls) == 1


def test_reasoning_that_never_closed_is_not_an_answer_and_not_re_asked() -> None:
    unfinished = Completion(text="", usage=Usage(10, 10), reasoning="hmm", reasoning_unfinished=True)
    fake = FakeProvider(script={"m": [unfinished]})
    outcome = run(make_call(fake))
    assert isinstance(outcome, Failure)
    assert (outcome.error_kind, len(fake.calls)) == ("unfinished_reasoning", 1)


def test_a_complete_answer_is_untouched() -> None:
    fake = FakeProvider(script={"m": [FULL]})
    outcome = run(make_call(fake))
    assert isinstance(outcome, Success) and outcome.attempts == 1 and len(fake.calls) == 1
