"""One orchestrate request's answer: the phase run behind the Idempotency-Key and the cache.

Shared by the synchronous route, the in-process run engine and the queued workers, so every way
of asking answers with the same status and bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from fastapi import Request

from app.api.deps import Services
from app.api.errors import service_error_response
from app.api.intake import phase_request
from app.api.present import response
from app.api.remember import remembered
from app.api.schemas import OrchestrateRequest
from app.errors import InvalidOptions, OrchestrationError, OrchestratorError, PayloadTooLarge
from app.phases.catalog import Phase
from app.results import PhaseRequest
from app.settings import Settings
from app.store.replay import Finished

MIN_RUN_S = 0.1
"""The least a run gets after waiting on another (the wait stops at the deadline, so rarely less)."""

Answer = Callable[[], Coroutine[Any, Any, tuple[Finished, dict[str, str]]]]
"""The phase endpoint's body (or error body) and the headers saying where it came from."""


def phase_answer(
    request: Request, services: Services, request_id: str, phase: Phase, body: OrchestrateRequest
) -> Answer:
    """The run of ``phase`` for ``body``: remembered, measured, rendered as the phase endpoint's JSON."""
    name, metrics = phase.name, services.metrics
    mode = "replayed"  # unless this request runs the phase itself

    async def run(*, for_cache: bool = False, waited_s: float = 0.0) -> Finished:
        nonlocal mode
        # At the local model's current pace: a 503 with Retry-After now, not a 504 minutes from
        # now. Checked here, not at the door, so a stored answer is still replayed when busy.
        services.orchestrator.admit(phase, _what_is_left(phase, body, waited_s))
        try:
            await services.require_local_model()
            result = await services.orchestrator.orchestrate(phase, _what_is_left(phase, body, waited_s))
        except OrchestratorError as exc:
            mode = "failed"
            if isinstance(exc, OrchestrationError):
                metrics.outcomes(exc.outcomes)
            failed = service_error_response(request, exc)
            return Finished(failed.status_code, bytes(failed.body))
        mode = result.mode
        metrics.outcomes(result.outcomes)
        answer = response(
            result, request_id=request_id, include_raw=body.options.include_raw, roster=services.roster_name
        )
        if waited_s:
            waited = answer.timings.model_copy(update={"waited_ms": round(waited_s * 1000)})
            answer = answer.model_copy(update={"timings": waited})
        # A cache hit sends its stored bytes as they are, so they are rendered as a hit, now.
        hit = answer.model_copy(update={"cached": True}).model_dump_json().encode() if for_cache else None
        return Finished(200, answer.model_dump_json().encode(), keep=not answer.degraded, replay=hit)

    async def answer() -> tuple[Finished, dict[str, str]]:
        try:
            finished, headers = await remembered(request, services, name, body, run)
        except OrchestratorError as exc:
            metrics.request(name, "rejected", exc.status_code)
            raise
        metrics.request(name, mode, finished.status)
        metrics.store_lookup(headers)
        return finished, headers

    return answer


def _what_is_left(phase: Phase, body: OrchestrateRequest, waited_s: float) -> PhaseRequest:
    """The body for the pipeline; after waiting on another run, with what is left of its deadline."""
    asked = phase_request(body)
    if not waited_s:
        return asked
    deadline_s = body.options.deadline_s or phase.config.deadline_s
    return replace(asked, deadline_s=max(deadline_s - waited_s, MIN_RUN_S))


def admit(services: Services, phase: Phase, body: OrchestrateRequest) -> None:
    """At the local model's current pace: a 503 with Retry-After before a run is even accepted."""
    services.orchestrator.admit(phase, phase_request(body))


def within_limits(body: OrchestrateRequest, settings: Settings) -> None:
    """The request-size settings, each named in its error."""
    if len(body.idea) > settings.max_idea_chars:
        raise PayloadTooLarge(
            f"idea is {len(body.idea)} characters; MAX_IDEA_CHARS is {settings.max_idea_chars}",
            hint="summarise the idea; put supporting material in context",
            details={"field": "idea", "limit": settings.max_idea_chars},
        )
    size = len(json.dumps(body.context, separators=(",", ":"), ensure_ascii=False).encode())
    if size > settings.max_context_bytes:
        raise PayloadTooLarge(
            f"context is {size} bytes as JSON; MAX_CONTEXT_BYTES is {settings.max_context_bytes}",
            hint="send only the earlier phases this phase reads, or raise MAX_CONTEXT_BYTES",
            details={"field": "context", "limit": settings.max_context_bytes},
        )
    models = body.options.models or []
    if len(models) > settings.max_models_per_request:
        raise InvalidOptions(
            f"options.models names {len(models)} models; MAX_MODELS_PER_REQUEST is "
            f"{settings.max_models_per_request}",
            hint="name fewer models",
            details={"field": "options.models", "limit": settings.max_models_per_request},
        )
