"""All configuration, read once from the environment (and ``.env``) in ``create_app``.

Each provider has its own sub-model with its own environment prefix, so the variable names are the
ones operators already know (``ANTHROPIC_API_KEY``). Keys are ``SecretStr`` end to end.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        extra="ignore",
        frozen=True,
        case_sensitive=False,
        env_ignore_empty=True,  # `KEY=` in .env means unset, not an empty credential
    )


class WorkersAISettings(BaseSettings):
    """Cloudflare Workers AI, native ``/ai/run`` API (directly or through AI Gateway)."""

    model_config = _config("WORKERS_AI_")

    account_id: str | None = None
    api_token: SecretStr | None = None
    base_url: str = "https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/run"
    """``{account_id}`` is filled in; the model id is appended. For AI Gateway use
    ``https://gateway.ai.cloudflare.com/v1/{account_id}/<gateway>/workers-ai``."""
    gateway_token: SecretStr | None = None
    """Sent as ``cf-aig-authorization`` when the AI Gateway is authenticated."""


class AnthropicSettings(BaseSettings):
    """Anthropic Messages API."""

    model_config = _config("ANTHROPIC_")

    api_key: SecretStr | None = None
    base_url: str = "https://api.anthropic.com"
    """For Cloudflare AI Gateway: ``https://gateway.ai.cloudflare.com/v1/<account>/<gateway>/anthropic``."""
    version: str = "2023-06-01"
    gateway_token: SecretStr | None = None
    """Sent as ``cf-aig-authorization`` when the AI Gateway is authenticated. With the Anthropic key
    stored in the gateway (BYOK), it is the only credential needed: ``api_key`` may stay unset."""


class MiniMaxSettings(BaseSettings):
    """MiniMax chat completion (OpenAI-compatible path, international host by default)."""

    model_config = _config("MINIMAX_")

    api_key: SecretStr | None = None
    base_url: str = "https://api.minimax.io/v1"
    """Keys are region-bound: mainland-China keys need the China host."""


class OpenAICompatSettings(BaseSettings):
    """Any OpenAI-compatible chat-completions server: OpenAI, DeepSeek, vLLM, llama.cpp, Ollama."""

    model_config = _config("OPENAI_COMPAT_")

    base_url: str | None = None
    """Including the ``/v1`` part, e.g. ``http://127.0.0.1:8080/v1``. Unset: provider unavailable."""
    api_key: SecretStr | None = None
    """Optional: local servers need none."""
    model: str = "gpt-4.1-mini"
    """The model id sent for catalog entries that name none."""
    max_tokens_field: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto"
    """The name the output budget is sent under. ``auto``: ``max_completion_tokens`` for OpenAI's
    reasoning models (ids of the o-series and GPT-5 families), which reject ``max_tokens``;
    ``max_tokens`` otherwise, the one name every OpenAI-compatible server knows. Set it when model ids
    do not show the family (Azure deployment names)."""
    context_window: int | None = Field(default=None, ge=1024)
    """Tokens the served model reads and writes per call; unset: unknown, prompts are not fitted."""


class LocalModelSettings(BaseSettings):
    """The embedded local model: an OpenAI-compatible llama.cpp server, used when no cloud key is set."""

    model_config = _config("LOCAL_MODEL_")

    enabled: bool = True
    """Use the local roster when no cloud provider is configured. ``false``: such a service answers 503."""
    url: str = "http://127.0.0.1:8080/v1"
    """Where the local server's OpenAI-compatible API lives (``/v1`` included)."""
    autostart: bool = True
    """``python -m app`` starts the bundled server when the local roster is in use and ``url`` is a
    loopback address nobody answers on. Off in docker-compose, where it is its own service."""
    model: str = "gemma-3-270m"
    """The model id sent; llama.cpp serves one model and accepts any id."""
    members: int = Field(default=2, ge=1, le=6)
    """Parallel members per phase: the same weights with other temperatures, seeds and perspectives.
    Two by default: under strategy ballot they and the writer make three votes (no tie), and each
    ballot, after the writer, adds about 0.3 s on two idle cores (BENCHMARKS.md)."""
    max_tokens: int = Field(default=640, ge=64, le=8192)
    """Per parallel answer; keeps a phase on 2 CPU cores well under two minutes."""
    synthesis_max_tokens: int = Field(default=900, ge=64, le=8192)
    timeout_s: float = Field(default=100.0, gt=0, le=1800)
    """Per model call."""
    deadline_s: float = Field(default=170.0, gt=0, le=3600)
    """Per phase, fallbacks included."""

    context_per_slot: int = Field(default=8192, ge=512, le=131072)
    """The server's context per slot: the window the local models' prompts are fitted into. The
    server reads the same variable (local_model/settings.py has its own knobs: GGUF, slots, threads)."""
    slots: int = Field(default=4, ge=1, le=32)
    """Requests the server decodes at once; the server reads the same variable. The admission
    estimate plans the phase's calls onto this many slots."""
    pace_ttl_s: float = Field(default=90.0, gt=0)
    """How long a decode speed learned from the server's answers counts: a 503 estimate made on a
    busy machine stops applying after this, and the next request runs and measures again."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    """How long ``python -m app`` waits for the server it started to load before serving anyway."""


class CallBudget(BaseModel):
    """An account's allowance for one provider or model: calls in flight and calls per minute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int | None = Field(default=None, ge=1)
    """Calls in flight at once; unset: unbounded."""
    per_minute: int | None = Field(default=None, ge=1)
    """Calls started in any 60 s window; unset: unbounded."""


