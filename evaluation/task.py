"""The evaluation as a phase: a question in, ``{"reasoning": ..., "answer": ...}`` out.

It borrows a configured phase's models (parallel members, judges and the single-model chain,
already localized when the local roster answers), so the eval measures the roster the service
really runs, and replaces what is specific to planning: the prompt, the schema, the judge's rules
and the token budgets. The question travels as the request's ``idea``, the way every phase
receives its input.
"""

from __future__ import annotations

import dataclasses

from app.phases.catalog import Phase
from app.phases.config import ModelCall, PhaseConfig
from app.phases.output import OutputSchema

NAME = "eval"
REASONING_MAX_CHARS = 400

SCHEMA = {
    "type": "object",
    "properties": {
        # Reasoning first: with constrained decoding the model writes fields in this order, so
        # it works the problem before it commits to an answer.
        "reasoning": {"type": "string", "maxLength": REASONING_MAX_CHARS},
        "answer": {"type": "string", "minLength": 1, "maxLength": 120},
    },
    "required": ["reasoning", "answer"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = """\
You answer quiz questions: arithmetic word problems, logic puzzles and factual questions. The text
between the IDEA markers holds the question. Work it out step by step in `reasoning` (a few short
sentences at most), then put only the final answer in `answer`: a plain number without units or
thousands separators, yes or no, or the name or word asked for. Never leave `answer` empty."""

JUDGE_RULES = (
    "The task is a question with exactly one correct short answer. Check the answers' working "
    "yourself: several answers agreeing does not make them right.",
    "Put only the final answer in `answer` (a plain number, yes or no, or the name asked for) and "
    "your short check of it in `reasoning`.",
)


def eval_phase(reference: Phase, *, max_tokens: int) -> Phase:
    """The eval task on ``reference``'s models, every answer capped at ``max_tokens``.

    Left out on purpose: wild ideas (a planning feature; on a quiz it only adds a paid call),
    the decision rule and ``always_emit`` (planning fields), the phase's own budget (it would drop
    models and so change what is measured; the eval has its own spending cap) and the quorum
    (every member is waited for, so each strategy is measured whole)."""
    config = reference.config
    task = PhaseConfig.model_validate(
        {
            **config.model_dump(),
            "name": NAME,
            "summary": "Answer a quiz question with one short, exactly checkable answer.",
            "strategy": "synthesize",
            "parallel": [
                ModelCall(model=call.model, temperature=call.temperature, max_tokens=max_tokens)
                for call in config.parallel
            ],
            "synthesis": config.synthesis.model_copy(update={"max_tokens": max_tokens, "rules": JUDGE_RULES}),
            "single_max_tokens": max_tokens,
            # The route strategy's classifier defaults to the wild-ideas model; keep it reachable.
            "route_model": config.route_model or config.wild_ideas_model,
            "wild_ideas_model": None,
            "decision": None,
            "always_emit": (),
            "max_cost_usd": None,
            "quorum": None,
            "prompt_file": None,
            "schema_file": None,
        }
    )
    return dataclasses.replace(
        reference, config=task, system_prompt=SYSTEM_PROMPT, output=OutputSchema(NAME, SCHEMA)
    )


def alone(task: Phase, alias: str) -> Phase:
    """``task`` answered by ``alias`` only, with the temperature and budget it has as a member.

    The single-model path then makes exactly the call orchestration makes to that member (same
    seed, perspective, temperature and token budget), so single and orchestrated modes differ only
    in what orchestration adds."""
    call = next(c for c in task.config.parallel if c.model == alias)
    config = task.config.model_copy(
        update={
            "single_model": (alias,),
            "single_temperature": call.temperature,
            "single_max_tokens": call.max_tokens,
        }
    )
    return dataclasses.replace(task, config=config)
