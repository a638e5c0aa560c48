"""The fake provider sees each call's context: scripts and responders answer by role, never by wording."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from app.calls.call import call_model
from app.calls.guarded import Call
from app.deadline import Deadline
from app.domain import CallInfo, CompletionRequest, ModelRef, Prompt, Role, Success
from app.phases.config import ModelSpec, Price
from app.providers.fake import FakeProvider, Reply, info
from app.resilience.guard import Resilience
from app.roster import Member

PROMPT = Prompt("the same system text", "the same user text")  # identical for every role


def ask(fake: FakeProvider, role: Role, *, alias: str = "m-alias") -> str:
    """One call through the fan-out's ``call_model`` as ``role``; the answer's text."""
    spec = ModelSpec(provider=fake.name, model_id="m", price=Price())
    member = Member(ModelRef(alias, fake.name, "m"), spec, fake, Resilience.off().guard(fake.name, "m"))
    request = CompletionRequest(model="m", prompt=PROMPT, max_tokens=64, timeout_s=5)
    outcome = asyncio.run(call_model(Call(member, request, role, "kill-test"), deadline=Deadline(10)))
    assert isinstance(outcome, Success), outcome
    return outcome.completion.text


def test_every_request_the_fan_out_sends_names_its_phase_role_and_alias() -> None:
    fake = FakeProvider(responder=lambda r: "ok")
    ask(fake, "synthesizer", alias="claude-sonnet")
    assert [c.call for c in fake.calls] == [CallInfo("kill-test", "synthesizer", "claude-sonnet")]


def test_a_responder_answers_by_role_with_the_prompt_unchanged() -> None:
    def respond(request: CompletionRequest) -> Reply:
        return f"{info(request).role} in {info(request).phase}"

    fake = FakeProvider(responder=respond)
    assert [ask(fake, role) for role in ("parallel", "wild_ideas")] == [
        "parallel in kill-test",
        "wild_ideas in kill-test",
    ]


def test_a_role_script_answers_before_the_models_own_queue_then_the_responder() -> None:
    fake = FakeProvider(responder=lambda r: "responder", script={"m": ["model queue"]})
    fake.script("m", "judge queue", role="synthesizer")
    answers = [ask(fake, role) for role in ("synthesizer", "synthesizer", "synthesizer")]
    assert answers == ["judge queue", "model queue", "responder"]


def test_a_role_script_is_not_played_to_other_roles() -> None:
    fake = FakeProvider(responder=lambda r: "responder")
    fake.script("m", "judge queue", role="synthesizer")
    assert [ask(fake, "parallel"), ask(fake, "synthesizer")] == ["responder", "judge queue"]


def test_calls_for_filters_by_model_and_role() -> None:
    fake = FakeProvider(responder=lambda r: "ok")
    for role in ("parallel", "synthesizer", "parallel"):
        ask(fake, role)
    assert len(fake.calls_for("m")) == 3
    assert len(fake.calls_for(role="parallel")) == 2
    assert len(fake.calls_for("m", role="synthesizer")) == 1
    assert fake.calls_for("other", role="parallel") == []


def test_a_request_built_by_hand_has_no_context_and_info_says_so() -> None:
    request = CompletionRequest(model="m", prompt=PROMPT, max_tokens=64, timeout_s=5)
    with pytest.raises(AssertionError, match="no CallInfo"):
        info(request)
    assert info(dataclasses.replace(request, call=CallInfo("p", "router", "a"))).role == "router"
