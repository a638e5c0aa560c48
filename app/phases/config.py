"""The router's data model: which models a phase asks, how, and how their answers are reconciled.

Every model here is frozen and forbids unknown fields, so a typo in the defaults or in an
operator's config file stops start-up with the field's name instead of being silently ignored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.strategies.names import StrategyName, unfit_reason

ParallelTemperature = Annotated[float, Field(ge=0.3, le=0.7)]
SynthesizerTemperature = Annotated[float, Field(ge=0.1, le=0.3)]
PositiveTokens = Annotated[int, Field(ge=16, le=200_000)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Price(_Frozen):
    """USD per million tokens; local models cost nothing."""

    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)


class ModelSpec(_Frozen):
    """A model the phases can name by alias: where it runs and what it can do."""

    provider: str
    model_id: str | None = None
    """The provider's model id; ``None`` uses the provider's configured default model."""
    price: Price = Price()
    accepts_temperature: bool = True
    """Newer Claude models answer 400 to any sampling parameter; they set this to false."""
    structured_output: bool = False
    """Whether to ask this model for schema-constrained JSON (``response_format`` and kin)."""
    tags: tuple[str, ...] = ()
    """Free-form capability labels such as ``reasoning`` or ``coding``."""
    seed: int | None = None
    """Sampling seed, where the provider honours one (llama.cpp does)."""
    perspective: str | None = None
    """An analyst's point of view, the prompt's last section, so copies of one model diverge."""
    serial: bool = False
    """Calls to this model gain nothing from running at once: it runs on one machine that shares
    its compute between them and caches prompts per slot (the bundled llama.cpp server on a
    CPU). Strategy ``ballot`` then has its ballots wait for the writer and go one at a time, so
    each reads the prompt from the server's cache and the writer decodes alone."""
    bounded_output: bool = False
    """Send the bounded schema (closed objects, capped lists) for structured output: for small
    models under grammar-constrained decoding, which otherwise wander until their token budget."""
    context_window: int | None = Field(default=None, ge=1024)
    """Tokens the model reads and writes in one call (prompt plus output), from the provider's
    documentation; ``None`` when unknown, and then the prompt is not fitted to it."""


class ModelCall(_Frozen):
    """One parallel member of a phase: a model alias and its sampling settings."""

    model: str
    temperature: ParallelTemperature = 0.5
    max_tokens: PositiveTokens = 4096


class SynthesisConfig(_Frozen):
    """How the judge reconciles the parallel answers."""

    models: tuple[str, ...] = Field(min_length=1)
    """Preferred first; the first whose provider is usable is the synthesizer, the rest backups."""
    temperature: SynthesizerTemperature = 0.2
    max_tokens: PositiveTokens = 8192
    timeout_s: Seconds = 120.0
    repair: bool = True
    """Ask the synthesizer once more, quoting the validation errors, when its JSON is invalid."""
    rules: tuple[str, ...] = ()
    """Phase-specific instructions added to the judge prompt."""
    hedge_after_s: float | None = Field(default=None, gt=0)
    """When the synthesizer has not answered after this long, ask the first usable backup the same
    question too and take the first valid result (the other is cancelled). Unset: no hedging."""
    reserve_s: Seconds | None = None
    """Time of the phase deadline kept for synthesis: the fan-out ends this long before the
    deadline, so one slow parallel model cannot starve the judge. Unset: the synthesizer's
    ``timeout_s``. Either way at most half the request's deadline."""

    def reserve_for(self, deadline_s: float) -> float:
        """Seconds of a ``deadline_s`` phase kept for synthesis (see ``reserve_s``)."""
        return min(self.reserve_s if self.reserve_s is not None else self.timeout_s, deadline_s / 2)


class DecisionRule(_Frozen):
    """A categorical field the answers vote on (kill-test's GO/PIVOT/KILL)."""

    field: str
    options: tuple[str, ...] = Field(min_length=2)
    veto: str | None = None
    """An option that weighs heavily: any model choosing it must be addressed explicitly."""
    veto_weight: float = Field(default=1.0, ge=1.0)
    """How many ordinary votes one veto vote counts as in the tally shown to the judge."""

    @model_validator(mode="after")
    def _veto_is_an_option(self) -> DecisionRule:
        if self.veto is not None and self.veto not in self.options:
            raise ValueError(f"veto {self.veto!r} is not one of the options {list(self.options)}")
        return self