class Settings(BaseSettings):
    """Service-wide settings; provider settings live in their own sub-models."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, case_sensitive=False, env_ignore_empty=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    api_keys: SecretStr | None = None
    """Caller keys, comma-separated, sent as ``Authorization: Bearer <key>``. Several at once make
    rotation safe: add the new key, move callers, drop the old. Unset: the service is open."""
    docs_require_key: bool = False
    """Whether /docs, its assets and /openapi.json need a caller key (they reveal no secrets)."""
    metrics_require_key: bool = True
    """Whether /metrics needs a caller key (it shows traffic and spend)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_idea_chars: int = Field(default=20_000, ge=1)
    max_context_bytes: int = Field(default=262_144, ge=0)
    """The request's ``context`` (earlier phases' outputs), measured as compact JSON."""
    max_models_per_request: int = Field(default=8, ge=1)
    """How many models ``options.models`` may name."""
    rate_limit: str = "120/minute"
    """Per caller (key, or client address when open), in the ``limits`` syntax: ``10/second``,
    ``120/minute``, ``1000/hour``. ``off``: no limit."""
    forwarded_allow_ips: str = ""
    """The proxies trusted to say who the caller is in ``X-Forwarded-For`` (comma-separated
    addresses or networks, ``*`` for any): the name uvicorn uses. Unset: the header is ignored from
    every peer, loopback included, so it cannot mint fresh rate-limit allowances."""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        """A typo must stop start-up: uvicorn would quietly compare it as a literal and never match."""
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(
                        f"FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or network"
                    ) from None
        return ",".join(entries)

    orchestration_enabled: bool = True
    """``false`` runs every phase on its single model, as upstream's ORCHESTRATION_ENABLED."""
    phases_config_file: Path | None = None
    """A TOML or JSON file whose ``models`` and ``phases`` tables replace or extend the defaults."""

    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=200, ge=1)
    http_backend: Literal["aiohttp", "httpx"] = "aiohttp"
    """What carries the adapters' httpx requests: aiohttp's connection pool (default; it costs a
    fraction of httpcore's CPU under concurrency, see BENCHMARKS.md) or httpx's own (httpcore)."""

    retry_max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts per model call (1 = no retries) on timeouts, connection errors, 408/409/429/5xx/529."""
    retry_base_s: float = Field(default=0.5, gt=0, le=60)
    """First backoff; doubled per attempt with jitter, capped by ``retry_max_backoff_s``."""
    retry_max_backoff_s: float = Field(default=8.0, gt=0, le=300)
    retry_after_cap_s: float = Field(default=30.0, ge=0, le=600)
    """Longest ``Retry-After`` obeyed; a longer one fails the call at once (the phase moves on)."""
    breaker_failure_threshold: int = Field(default=5, ge=1)
    """Consecutive failures of one provider/model that open its circuit."""
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    """How long an open circuit skips the model before one probe call is let through."""
    breaker_unavailable_cooldown_s: float = Field(default=3600.0, gt=0)
    """How long a model its provider says it does not serve (retired, unknown id) is skipped: the
    circuit opens on the first such answer, since retrying cannot help."""
    provider_concurrency: dict[str, int] = Field(default_factory=dict)
    """Per-provider limit on calls in flight, as JSON: ``{"workers_ai": 8, "anthropic": 4}``."""
    default_provider_concurrency: int = Field(default=16, ge=1)
    provider_limits: dict[str, CallBudget] = Field(default_factory=dict)
    """The account's budget per provider, as JSON: ``{"anthropic": {"concurrency": 4, "per_minute":
    50}}``. Shared by every replica and worker when REDIS_URL is set; per process otherwise."""
    model_limits: dict[str, CallBudget] = Field(default_factory=dict)
    """The account's budget per model, keyed ``provider/model_id`` (``provider/*``: each of its
    models), as JSON. Added to the documented defaults (``workers_ai/*``: 300 per minute); ``{}``
    as a value turns one off. Shared like PROVIDER_LIMITS."""

    @field_validator("model_limits")
    @classmethod
    def _model_keys(cls, value: dict[str, CallBudget]) -> dict[str, CallBudget]:
        """A key without its provider would never match a model: say so at start-up."""
        for key in value:
            provider, _, model_id = key.partition("/")
            if not provider or not model_id:
                raise ValueError(
                    f"MODEL_LIMITS: key {key!r} must be 'provider/model_id' (or 'provider/*'), e.g. "
                    "'workers_ai/@cf/meta/llama-4-scout-17b-16e-instruct'"
                )
        return value

    store_backend: Literal["auto", "sqlite", "redis", "none"] = "auto"
    """auto: Redis when REDIS_URL is set, else the SQLite file. none: no idempotency, no cache."""
    store_path: Path = Path(".data/orchestrator.sqlite3")
    """The embedded store's SQLite file (created on first use)."""
    store_max_bytes: int = Field(default=256 * 2**20, gt=0)
    """The SQLite store's cap (keys and bodies): over it, expired then oldest entries are evicted.
    With Redis the total is the server's ``maxmemory``; this cap is not used there."""
    store_max_entry_bytes: int = Field(default=2**20, gt=0)
    """The largest answer kept (either backend); a larger one is sent but not stored (a warning
    names this setting), so it gets no replay or cache hit."""
    redis_url: SecretStr | None = None
    """``redis://[:password@]host:6379/0``: results, idempotency records and locks shared by replicas."""
    redis_timeout_s: float = Field(default=0.5, gt=0, le=30)
    """How long one round trip to Redis may take for the store, the shared Retry-After pauses and
    provider budgets, and the per-caller allowance. Past it the call goes on without Redis (each
    replica alone for a few seconds) rather than waiting on it longer than on a model."""
    cache_ttl_s: float = Field(default=3600.0, ge=0)
    """How long a result is kept for identical requests (phase, body, effective config) that ask
    for a cached answer (``Cache-Control: max-age=N``, or CACHE_DEFAULT=on). 0 turns the cache off."""
    cache_default: bool = False
    """on: a request without Cache-Control is answered from the cache too (the pre-opt-in
    behaviour). off (default): only ``max-age`` asks for it; every other request runs."""
    idempotency_ttl_s: float = Field(default=86400.0, gt=0)
    """How long a result stays replayable under its Idempotency-Key (and a run's, at /runs/{id})."""
    max_live_runs: int = Field(default=64, gt=0)
    """Runs (``Prefer: respond-async``) live at once in one process; one more answers 503."""
    run_workers_in_process: bool = True
    """With REDIS_URL: this process also executes queued runs (off: an API replica that only
    enqueues, with ``python -m app.worker`` processes doing the work). Without Redis runs are
    always in-process."""
    run_worker_concurrency: int = Field(default=8, ge=1)
    """Runs one worker (the API process's or ``python -m app.worker``) executes at once."""
    run_lease_s: int = Field(default=10, ge=2)
    """A worker's lease on a run: it renews it every third of this; a run whose worker stopped
    renewing (killed, frozen) is taken over by another worker this long after (plus a sweep)."""
    run_attempts: int = Field(default=3, ge=1)
    """How many workers may take one run in turn (the first and each take-over after a crash)."""

    workers_ai: WorkersAISettings = Field(default_factory=WorkersAISettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    minimax: MiniMaxSettings = Field(default_factory=MiniMaxSettings)
    openai_compat: OpenAICompatSettings = Field(default_factory=OpenAICompatSettings)
    local_model: LocalModelSettings = Field(default_factory=LocalModelSettings)
