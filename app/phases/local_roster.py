"""The local roster: every phase served by the embedded model when no cloud provider is configured.

One small model asked several times with the same settings gives several copies of one answer,
which an ensemble cannot use. The members therefore differ where a single set of weights can:
temperature (spread over the parallel range), seed, and the analyst's perspective at the end of
the prompt. The single model writes the answer, asked as ``options.single_model`` asks it, and the
members cast ballots on its decision fields (strategy ``ballot``, app/synthesis/ballot.py):
llama.cpp on a small CPU decodes three streams no faster than one, so three whole answers took
three answers' time, while a ballot is a dozen tokens. The models are ``serial``: the ballots
follow the writer one at a time, each reading the shared prompt from the server's cache.
``options.strategy: merge`` has every member write a whole answer, merged field by field;
``synthesize`` adds the same model as judge, a second full decode that added no accuracy (EVAL.md).
Schema-constrained decoding (llama.cpp's ``response_format``) keeps even a 270M model's JSON
valid. Wild ideas are off: a model this small cannot tell a divergent idea from noise, and the
extra call would cost a third of the phase's time budget.
"""

from __future__ import annotations

import dataclasses

from app.phases.catalog import Phase, PhaseCatalog
from app.phases.config import ModelCall, ModelSpec, PhaseConfig
from app.settings import LocalModelSettings

PERSPECTIVES = (
    "a sceptical investor who looks first for the reason this fails",
    "an operator who must build and sell it alone, with no budget",
    "the target customer deciding whether to pay for it this quarter",
    "a competitor's strategist looking for the opening they would attack",
    "a regulator and risk officer reading the fine print",
    "a growth marketer hunting for the cheapest channel that works",
)
JUDGE = "local-judge"
SINGLE = "local"


def member_alias(index: int) -> str:
    return f"local-{index + 1}"


def local_models(settings: LocalModelSettings) -> dict[str, ModelSpec]:
    """The members, the judge and the single model: one set of weights, several voices."""

    def spec(seed: int, perspective: str | None = None) -> ModelSpec:
        # Each request gets one llama.cpp slot: a slot's context is the window every call must fit.
        return ModelSpec(
            provider="local",
            model_id=settings.model,
            structured_output=True,
            bounded_output=True,  # Gemma 3 270M echoes schema keywords and repeats list entries
            serial=True,  # two cores decode three streams no faster than one (BENCHMARKS.md)
            seed=seed,
            perspective=perspective,
            tags=("local",),
            context_window=settings.context_per_slot,
        )

    models = {
        # Seeds distinct and stable, so a run can be reproduced.
        member_alias(i): spec(1009 * (i + 1), PERSPECTIVES[i % len(PERSPECTIVES)])
        for i in range(settings.members)
    }
    models[JUDGE] = spec(7)
    models[SINGLE] = spec(11)
    return models


def localize(phase: Phase, settings: LocalModelSettings) -> Phase:
    """``phase`` with its models replaced by the local roster; prompt, schema and rules kept."""
    config = phase.config
    count = settings.members
    temperatures = [0.5] if count == 1 else [round(0.3 + 0.4 * i / (count - 1), 2) for i in range(count)]
    deadline = max(settings.deadline_s, settings.timeout_s)
    # Members keep their whole timeout and the judge is guaranteed the rest of the deadline (70 s
    # of the default 170: its 900-token decode takes about 30 s on an idle 2-core machine). The
    # cloud default, the judge's own timeout capped at half the deadline, would cut members at 85 s.
    reserve = deadline - settings.timeout_s
    local = PhaseConfig.model_validate(
        {
            **config.model_dump(),
            "parallel": [
                ModelCall(model=member_alias(i), temperature=t, max_tokens=settings.max_tokens)
                for i, t in enumerate(temperatures)
            ],
            "synthesis": config.synthesis.model_copy(
                update={
                    "models": (JUDGE,),
                    "max_tokens": settings.synthesis_max_tokens,
                    "timeout_s": settings.timeout_s,
                    "reserve_s": reserve if reserve > 0 else None,
                }
            ),
            "strategy": "ballot",
            "single_model": (SINGLE,),
            "single_max_tokens": settings.synthesis_max_tokens,
            "wild_ideas_model": None,
            "model_timeout_s": settings.timeout_s,
            "deadline_s": deadline,
            "min_successes": min(config.min_successes, count),
        }
    )
    return dataclasses.replace(phase, config=local)


def localize_catalog(catalog: PhaseCatalog, settings: LocalModelSettings) -> PhaseCatalog:
    """Every phase on the local roster; the cloud models stay defined so nothing dangles."""
    return PhaseCatalog(
        [localize(phase, settings) for phase in catalog],
        {**catalog.models, **local_models(settings)},
    )
