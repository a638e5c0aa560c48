"""One orchestrate request's answer: the phase run behind the Idempotency-Key and the cache.

Shared by the synchronous route, the in-process run engine and the queued workers, so every way
of asking answers with the same status and bytes.
"""

from __future__ import annotations

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
from app.errors import OrchestrationError, OrchestratorError
from app.phases.catalog import Phase
from app.results import PhaseRequest
from app.store.replay import Finished

MIN_RUN_S = 0.1
"""The least a run gets after waiting on another (the wait stops at the deadline, so rarely less)."""
Answer = Callable[[], Coroutine[Any, Any, tuple[Finished, dict[str, str]]]]


def phase_answer(
    request: Request, services: Services, name: str, body: OrchestrateRequest, request_id: str
) -> Answer:
    """The request's answer, not started yet: the status, body and headers it will send."""
    phase = services.catalog.get(name)
    metrics = services.metrics
    mode = "replayed"  # unless this request runs the phase itself

    async def run(*, for_cache: bool = False, waited_s: float = 0.0) -> Finished:
        nonlocal mode
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
