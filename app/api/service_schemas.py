"""The public bodies of the read-only endpoints: the phases, readiness and the providers' health."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class PhaseSummary(BaseModel):
    name: str
    order: int
    summary: str
    orchestration_enabled: bool
    strategy: str
    parallel_models: list[str]
    usable_parallel_models: list[str]


class PhaseList(BaseModel):
    roster: Literal["cloud", "local"] = Field(
        description="cloud: the phase config's models; local: the embedded model (no cloud key is set)."
    )
    phases: list[PhaseSummary]


class ModelInfo(BaseModel):
    provider: str
    model_id: str
    usable: bool
    price_per_million: dict[str, float]


class PhaseDetail(BaseModel):
    name: str
    order: int
    summary: str
    orchestration_enabled: bool
    roster: Literal["cloud", "local"] = Field(
        description="cloud: the phase config's models; local: the embedded model (no cloud key is set)."
    )
    synthesizer: str | None = Field(description="The model that will judge now, given the keys set.")
    config: dict[str, Any]
    models: dict[str, ModelInfo]
    system_prompt: str
    output_schema: dict[str, Any]


class ProviderStatus(BaseModel):
    available: bool
    missing_settings: list[str]


class LocalModelStatus(BaseModel):
    url: str = Field(description="The health URL asked.")
    state: Literal["ready", "loading", "down"]
    detail: str | None = None


class StoreStatus(BaseModel):
    backend: Literal["sqlite", "redis", "none"]
    ok: bool
    detail: str | None = Field(default=None, description="Why not, when the store is unreachable.")


class UnavailableModel(BaseModel):
    """A configured model its provider said it does not serve (retired, deprecated, unknown id)."""

    model: str = Field(description="The phase-config alias.")
    model_id: str
    provider: str
    error: str = Field(description="The provider's answer that said so.")


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not_ready"] = Field(
        description="degraded: answering, but without the result store (no idempotency or cache), "
        "or with models their provider no longer serves (see unavailable_models)."
    )
    store: StoreStatus
    phases_loaded: int
    orchestration_enabled: bool
    roster: Literal["cloud", "local"] = Field(
        description="cloud: the phase config's models; local: the embedded model (no cloud key is set)."
    )
    providers: dict[str, ProviderStatus]
    local_model: LocalModelStatus | None = Field(
        default=None, description="Only with the local roster: whether its server answers."
    )
    unavailable_models: list[UnavailableModel] = Field(
        default_factory=list,
        description="Models skipped because their provider said it does not serve them; each stays "
        "here until a call to it succeeds (after BREAKER_UNAVAILABLE_COOLDOWN_S one probe is let through).",
    )
    reason: str | None = None


class CircuitOut(BaseModel):
    state: Literal["closed", "open", "half_open"]
    consecutive_failures: int
    retry_in_s: float = Field(description="Seconds until a probe call is let through (0 unless open).")
    unavailable: str | None = Field(
        default=None,
        description="Set when the provider said it does not serve this model (retired, unknown id): "
        "the circuit opened at once, for BREAKER_UNAVAILABLE_COOLDOWN_S. The provider's own words.",
    )


class ModelHealthOut(BaseModel):
    model_id: str
    aliases: list[str] = Field(description="The phase-config aliases that name this model.")
    circuit: CircuitOut
    calls: int = Field(description="Upstream attempts since start-up.")
    failures: int
    recent_errors: dict[str, int] = Field(description="Error kinds in the last five minutes, with counts.")
    last_error: str | None = None


class ProviderOut(BaseModel):
    name: str
    available: bool
    missing_settings: list[str]
    concurrency_limit: int
    in_flight: int
    models: list[ModelHealthOut]


class ProviderList(BaseModel):
    roster: Literal["cloud", "local"]
    providers: list[ProviderOut]


class RunOut(BaseModel):
    """A run started with ``Prefer: respond-async``: where to poll it and where its events stream."""

    id: str = Field(description="Unguessable; the run is visible only to the caller that started it.")
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"] = Field(
        description="Once succeeded or failed, GET /runs/{id} answers the synchronous call's status and body."
    )
    location: str = Field(description="GET it for the state, then the result; DELETE it to cancel.")
    events: str = Field(description="Server-sent progress events; resumable with Last-Event-ID.")
