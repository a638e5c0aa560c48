"""A chat completions request read as a phase request: the model name, the messages, response_format.

Accepted shapes (README "OpenAI-compatible endpoint"):
- ``model``: ``phase/<name>`` (the phase's own strategy) or ``phase/<name>:<strategy>``.
- ``system`` / ``developer`` messages: a JSON object with ``context`` (object) and/or
  ``instructions`` (string), or plain text, which is taken as instructions.
- exactly one ``user`` message: plain text is the idea; a JSON object has ``idea`` (string) and
  may carry ``context`` and ``instructions`` too. Its context keys win over a system message's.
- no ``assistant`` / ``tool`` turns: a phase answers one idea, not a conversation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from app.api.openai_schemas import ChatMessage, ChatRequest, ResponseFormat
from app.api.schemas import OrchestrateOptions, OrchestrateRequest
from app.errors import InvalidOptions, ModelNotFound, ResponseFormatMismatch
from app.phases.catalog import Phase, PhaseCatalog
from app.strategies.names import NAMES, StrategyName, unfit_reason

PREFIX = "phase/"
SYSTEM_KEYS = frozenset({"context", "instructions"})
USER_KEYS = SYSTEM_KEYS | {"idea"}


@dataclass(frozen=True, slots=True)
class Target:
    """What a model name picks: the phase and, when named, the strategy."""

    phase: Phase
    strategy: StrategyName | None


@dataclass(slots=True)
class _Parts:
    idea: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    user_context: dict[str, Any] = field(default_factory=dict)
    """Merged over ``context`` at the end, so the user message's keys win wherever it stands."""
    instructions: list[str] = field(default_factory=list)


def strategies_for(phase: Phase) -> list[StrategyName]:
    """The strategies ``phase`` can run (vote needs a decision field)."""
    has_decision = phase.config.decision is not None
    return [s for s in NAMES if unfit_reason(s, has_decision=has_decision) is None]


def model_names(catalog: PhaseCatalog) -> Iterator[tuple[str, Phase, StrategyName | None]]:
    """Every model name, in workflow order: each phase, then the phase with each strategy."""
    for phase in catalog:
        yield f"{PREFIX}{phase.name}", phase, None
        for strategy in strategies_for(phase):
            yield f"{PREFIX}{phase.name}:{strategy}", phase, strategy


def resolve_model(model: str, catalog: PhaseCatalog) -> Target:
    """The phase and strategy ``model`` names; 404 listing the valid names otherwise."""
    for name, phase, strategy in model_names(catalog):
        if name == model:
            return Target(phase, strategy)
    raise ModelNotFound(
        f"the model {model!r} does not exist; use phase/<name> or phase/<name>:<strategy> with a "
        f"phase among {', '.join(catalog.names())} and a strategy among {', '.join(NAMES)}",
        hint="GET /v1/models lists every valid model name",
        details={"field": "model", "valid_models": [name for name, _, _ in model_names(catalog)]},
    )


def orchestrate_request(chat: ChatRequest, target: Target) -> OrchestrateRequest:
    """The phase endpoint's body for ``chat``: the same request, so the same run, key and cache."""
    parts = _Parts()
    for index, message in enumerate(chat.messages):
        _read(message, index, parts)
    if parts.idea is None:
        raise _invalid("messages", "no user message: the user message carries the idea")
    options = chat.orchestration or OrchestrateOptions()
    if target.strategy is not None:
        if options.strategy not in (None, target.strategy):
            raise _invalid(
                "orchestration.strategy",
                f"the model names strategy {target.strategy!r} and orchestration.strategy says "
                f"{options.strategy!r}",
            )
        options = options.model_copy(update={"strategy": target.strategy})
    instructions = "\n\n".join(parts.instructions) or None
    try:
        return OrchestrateRequest.model_validate(
            {
                "idea": parts.idea,
                "context": {**parts.context, **parts.user_context},
                "instructions": instructions,
                "options": options,
            }
        )
    except ValidationError as exc:  # an empty idea, over-long instructions: named as the messages
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _invalid("messages", f"the {where} they carry: {first['msg']}") from None


