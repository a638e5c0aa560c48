"""Turns pipeline results and outcomes into the public response bodies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from app.api.schemas import (
    ModelName,
    ModelOutputOut,
    ModelRecord,
    OrchestrateResponse,
    TimingsOut,
    UpstreamOrchestration,
    UsageOut,
    VotesOut,
    WildIdeaOut,
)
from app.domain import SKIPS_THAT_DEGRADE, Failure, Outcome, Success, Usage
from app.pipeline import PhaseResult
from app.synthesis.agreement import build_report
from app.synthesis.overrule import Overrule, overrules


def record(outcome: Outcome, *, label: str | None = None, include_raw: bool = False) -> ModelRecord:
    """One model's record; raw text only on request."""
    ref = outcome.model
    if isinstance(outcome, Success):
        usage = outcome.completion.usage
        return ModelRecord(
            model=ref.alias,
            model_id=ref.model_id,
            provider=ref.provider,
            role=outcome.role,
            status="ok",
            latency_ms=round(outcome.latency_ms),
            tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens,
            tokens_estimated=usage.estimated,
            cost_usd=round(outcome.cost_usd, 8),
            answer_label=label,
            output_errors=list(outcome.output_errors),
            raw=outcome.completion.text if include_raw else None,
            attempts=outcome.attempts,
        )
    return ModelRecord(
        model=ref.alias,
        model_id=ref.model_id,
        provider=ref.provider,
        role=outcome.role,
        status=outcome.status,
        latency_ms=round(outcome.latency_ms),
        tokens_in=outcome.usage.input_tokens,
        tokens_out=outcome.usage.output_tokens,
        tokens_estimated=outcome.usage.estimated,
        cost_usd=round(outcome.cost_usd, 8),
        error=outcome.error,
        error_kind=outcome.error_kind,
        attempts=outcome.attempts,
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


def response(
    result: PhaseResult,
    *,
    request_id: str,
    include_raw: bool,
    roster: Literal["cloud", "local"],
    schema: Mapping[str, Any],
) -> OrchestrateResponse:
    """The body of a successful orchestrate call."""
    usage = sum((_usage(o) for o in result.outcomes), Usage())
    cost = sum(o.cost_usd for o in result.outcomes)
    stages = result.stopwatch.stages_ms
    total_ms = round(result.stopwatch.total_ms())
    synth, author = result.synthesizer, result.author
    agreement = build_report(schema, result.answers, result.output) if result.answers else None
    contradicted = overrules(agreement, result.tally, result.output)
    chooser = "the judge" if result.mode == "orchestrated" else "the fallback answer"
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
        agreement=agreement,
        rankings=result.rankings,
        route=result.route,
        budget=result.budget,
        degraded=_degraded(result, contradicted),
        warnings=result.warnings + [o.warning(chooser) for o in contradicted],
        output=result.output,
        synthesizer=ModelName(model=synth.alias, model_id=synth.model_id, provider=synth.provider)
        if synth
        else None,
        models=records(result.outcomes, result.labels, include_raw=include_raw),
        wild_ideas=wild,
        votes=VotesOut(
            field=result.tally.field,
            choices=result.tally.choices,
            weighted=result.tally.weighted,
            leader=result.tally.leader,
        )
        if result.tally
        else None,
        usage=UsageOut(
            tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens,
            cost_usd=round(cost, 8),
            estimated=usage.estimated,
        ),
        timings=TimingsOut(
            fanout_ms=round(stages.get("fanout", 0.0)),
            synthesis_ms=round(stages.get("synthesis", 0.0)),
            fallback_ms=round(stages.get("fallback", 0.0) + stages.get("single", 0.0)),
            total_ms=total_ms,
            overhead_ms=round(result.stopwatch.overhead_ms()),
        ),
        orchestration=UpstreamOrchestration(
            modelOutputs=[_model_output(o) for o in result.outcomes if o.role == "parallel"],
            wildIdeas=[w.model_copy(update={"model": model_id.get(w.model, w.model)}) for w in wild],
            synthesizerModel=author.model_id if author else None,
            totalDurationMs=total_ms,
            finalText=result.final_text,
        ),
    )


def _degraded(result: PhaseResult, contradicted: Sequence[Overrule]) -> bool:
    """A model failed, an open circuit or an unfittable prompt kept a configured model out, a
    fallback answered, or the output overturned a unanimous decision: anything short of the full,
    agreed orchestration."""
    failed = any(
        isinstance(o, Failure)
        and (o.status in ("error", "timeout", "late") or o.error_kind in SKIPS_THAT_DEGRADE)
        for o in result.outcomes
    )
    return failed or result.mode == "fallback" or any(o.degrades for o in contradicted)


def _usage(outcome: Outcome) -> Usage:
    return outcome.completion.usage if isinstance(outcome, Success) else outcome.usage


def _model_output(outcome: Outcome) -> ModelOutputOut:
    usage = _usage(outcome)
    if isinstance(outcome, Success):
        return ModelOutputOut(
            model=outcome.model.model_id,
            text=outcome.completion.text,
            durationMs=round(outcome.latency_ms),
            tokensUsed=usage.input_tokens + usage.output_tokens,
        )
    return ModelOutputOut(
        model=outcome.model.model_id,
        text="",
        durationMs=round(outcome.latency_ms),
        tokensUsed=usage.input_tokens + usage.output_tokens,
        error=outcome.error,
    )
