"""Maps pipeline results and outcomes to the public response bodies; it computes nothing new."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from app.api import findings
from app.api.schemas import (
    ModelName,
    ModelOutputOut,
    ModelRecord,
    OrchestrateResponse,
    TimingsOut,
    UpstreamOrchestration,
    UsageOut,
    WildIdeaOut,
)
from app.domain import SKIPS_THAT_DEGRADE, Failure, Outcome, Success, Usage
from app.results import PhaseResult


def record(outcome: Outcome, *, label: str | None = None, include_raw: bool = False) -> ModelRecord:
    """One model's record, the one public shape of an outcome; raw text only on request."""
    ref, usage = outcome.model, _usage(outcome)
    answer = outcome if isinstance(outcome, Success) else None
    failure = outcome if isinstance(outcome, Failure) else None
    return ModelRecord(
        model=ref.alias,
        model_id=ref.model_id,
        provider=ref.provider,
        role=outcome.role,
        status=outcome.status,
        attempts=outcome.attempts,
        latency_ms=round(outcome.latency_ms),
        tokens_in=usage.input_tokens,
        tokens_out=usage.output_tokens,
        tokens_estimated=usage.estimated,
        cost_usd=round(outcome.cost_usd, 8),
        error=failure.error if failure else None,
        error_kind=failure.error_kind if failure else None,
        output_errors=list(answer.output_errors) if answer else [],
        answer_label=label if answer else None,
        raw=answer.completion.text if answer and include_raw else None,
    )


def records(
    outcomes: Sequence[Outcome],
    labels: Mapping[str, str] | None = None,
    *,
    include_raw: bool = False,
) -> list[ModelRecord]:
    """Records for every outcome; parallel answers carry the label the judge saw."""
    label_of = {alias: label for label, alias in (labels or {}).items()}
    return [
        record(
            o,
            label=label_of.get(o.model.alias) if o.role == "parallel" else None,
            include_raw=include_raw,
        )
        for o in outcomes
    ]


def upstream_output(full: ModelRecord) -> ModelOutputOut:
    """Upstream's ``ModelResponse`` view of a record made with its raw text."""
    return ModelOutputOut(
        model=full.model_id,
        text=full.raw or "",
        durationMs=full.latency_ms,
        tokensUsed=full.tokens_in + full.tokens_out,
        error=full.error,
    )


def response(
    result: PhaseResult,
    *,
    request_id: str,
    include_raw: bool,
    roster: Literal["cloud", "local"],
) -> OrchestrateResponse:
    """The body of a successful orchestrate call."""
    usage = sum((_usage(o) for o in result.outcomes), Usage())
    cost = sum(o.cost_usd for o in result.outcomes)
    total_ms = round(result.stopwatch.total_ms())
    synth, author, review = result.synthesizer, result.author, result.review
    # Each outcome is mapped once, with its text; the public list drops the text unless asked for.
    full = records(result.outcomes, result.labels, include_raw=True)
    wild = [
        WildIdeaOut(model=w.model, wildIdea=w.wild_idea, reasoning=w.reasoning) for w in result.wild_ideas
    ]
    # Upstream's OrchestrationResult names every model by its provider id, as modelOutputs does.
    model_id = {o.model.alias: o.model.model_id for o in result.outcomes}
    return OrchestrateResponse(
        request_id=request_id,
        phase=result.phase,
        mode=result.mode,
        roster=roster,
        strategy=result.strategy,
        agreement=findings.agreement(review.agreement) if review.agreement else None,
        rankings=findings.rankings(result.rankings) if result.rankings else None,
        route=findings.route(result.route) if result.route else None,
        merge=result.merge,
        budget=findings.budget(result.budget) if result.budget else None,
        degraded=_degraded(result),
        warnings=result.warnings + list(review.warnings),
        output=result.output,
        synthesizer=ModelName(model=synth.alias, model_id=synth.model_id, provider=synth.provider)
        if synth
        else None,
        models=full if include_raw else [r.model_copy(update={"raw": None}) for r in full],
        wild_ideas=wild,
        votes=findings.votes(result.tally) if result.tally else None,
        usage=UsageOut(
            tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens,
            cost_usd=round(cost, 8),
            estimated=usage.estimated,
        ),
        timings=_timings(result, total_ms),
        orchestration=UpstreamOrchestration(
            modelOutputs=[upstream_output(r) for r in full if r.role == "parallel"],
            wildIdeas=[w.model_copy(update={"model": model_id.get(w.model, w.model)}) for w in wild],
            synthesizerModel=author.model_id if author else None,
            totalDurationMs=total_ms,
            finalText=result.final_text,
        ),
    )


def _degraded(result: PhaseResult) -> bool:
    """A model failed, an open circuit or an unfittable prompt kept a configured model out, a
    fallback answered, or the output overturned a unanimous decision: anything short of the full,
    agreed orchestration."""
    failed = any(
        isinstance(o, Failure)
        and (o.status in ("error", "timeout", "late") or o.error_kind in SKIPS_THAT_DEGRADE)
        for o in result.outcomes
    )
    return failed or result.mode == "fallback" or result.review.degrades


def _timings(result: PhaseResult, total_ms: int) -> TimingsOut:
    stages = result.stopwatch.stages_ms
    return TimingsOut(
        fanout_ms=round(stages.get("fanout", 0.0)),
        synthesis_ms=round(stages.get("synthesis", 0.0)),
        fallback_ms=round(stages.get("fallback", 0.0) + stages.get("single", 0.0)),
        total_ms=total_ms,
        overhead_ms=round(result.stopwatch.overhead_ms()),
    )


def _usage(outcome: Outcome) -> Usage:
    return outcome.completion.usage if isinstance(outcome, Success) else outcome.usage
