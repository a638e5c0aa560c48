"""The public contract of POST /phases/{name}/orchestrate: its request, its answer, every error.

The read-only endpoints' bodies are in app.api.service_schemas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.strategies.names import StrategyName


class OrchestrateOptions(BaseModel):
    """Per-request choices, all optional."""

    # Strict: `true` is not a deadline and "60" is not a number; a workflow that sends either has a
    # bug worth a 422 naming the field, not a silent conversion.
    model_config = ConfigDict(extra="forbid", strict=True)

    models: list[str] | None = Field(
        default=None,
        min_length=1,
        description="A subset of the phase's parallel model aliases to ask (see GET /phases/{name}).",
    )
    single_model: bool = Field(
        default=False, description="Skip orchestration: ask the phase's single model only."
    )
    include_raw: bool = Field(
        default=False, description="Include each model's raw answer text in its record."
    )
    deadline_s: float | None = Field(
        default=None,
        ge=1,
        le=3600,
        description="This request's deadline in seconds, retries and fallbacks included: an answer "
        "or a 504 by then. Default: the phase's deadline_s.",
    )
    quorum: int | None = Field(
        default=None,
        ge=1,
        description="Synthesize as soon as this many parallel models answered; the rest get "
        "quorum_grace_s more, then are recorded as late. Default: the phase's quorum (or all).",
    )
    quorum_grace_s: float | None = Field(
        default=None, ge=0, le=600, description="How long to wait for the rest once the quorum is met."
    )
    strategy: StrategyName | None = Field(
        default=None, description="Override the phase's strategy (README: Strategies)."
    )
    samples: int | None = Field(
        default=None, ge=1, le=8, description="self_consistency / self_moa: answers per model."
    )
    layers: int | None = Field(default=None, ge=1, le=4, description="moa: proposer + refiner layers.")
    max_cost_usd: float | None = Field(
        default=None,
        gt=0,
        description="A budget for this request: the priciest optional models are dropped (and named) "
        "to keep the worst-case estimate under it. Default: the phase's max_cost_usd.",
    )


class OrchestrateRequest(BaseModel):
    """The body of POST /phases/{name}/orchestrate."""

    model_config = ConfigDict(extra="forbid")

    # No max_length here: MAX_IDEA_CHARS is the limit, checked by the route (413 naming it).
    idea: str = Field(
        min_length=1,
        description="The startup idea, in prose; at most MAX_IDEA_CHARS characters (20 000 by "
        "default), else a 413.",
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Earlier phases' outputs keyed by phase name, plus free-form extras "
        "(search results, constraints).",
    )
    instructions: str | None = Field(
        default=None, max_length=20_000, description="Extra guidance for this run."
    )
    options: OrchestrateOptions = Field(default_factory=OrchestrateOptions)

    @field_validator("idea")
    @classmethod
    def _idea_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("idea must contain text, not only whitespace")
        return value


class ModelRecord(BaseModel):
    """What one model call did."""

    model: str = Field(description="The model alias from the phase config.")
    model_id: str
    provider: str
    role: Literal[
        "parallel", "synthesizer", "repair", "single", "fallback", "wild_ideas", "ranker", "router", "refiner"
    ]
    status: Literal["ok", "error", "timeout", "skipped", "late", "cancelled"] = Field(
        description="skipped: never called (no credentials, open circuit, deadline); late: still "
        "running when the quorum's grace ended; cancelled: lost a hedged synthesis race."
    )
    attempts: int = Field(description="Upstream attempts made, retries included (0 if never called).")
    latency_ms: int
    tokens_in: int
    tokens_out: int
    tokens_estimated: bool = Field(description="True when the provider reported no usage.")
    cost_usd: float
    error: str | None = Field(default=None, description="The upstream's own error text.")
    error_kind: str | None = None
    output_errors: list[str] = Field(
        default_factory=list,
        description="Why this answer's JSON was rejected against the phase schema, if it was.",
    )
    answer_label: str | None = Field(
        default=None, description="The anonymous label ('A', 'B', …) the judge saw this answer as."
    )
    raw: str | None = Field(default=None, description="The answer text, with options.include_raw.")


class ModelName(BaseModel):
    model: str
    model_id: str
    provider: str


class WildIdeaOut(BaseModel):
    model: str
    wildIdea: str
    reasoning: str


class VotesOut(BaseModel):
    field: str
    choices: dict[str, str] = Field(description="Model alias -> the option its answer chose.")
    weighted: dict[str, float]
    leader: str | None


class UsageOut(BaseModel):
    tokens_in: int
    tokens_out: int
    cost_usd: float
    estimated: bool = Field(description="True when some usage was estimated, not reported.")


class TimingsOut(BaseModel):
    fanout_ms: int
    synthesis_ms: int
    fallback_ms: int
    total_ms: int
    overhead_ms: int = Field(description="Time the service spent outside model calls.")
    waited_ms: int = Field(
        default=0,
        description="Time this run waited, before it started, on an identical run elsewhere (a lock "
        "held by another replica, or left by a crashed one); not part of total_ms.",
    )


class ModelOutputOut(BaseModel):
    """Upstream's ``ModelResponse``, so the workflow can persist it unchanged."""

    model: str
    text: str
    durationMs: int
    tokensUsed: int
    error: str | None = None