class PhaseConfig(_Frozen):
    """Everything the pipeline needs to run one phase; built and cross-checked at start-up."""

    name: str
    order: int = Field(ge=1)
    summary: str
    orchestration_enabled: bool = True
    strategy: StrategyName = "synthesize"
    """How the parallel answers become one (see app/strategies/ and README "Strategies")."""
    samples: int = Field(default=3, ge=1, le=8)
    """self_consistency and self_moa: answers per model, at temperatures rising over 0.3-0.7."""
    moa_layers: int = Field(default=2, ge=1, le=4)
    """moa: proposers plus refinement layers before the aggregator."""
    rank_top: int = Field(default=3, ge=2)
    """rank: how many top-ranked answers the judge builds on."""
    route_model: str | None = None
    """route: the cheap classifier (default: the wild-ideas model)."""
    best_model: str | None = None
    """self_moa: the model to sample (default: the first usable parallel model)."""
    parallel: tuple[ModelCall, ...] = Field(min_length=1)
    synthesis: SynthesisConfig
    single_model: tuple[str, ...] = Field(min_length=1)
    """The single-model path and the last fallback, tried in order until one answers validly."""
    single_temperature: ParallelTemperature = 0.5
    single_max_tokens: PositiveTokens = 4096
    wild_ideas_model: str | None = None
    model_timeout_s: Seconds = 60.0
    deadline_s: Seconds = 240.0
    """The whole phase, fallbacks included, answers or fails with 504 within this."""
    min_successes: int = Field(default=2, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)
    """A default budget per request: the priciest optional models are dropped to stay under it."""
    quorum: int | None = Field(default=None, ge=1)
    """Synthesize as soon as this many parallel models answered (unset: wait for all of them)."""
    quorum_grace_s: float = Field(default=10.0, ge=0, le=600)
    """Once the quorum is met, how long the others still get before they are recorded as late."""
    decision: DecisionRule | None = None
    always_emit: tuple[str, ...] = ()
    """Output keys the service guarantees present and non-null (tightens the upstream schema)."""

    prompt_file: str | None = None
    """A system prompt file replacing the built-in one (relative to the config file)."""
    schema_file: str | None = None
    """A JSON Schema file replacing the built-in output schema (relative to the config file)."""

    @field_validator("wild_ideas_model", "route_model", "best_model", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        # TOML has no null, so an empty string is how a phase switches wild ideas off.
        return None if value == "" else value

    @model_validator(mode="after")
    def _coherent(self) -> PhaseConfig:
        aliases = [call.model for call in self.parallel]
        duplicates = sorted({alias for alias in aliases if aliases.count(alias) > 1})
        if duplicates:
            raise ValueError(f"parallel lists {duplicates} more than once")
        if self.min_successes > len(self.parallel):
            raise ValueError(
                f"min_successes={self.min_successes} exceeds the {len(self.parallel)} parallel models"
            )
        if self.quorum is not None and not self.min_successes <= self.quorum <= len(self.parallel):
            raise ValueError(
                f"quorum={self.quorum} must lie between min_successes={self.min_successes} "
                f"and the {len(self.parallel)} parallel models"
            )
        if (unfit := unfit_reason(self.strategy, has_decision=self.decision is not None)) is not None:
            raise ValueError(f"{unfit}: set decision, or choose another strategy")
        if self.model_timeout_s > self.deadline_s:
            raise ValueError(f"model_timeout_s={self.model_timeout_s} exceeds deadline_s={self.deadline_s}")
        return self

    def aliases(self) -> set[str]:
        """Every model alias this phase can call."""
        named = {call.model for call in self.parallel}
        named.update(self.synthesis.models, self.single_model)
        named.update(m for m in (self.wild_ideas_model, self.route_model, self.best_model) if m)
        return named