def _read(message: ChatMessage, index: int, parts: _Parts) -> None:
    """One message's contribution to the idea, the context and the instructions."""
    where = f"messages[{index}]"
    if message.role not in ("system", "developer", "user"):
        raise _invalid(
            f"{where}.role",
            f"a {message.role!r} message: a phase answers one idea, not a conversation; send only "
            "system messages and one user message",
        )
    text = _text(message, where)
    value = _json_object(text)
    if message.role != "user":
        if value is None:
            parts.instructions.append(text)
            return
        _take(value, where, SYSTEM_KEYS, parts, parts.context)
        return
    if parts.idea is not None:
        raise _invalid(where, "a second user message: send the idea in one user message")
    if value is None:
        parts.idea = text
        return
    if not isinstance(value.get("idea"), str):
        raise _invalid(f"{where}.content", 'a JSON user message needs "idea": a string')
    parts.idea = value["idea"]
    _take(value, where, USER_KEYS, parts, parts.user_context)


def _take(
    value: dict[str, Any], where: str, allowed: frozenset[str], parts: _Parts, context_into: dict[str, Any]
) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _invalid(
            f"{where}.content", f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    context, instructions = value.get("context", {}), value.get("instructions")
    if not isinstance(context, dict):
        raise _invalid(f"{where}.content", '"context" must be a JSON object')
    if instructions is not None and not isinstance(instructions, str):
        raise _invalid(f"{where}.content", '"instructions" must be a string')
    context_into.update(context)
    if instructions:
        parts.instructions.append(instructions)


def _text(message: ChatMessage, where: str) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    if content is None or any(p.type != "text" or p.text is None for p in content):
        raise _invalid(f"{where}.content", "content must be text (a string or text parts)")
    return "".join(p.text or "" for p in content)


def _json_object(text: str) -> dict[str, Any] | None:
    """``text`` as a JSON object, or ``None`` when it is prose (or JSON of another kind)."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def schema_check(response_format: ResponseFormat | None) -> Draft202012Validator | None:
    """The caller's json_schema, checked as a schema before anything runs; ``None`` without one."""
    if response_format is None or response_format.type != "json_schema":
        return None
    if response_format.json_schema is None:
        raise _invalid("response_format.json_schema", "type json_schema needs json_schema.schema")
    schema = response_format.json_schema.schema_
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise _invalid(
            "response_format.json_schema.schema", f"not a valid JSON Schema: {exc.message}"
        ) from None
    return Draft202012Validator(schema)


def check_output(validator: Draft202012Validator | None, output: dict[str, Any], phase: str) -> None:
    """400 naming the mismatches when the phase output fails the caller's json_schema."""
    if validator is None:
        return
    try:
        errors = sorted(validator.iter_errors(output), key=lambda e: str(list(e.absolute_path)))
    except Exception as exc:  # a schema that checks but cannot be applied (an unresolvable $ref, …)
        raise _invalid(
            "response_format.json_schema.schema", f"the schema cannot be applied: {type(exc).__name__}"
        ) from None
    if not errors:
        return
    named = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]]
    raise ResponseFormatMismatch(
        f"the {phase} output does not match response_format.json_schema: {'; '.join(named)}",
        hint=f"fit the schema to the phase's output schema (GET /phases/{phase}), or send "
        'response_format {"type": "json_object"}; the same Idempotency-Key replays the run unspent',
        details={"field": "response_format.json_schema.schema", "errors": named},
    )


def _invalid(field_name: str, problem: str) -> InvalidOptions:
    return InvalidOptions(
        f"{field_name}: {problem}",
        hint="see the README's OpenAI-compatible endpoint section for the accepted messages",
        details={"field": field_name},
    )