class UpstreamOrchestration(BaseModel):
    """Upstream's ``OrchestrationResult`` shape."""

    modelOutputs: list[ModelOutputOut]
    wildIdeas: list[WildIdeaOut]
    synthesizerModel: str | None = Field(
        description="The provider id of the model whose answer became the output: the judge, or in a "
        "fallback the parallel member or single model that answered."
    )
    totalDurationMs: int
    finalText: str


# The pipeline's findings, in the public shape. Their field names (and these class names, which
# name the OpenAPI components) are the contract; app.api.findings maps the pipeline's values in.
# No docstring where the published schema has never carried a description.


class FieldAgreement(BaseModel):
    """What the answers chose for one categorical field, and what the final output kept."""

    path: str
    distribution: dict[str, int]
    """Rendered value -> how many answers chose it, most common first (ties in answer order)."""
    final: str | None
    unanimous: bool
    """Every answer that set the field chose the same value; ``False`` when no answer set it."""
    resolved: bool
    """The answers disagreed and the final output settled on a value."""


class ModelAgreement(BaseModel):
    """How closely one model's answer matches the final output on the categorical fields."""

    model: str
    compared: int
    agreed: int
    agreement: float | None
    """``agreed / compared`` to 3 places; ``None`` when nothing could be compared."""
    disagreements: list[str]
    usable: bool
    """``False`` when the model's reply held no usable JSON; such a model is counted nowhere."""


class Disagreement(BaseModel):
    """A field on which the answers split, who chose what, and which way the synthesizer went."""

    path: str
    values: dict[str, list[str]]
    """Rendered value -> the aliases that chose it, in the same order as the field's distribution."""
    final: str | None
    followed_majority: bool | None
    """Whether the final value is the single most common one; ``None`` when the lead is tied."""


class AgreementReport(BaseModel):
    fields: list[FieldAgreement]
    models: list[ModelAgreement]
    disagreements: list[Disagreement]
    overall: float | None
    """Mean agreement over the models that had anything to compare; ``None`` when none did."""


class Rankings(BaseModel):
    by_ranker: dict[str, list[str]]
    """Ranker alias -> the other models' aliases, best first (its own answer left out)."""
    scores: dict[str, float]
    """Model alias -> mean normalised Borda score (1.0 = ranked first by everyone)."""
    top: list[str]


class RouteDecision(BaseModel):
    category: str | None
    models: list[str]
    decided_by: Literal["classifier", "tags", "all"]


class BudgetCheck(BaseModel):
    max_cost_usd: float
    estimated_usd: float
    dropped: list[str]


class OrchestrateResponse(BaseModel):
    """A validated phase output and the record of how it was made."""

    request_id: str
    phase: str
    mode: Literal["orchestrated", "single", "fallback"]
    roster: Literal["cloud", "local"] = Field(
        description="cloud: the phase config's models; local: the embedded model (no cloud key is set)."
    )
    degraded: bool = Field(
        description="True when a model failed, an open circuit skipped a configured model, a fallback "
        "produced the output, or the output overturned a decision every answer agreed on."
    )
    cached: bool = Field(
        default=False,
        description="True when served from the response cache (an identical earlier request).",
    )
    warnings: list[str] = Field(description="Plain statements of what went wrong, if anything.")
    output: dict[str, Any] = Field(description="Valid against GET /phases/{name} output_schema.")
    synthesizer: ModelName | None
    models: list[ModelRecord]
    wild_ideas: list[WildIdeaOut]
    votes: VotesOut | None = None
    strategy: str = Field(description="The strategy that ran (single when one model answered).")
    agreement: AgreementReport | None = Field(
        default=None,
        description="How far the parallel answers agreed, field by field and model by model, and "
        "which disagreements the synthesizer resolved. Read it before trusting a GO.",
    )
    rankings: Rankings | None = Field(default=None, description="strategy rank: who ranked whom.")
    route: RouteDecision | None = Field(default=None, description="strategy route: the models chosen.")
    merge: dict[str, str] | None = Field(
        default=None,
        description="strategy merge or ballot (or the fallback when every judge failed): each field the "
        "answers were combined on and how (majority, median, union, the decision rule's vote); '*' names "
        "the answer the rest came from (the most central, or ballot's writer).",
    )
    budget: BudgetCheck | None = Field(
        default=None, description="With max_cost_usd: the worst-case estimate and the models dropped."
    )
    usage: UsageOut
    timings: TimingsOut
    orchestration: UpstreamOrchestration


class ErrorBody(BaseModel):
    code: str
    message: str
    hint: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    models: list[ModelRecord] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """Every error, whatever its status."""

    error: ErrorBody
