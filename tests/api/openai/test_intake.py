"""How a chat request becomes the phase endpoint's request: the documented message shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.api.openai_intake import (
    Target,
    check_output,
    model_names,
    orchestrate_request,
    resolve_model,
    schema_check,
)
from app.api.openai_schemas import ChatRequest, ResponseFormat
from app.errors import InvalidOptions, ModelNotFound
from tests.support import catalog_for


def read(messages: list[dict[str, Any]], model: str = "phase/kill-test", **extra: Any) -> Any:
    chat = ChatRequest.model_validate({"model": model, "messages": messages, **extra})
    return orchestrate_request(chat, resolve_model(model, catalog_for()))


def test_plain_system_text_is_instructions_and_the_user_text_the_idea() -> None:
    body = read([{"role": "system", "content": "be terse"}, {"role": "user", "content": "an idea"}])
    assert (body.idea, body.instructions, body.context) == ("an idea", "be terse", {})


def test_the_user_messages_context_wins_wherever_it_stands() -> None:
    user = {"idea": "an idea", "context": {"a": "from user"}, "instructions": "second"}
    system = {"context": {"a": "from system", "b": 1}, "instructions": "first"}
    for order in ([system, user], [user, system]):
        roles = ["system" if m is system else "user" for m in order]
        body = read([{"role": r, "content": json.dumps(m)} for r, m in zip(roles, order, strict=True)])
        assert body.context == {"a": "from user", "b": 1}
    both = [{"role": "system", "content": json.dumps(system)}, {"role": "user", "content": json.dumps(user)}]
    assert read(both).instructions == "first\n\nsecond"


def test_text_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "an "}, {"type": "text", "text": "idea"}]
    assert read([{"role": "user", "content": parts}]).idea == "an idea"


def test_the_model_names_strategy_and_a_conflicting_option_is_rejected() -> None:
    assert read([{"role": "user", "content": "x"}], model="phase/kill-test:moa").options.strategy == "moa"
    with pytest.raises(InvalidOptions, match=r"orchestration\.strategy"):
        read(
            [{"role": "user", "content": "x"}],
            model="phase/kill-test:moa",
            orchestration={"strategy": "vote"},
        )


def test_an_unknown_key_in_a_json_message_is_named() -> None:
    with pytest.raises(InvalidOptions, match="unknown key"):
        read([{"role": "system", "content": '{"contxt": {}}'}, {"role": "user", "content": "x"}])


@pytest.mark.parametrize("model", ["kill-test", "phase/kill-test:nope", "phase/none", "phase/kill-test:"])
def test_unknown_models_are_not_found(model: str) -> None:
    with pytest.raises(ModelNotFound):
        resolve_model(model, catalog_for())


def test_every_listed_name_resolves_to_its_phase_and_strategy() -> None:
    catalog = catalog_for()
    names = list(model_names(catalog))
    assert len(names) == len({name for name, _, _ in names}) > len(catalog.names())
    for name, phase, strategy in names:
        assert resolve_model(name, catalog) == Target(phase, strategy)


@pytest.mark.parametrize("idea", ["", "   "])
def test_an_empty_idea_is_named_not_a_500(idea: str) -> None:
    with pytest.raises(InvalidOptions, match="idea"):
        read([{"role": "user", "content": idea}])


def test_a_schema_that_cannot_be_applied_is_a_bad_request() -> None:
    validator = schema_check(ResponseFormat.model_validate(
        {"type": "json_schema", "json_schema": {"schema": {"$ref": "https://example.invalid/s.json"}}}
    ))  # fmt: skip
    with pytest.raises(InvalidOptions, match="cannot be applied"):
        check_output(validator, {"verdict": "GO"}, "kill-test")
